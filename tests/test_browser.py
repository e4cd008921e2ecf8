"""A real-browser test: JupyterLab on 127.0.0.1 driven by Playwright with Debian's Chromium (never a browser
download). For each widget notebook: open it, Run All from the Run menu, wait for the kernel, then check that no cell
has an error output, that a figure (<img>) rendered, and that dragging an ipywidgets slider changes the widget's image.

Everything Jupyter writes (runtime, config, settings, workspaces, IPython) goes to a temporary folder, and the
notebooks are copies: nothing touches the user's home or the repository. Skipped only when /usr/bin/chromium or the
`playwright` package is missing (`.ci/run` installs Chromium; `playwright` is in the `dev` extra)."""
import json, os, shutil, socket, subprocess, sys, time, urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# notebook -> the label of the slider to drag
CASES = {"02_synth": "jaw_open", "06_scaling": "s_x"}

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed (dev extra)")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


def _settings(d: Path):
    "JupyterLab user settings: no autosave, every cell kept in the DOM, no news fetching."
    for plugin, val in {"@jupyterlab/docmanager-extension/plugin": {"autosave": False},
                        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
                        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false"}}.items():
        p = d/(plugin + ".jupyterlab-settings"); p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(val))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lab")
    work = tmp/"nbs"; work.mkdir()
    for name in CASES: shutil.copy(ROOT/"nbs"/f"{name}.ipynb", work)
    _settings(tmp/"settings")
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp/"runtime"), JUPYTER_CONFIG_DIR=str(tmp/"config"),
               JUPYTER_DATA_DIR=str(tmp/"data"), JUPYTERLAB_SETTINGS_DIR=str(tmp/"settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp/"workspaces"), IPYTHONDIR=str(tmp/"ipython"),
               MPLCONFIGDIR=str(tmp/"mpl"), PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    port = _free_port()
    log = open(tmp/"lab.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
                             f"--ServerApp.port={port}", "--ServerApp.port_retries=0", "--IdentityProvider.token=",
                             "--ServerApp.password=", f"--ServerApp.root_dir={work}", "--LabApp.news_url=None",
                             "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                             "--LabApp.expose_app_in_browser=True"]
                            + (["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),  # CI runs as root
                            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            if proc.poll() is not None: break
            try:
                urllib.request.urlopen(url + "/api/status", timeout=2); break
            except OSError: time.sleep(0.5)
        if proc.poll() is not None:
            pytest.fail(f"JupyterLab did not start:\n{(tmp/'lab.log').read_text()[-3000:]}")
        yield url, tmp
    finally:
        proc.terminate()
        try: proc.wait(20)
        except subprocess.TimeoutExpired: proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


_JS_STATE = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  if (!w || !w.content || !w.content.model || !w.sessionContext) return null;
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  const cells = [];
  for (const c of w.content.model.cells) {
    if (c.type !== 'code') continue;
    cells.push({count: c.executionCount, outputs: c.outputs.toJSON()});
  }
  return {kernel: k ? k.status : null, cells};
}"""


def _errors(state):
    return [f"{o.get('ename')}: {o.get('evalue')}" for c in state["cells"] for o in c["outputs"]
            if o.get("output_type") == "error"]


@pytest.mark.parametrize("name", list(CASES))
def test_run_all_and_drag_a_slider_in_jupyterlab(lab, browser, name):
    url, tmp = lab
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    t0 = time.time()
    page.goto(f"{url}/lab/tree/{name}.ipynb?reset", wait_until="domcontentloaded")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget && "
                           "window.jupyterapp.shell.currentWidget.sessionContext && "
                           "window.jupyterapp.shell.currentWidget.sessionContext.session && "
                           "window.jupyterapp.shell.currentWidget.sessionContext.session.kernel && "
                           "window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'",
                           timeout=120_000)
    # Run All through the Run menu, as a person would
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    deadline = time.time() + 300
    while True:  # finished: every code cell has an execution count and the kernel is idle, or an error stopped it
        st = page.evaluate(_JS_STATE)
        if st and (_errors(st) or (st["kernel"] == "idle" and all(c["count"] for c in st["cells"]))): break
        assert time.time() < deadline, f"{name}: Run All did not finish in 300 s: {st and [c['count'] for c in st['cells']]}"
        time.sleep(0.5)
    run_s = time.time() - t0
    assert not _errors(st), f"{name}: cells raised: {_errors(st)}"
    imgs = page.locator(".jp-OutputArea-output img")
    assert imgs.count() > 0, f"{name}: no figure rendered"
    assert page.evaluate("() => [...document.querySelectorAll('.jp-OutputArea-output img')]"
                         ".some(i => i.complete && i.naturalWidth > 0)"), f"{name}: figures did not load"
    # the widget: the output area holding the slider labelled CASES[name]; drag that slider's handle to the right
    label = CASES[name]
    slider = page.locator(".widget-slider", has=page.locator(".widget-label", has_text=label)).first
    slider.scroll_into_view_if_needed()
    area = page.locator(".jp-OutputArea-output", has=page.locator(".widget-slider")).last
    area_imgs = area.locator("img")
    area_imgs.first.wait_for(timeout=30_000)

    def snapshot():  # the pixels of each image of the widget (not the slider, which moves by itself)
        return [area_imgs.nth(i).screenshot(animations="disabled", timeout=5_000) for i in range(area_imgs.count())]
    before = snapshot()
    page.wait_for_timeout(500)
    assert snapshot() == before, f"{name}: the widget's image changes without input; the comparison would mean nothing"
    handle = slider.locator(".noUi-handle").first
    box = handle.bounding_box()
    t1 = time.time()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down(); page.mouse.move(box["x"] + 60, box["y"] + box["height"] / 2, steps=8); page.mouse.up()
    changed = False
    while time.time() - t1 < 30:
        page.wait_for_timeout(250)
        try:
            if snapshot() != before: changed = True; break
        except sync_api.Error: pass  # an image being replaced by the redraw: look again
    assert changed, f"{name}: dragging the {label} slider did not change the widget's image"
    redraw_s = time.time() - t1
    st = page.evaluate(_JS_STATE)
    assert not _errors(st), f"{name}: the slider callback raised: {_errors(st)}"
    print(f"\n{name}: open + Run All {run_s:.1f} s, {label} slider redraw {redraw_s:.1f} s")
    page.close()
