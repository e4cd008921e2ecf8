"""Issue 26: the installed package runs its main job. The papermill templates (nbs/ablate.ipynb, nbs/report.ipynb) ship
as package data (vividportraits/templates/, copies kept equal to nbs/ by the first test), a wheel built from the tree
holds them, and `vividportraits demo` / `ablate` find them from that wheel's install outside the source tree.
No network: the wheel is built with the environment's setuptools (--no-build-isolation) and installed with --no-deps
into a folder put first on PYTHONPATH (torch and the rest come from this environment)."""
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
ENV.pop("VIVIDPORTRAITS_DEBUG", None)
NAMES = ("ablate", "report")


@pytest.mark.parametrize("name", NAMES)
def test_shipped_template_equals_nbs(name):
    shipped, src = ROOT/"vividportraits"/"templates"/f"{name}.ipynb", ROOT/"nbs"/f"{name}.ipynb"
    assert shipped.read_bytes() == src.read_bytes(), (
        f"{shipped} differs from {src} (the source): cp nbs/ablate.ipynb nbs/report.ipynb vividportraits/templates/")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    "A wheel built from the tree, unpacked by pip into a fresh folder; its path and the build's seconds."
    tmp = tmp_path_factory.mktemp("wheel")
    t = time.perf_counter()
    r = subprocess.run([PY, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w",
                        str(tmp/"dist"), str(ROOT)], capture_output=True, text=True, env=ENV, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    whl, = (tmp/"dist").glob("vividportraits-*.whl")
    build_s = time.perf_counter() - t
    r = subprocess.run([PY, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(tmp/"site"), str(whl)],
                       capture_output=True, text=True, env=ENV, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    print(f"\nwheel {whl.name}: {whl.stat().st_size / 2**20:.1f} MiB, built in {build_s:.1f} s")
    return whl, tmp/"site", tmp


def test_wheel_holds_templates(installed):
    whl, _, _ = installed
    with zipfile.ZipFile(whl) as z:
        for n in NAMES:
            data = z.read(f"vividportraits/templates/{n}.ipynb")
            assert data == (ROOT/"nbs"/f"{n}.ipynb").read_bytes(), n


def run_outside(site, cwd, code):
    "Python with the wheel's install first on the path, in a folder outside the source tree."
    r = subprocess.run([PY, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=300,
                       env={**ENV, "PYTHONPATH": str(site)})
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_installed_package_finds_templates(installed):
    "From the wheel's install: the lookup answers its own copies, and demo's and ablate's checks pass (they failed before)."
    _, site, tmp = installed
    cwd = tmp/"elsewhere"; cwd.mkdir()
    res = run_outside(site, cwd, f"""
import json, vividportraits
from vividportraits.cli import template_path, _check_demo, _check_ablate
print(json.dumps({{"pkg": vividportraits.__file__, "ablate": str(template_path("ablate")),
                  "report": str(template_path("report")),
                  "demo_check": [str(p) for p in _check_demo({str(cwd/'demo')!r}, "smoke", 0, None)],
                  "ablate_check": [str(p) for p in _check_ablate("paper", "smoke", 1, {str(cwd/'grid')!r}, 1, "process",
                                                                  None, None, None, ["baseline"], "synth", False)]}}))
""")
    assert Path(res["pkg"]).is_relative_to(site), res
    for n in NAMES:
        assert Path(res[n]) == site/"vividportraits"/"templates"/f"{n}.ipynb", res
    assert not (cwd/"demo").exists() and not (cwd/"grid").exists()   # a check creates nothing
    print(f"\n{res}")


def test_missing_template_is_one_clear_line(installed):
    "A package without its templates: demo exits 2 naming --template, no folder made, and no --executor (demo has none)."
    _, site, tmp = installed
    for n in NAMES: (site/"vividportraits"/"templates"/f"{n}.ipynb").unlink()
    try:
        cwd = tmp/"elsewhere2"; cwd.mkdir()
        r = subprocess.run([PY, "-m", "vividportraits.cli", "demo", "--out", str(cwd/"demo")], capture_output=True,
                           text=True, cwd=cwd, timeout=300, env={**ENV, "PYTHONPATH": str(site)})
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        assert r.returncode == 2 and len(lines) == 1, (r.returncode, r.stderr[-2000:])
        assert lines[0].startswith("vividportraits demo: error: --template: "), lines
        assert "--executor" not in lines[0], lines
        assert not (cwd/"demo").exists()
        print(f"\n{lines[0]}")
    finally:
        for n in NAMES:
            (site/"vividportraits"/"templates"/f"{n}.ipynb").write_bytes((ROOT/"nbs"/f"{n}.ipynb").read_bytes())


def test_demo_from_wheel(installed):
    "`vividportraits demo` from the wheel's install, outside the source tree: the smoke run through the shipped template (about a minute)."
    _, site, tmp = installed
    cwd = tmp/"elsewhere3"; cwd.mkdir()
    t = time.perf_counter()
    r = subprocess.run([PY, "-m", "vividportraits.cli", "demo", "--out", "demo"], capture_output=True, text=True, cwd=cwd,
                       timeout=900, env={**ENV, "PYTHONPATH": str(site)})
    assert r.returncode == 0, (r.returncode, r.stderr[-3000:])
    assert r.stdout.startswith(f"running {site/'vividportraits'/'templates'/'ablate.ipynb'} "), r.stdout[:500]
    res = json.loads((cwd/"demo"/"results.json").read_text())
    assert (cwd/"demo"/"ablate.ipynb").exists() and res, res
    print(f"\ndemo from the wheel: {time.perf_counter() - t:.0f} s")
