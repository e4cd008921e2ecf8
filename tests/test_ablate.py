"""The brief's papermill command works as written (smoke preset), bad parameters stop the notebook in its first cells
with a message naming the parameter, and the report notebook regenerates from results.json files."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PAPERMILL = str(BIN/"papermill")


def _papermill(args, cwd, timeout=600):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([PAPERMILL, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def test_invalid_scale_range_stops_early(tmp_path):
    r = _papermill([str(ROOT/"nbs"/"ablate.ipynb"), str(tmp_path/"bad.ipynb"), "-p", "scale_range", "[1.4,0.6]",
                    "-p", "run_dir", str(tmp_path/"run")], cwd=tmp_path, timeout=300)
    assert r.returncode != 0
    assert "scale_range: expected finite 0 < low <= high" in r.stderr + r.stdout
    nb = json.loads((tmp_path/"bad.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    failed = [i for i, c in enumerate(code) if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert failed and failed[0] <= 2, f"error should come in the first cells, came in code cell {failed}"
    assert not (tmp_path/"run"/"results.json").exists()


@pytest.mark.timeout(900)
def test_brief_command_smoke(tmp_path):
    """`papermill nbs/ablate.ipynb out.ipynb -p scale_range "[0.9,1.1]"` from the repository root, as the brief writes it
    (run_dir redirected into a temporary folder so the test leaves nothing behind)."""
    out = tmp_path/"out.ipynb"; run_dir = tmp_path/"run"
    r = _papermill(["nbs/ablate.ipynb", str(out), "-p", "scale_range", "[0.9,1.1]", "-p", "run_dir", str(run_dir)],
                   cwd=ROOT, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((run_dir/"results.json").read_text())
    assert res["params"]["scale_range"] == [0.9, 1.1] and res["params"]["preset"] == "smoke"
    assert res["variant"] == "scale=[0.9,1.1]"
    for key in ("self.psnr", "self.ssim", "self.lpips", "self.id_sim", "self.expr_sim",
                "cross.psnr", "cross.ssim", "cross.lpips", "cross.id_sim", "cross.expr_sim"):
        assert isinstance(res["metrics"].get(key), float), key
    assert 0 < res["metrics"]["self.ssim"] <= 1 and res["metrics"]["self.psnr"] > 0
    assert res["timings"]["total"] > 0 and res["git_sha"] is not None
    assert (run_dir/"sample.mp4").exists()
    # the report regenerates from these results
    rep = _papermill([str(ROOT/"nbs"/"report.ipynb"), str(tmp_path/"report.ipynb"), "-p", "results_dir", str(tmp_path)],
                     cwd=tmp_path, timeout=300)
    assert rep.returncode == 0, rep.stderr[-3000:]
    assert "scale=[0.9,1.1]" in (tmp_path/"table.md").read_text()


def test_committed_results_regenerate(tmp_path):
    """Committed reference results parse, and the report notebook regenerates their table exactly."""
    import shutil
    roots = sorted({p.parent.parent.parent for p in (ROOT/"results").glob("*/*/seed*/results.json")})
    if not roots: pytest.skip("no reference results committed yet")
    for root in roots:
        for p in root.rglob("results.json"):
            if "_checkpoints" in p.parts: continue
            r = json.loads(p.read_text())
            assert {"params", "metrics", "timings", "versions", "git_sha", "hardware", "variant"} <= set(r), p
        copy = tmp_path/root.name
        shutil.copytree(root, copy, ignore=shutil.ignore_patterns("_checkpoints", "ablate.ipynb", "*.mp4", "*.png"))
        (copy/"table.md").unlink(missing_ok=True)
        rep = _papermill([str(ROOT/"nbs"/"report.ipynb"), str(tmp_path/"report.ipynb"), "-p", "results_dir", str(copy)],
                         cwd=tmp_path, timeout=300)
        assert rep.returncode == 0, rep.stderr[-3000:]
        assert (root/"table.md").exists(), \
            f"{root.name}: no table.md committed: papermill nbs/report.ipynb results/{root.name}/report.ipynb -p results_dir . --cwd results/{root.name}"
        assert (copy/"table.md").read_text() == (root/"table.md").read_text()
