"""Issue 26: the README's step-by-step Quick start runs as written, on inputs the kit makes, and writes only under
runs/quickstart/ (ignored by git). The block is read from README.md and run by bash in a fresh folder whose .venv/bin
is this environment's; scaled down (fewer identities, frames and steps) unless VIVIDPORTRAITS_QUICKSTART_SCALE=full."""
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SCALE = [(r"--identities 40\b", "--identities 4"), (r"--frames 24\b", "--frames 8"),
         (r"--steps 20000 --max-minutes 10 ", "--steps 2 --max-minutes 10 --sample-every -1 --no-tensorboard "),
         (r"--side-by-side\b", "--side-by-side --steps 2")]


def quickstart_block() -> str:
    "The bash block after 'Or step by step' in the README's Quick start."
    text = ROOT.joinpath("README.md").read_text()
    qs = text[text.index("## Quick start"):]
    m = re.search(r"Or step by step.*?```bash\n(.*?)```", qs, re.S)
    assert m, "the README's Quick start has no step-by-step bash block"
    return m.group(1)


def test_quickstart_runs_as_written(tmp_path):
    block = quickstart_block()
    assert "runs/quickstart" in block and "results/" not in block, block
    if os.environ.get("VIVIDPORTRAITS_QUICKSTART_SCALE", "small") != "full":
        for pat, rep in SCALE:
            block, n = re.subn(pat, rep, block)
            assert n == 1, (pat, block)   # the README changed: update SCALE with it
    (tmp_path/".venv").symlink_to(BIN.parent)   # this environment (python finds its pyvenv.cfg through the link)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    env.pop("VIVIDPORTRAITS_DEBUG", None)
    t = time.perf_counter()
    r = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, capture_output=True, text=True, env=env,
                       timeout=1800)
    assert r.returncode == 0, (r.returncode, r.stderr[-4000:])
    q = tmp_path/"runs"/"quickstart"
    for f in ("out.mp4", "out.side_by_side.mp4", "out.json", "metrics.json", "face.png"): assert (q/f).is_file(), f
    assert sorted(p.name for p in tmp_path.iterdir()) == [".venv", "runs"], list(tmp_path.iterdir())
    assert sorted(p.name for p in (tmp_path/"runs").iterdir()) == ["quickstart"]
    r2 = subprocess.run(["git", "check-ignore", "-q", "runs/quickstart/out.mp4"], cwd=ROOT)
    assert r2.returncode == 0, "runs/quickstart/ is not ignored by git"
    print(f"\nQuick start (scaled: {os.environ.get('VIVIDPORTRAITS_QUICKSTART_SCALE', 'small')}): "
          f"{time.perf_counter() - t:.0f} s")
