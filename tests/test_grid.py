"""The grid runner end to end: Ctrl-C stops a running grid (exit 130, no traceback, no stray processes, status file
written) and a rerun resumes it; the Ray executor runs a two-variant smoke grid; status records of other seeds survive."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _env():
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
            "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}


def _ablate(*args, cwd, **kw):
    return subprocess.Popen([sys.executable, "-m", "vividportraits.cli", "ablate", *map(str, args)], cwd=cwd,
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _alive(pid):
    try: return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess: return False


@pytest.mark.timeout(600)
def test_sigint_stops_grid_and_rerun_resumes(tmp_path):
    # relative --out from another working directory: every file lands in tmp_path/grid, nowhere else
    args = ("--experiment", "smoke", "--out", "grid", "--variants", "baseline", "motion=rgb")
    p = _ablate(*args, cwd=tmp_path, start_new_session=True)  # its own process group, as a shell job is
    seen, t0 = set(), time.time()
    while time.time() - t0 < 240:  # wait for the first variant's worker and its papermill kernel
        assert p.poll() is None, p.communicate()
        kids = psutil.Process(p.pid).children(recursive=True)
        seen |= {k.pid for k in kids}
        if len(kids) >= 2: break
        time.sleep(0.2)
    else: pytest.fail("the first variant never started")
    time.sleep(3)  # a few seconds into the variant
    seen |= {k.pid for k in psutil.Process(p.pid).children(recursive=True)}
    t_sig = time.time()
    os.killpg(p.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    out, err = p.communicate(timeout=30)
    assert time.time() - t_sig < 10, f"took {time.time() - t_sig:.1f} s to stop"
    assert p.returncode == 130, (out[-2000:], err[-2000:])
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "rerun to resume: vividportraits ablate --experiment smoke --out grid" in lines[0], err
    assert not [q for q in seen if _alive(q)], "worker or kernel processes survived the interrupt"
    status = json.loads((tmp_path/"grid"/"grid_status.json").read_text())
    assert status["baseline/seed0"]["status"] == "interrupted" and status["baseline/seed0"]["signal"] == "SIGINT"
    assert status["motion=rgb/seed0"]["status"] == "pending"
    assert not (tmp_path/"grid"/"baseline"/"seed0"/"results.json").exists()
    # the same command again: both variants finish
    r = _ablate(*args, cwd=tmp_path)
    out, err = r.communicate(timeout=540)
    assert r.returncode == 0, (out[-2000:], err[-3000:])
    assert "0 already done, 2 to run" in out
    status = json.loads((tmp_path/"grid"/"grid_status.json").read_text())
    assert {k: v["status"] for k, v in status.items()} == {"baseline/seed0": "ok", "motion=rgb/seed0": "ok"}
    for v in ("baseline", "motion-rgb"):
        assert (tmp_path/"grid"/v/"seed0"/"results.json").exists() and (tmp_path/"grid"/v/"seed0"/"ablate.ipynb").exists()
    assert [p.relative_to(tmp_path) for p in tmp_path.rglob("grid_status.json")] == [Path("grid/grid_status.json")]


@pytest.mark.timeout(300)
def test_ray_executor_two_variant_smoke(tmp_path):
    pytest.importorskip("ray", reason="the Ray executor needs the optional extra: pip install -c constraints.txt '.[cluster]' in the clone")
    r = _ablate("--experiment", "smoke", "--out", tmp_path/"grid", "--executor", "ray", "--kind", "inprocess",
                "--workers", 2, "--variants", "baseline", "long_video=overlap", cwd=tmp_path)
    out, err = r.communicate(timeout=280)
    assert r.returncode == 0, (out[-2000:], err[-3000:])
    status = json.loads((tmp_path/"grid"/"grid_status.json").read_text())
    assert set(status) == {"baseline/seed0", "long_video=overlap/seed0"}
    assert all(v["status"] == "ok" and v["executor"] == "ray" and v["kind"] == "inprocess" for v in status.values())
    res = [json.loads(p.read_text()) for p in (tmp_path/"grid").rglob("seed0/results.json") if "_checkpoints" not in p.parts]
    assert sorted(x["variant"] for x in res) == ["baseline", "long_video=overlap"]
    assert len({x["checkpoint"] for x in res}) == 1, "variants that differ only at inference share one checkpoint"
    assert "baseline" in out and "long_video=overlap" in out  # the summary table


def test_other_seeds_keep_their_records(tmp_path):
    "A grid run with --seeds 1 after one with --seeds 2 keeps the seed-1 records and the seed-0 run's own record."
    from vividportraits.core import write_results
    from vividportraits.grid import grid_jobs, run_grid, update_status
    out = tmp_path/"grid"
    for j in grid_jobs("paper", "smoke", 2, out, kind="inprocess", variants=["baseline"]):
        write_results(j["run_dir"], j["params"], {"self.psnr": 20.0}, variant=j["variant"])
    update_status(out/"grid_status.json", {"baseline/seed0": {"status": "ok", "seconds": 600.0},
                                           "baseline/seed1": {"status": "ok", "seconds": 650.0}})
    res = run_grid(preset="smoke", seeds=1, out=out, kind="inprocess", variants=["baseline"], verbose=False)
    assert list(res) == ["baseline/seed0"]
    status = json.loads((out/"grid_status.json").read_text())
    assert status == {"baseline/seed0": {"status": "ok", "seconds": 600.0},
                      "baseline/seed1": {"status": "ok", "seconds": 650.0}}


def test_ray_missing_or_bad_executor_is_a_clear_error(tmp_path):
    from vividportraits.cli import main
    with pytest.raises(SystemExit):  # argparse rejects an unknown executor (exit 2)
        main(["ablate", "--experiment", "smoke", "--out", str(tmp_path), "--executor", "threads"])
    from vividportraits.grid import run_grid
    with pytest.raises(ValueError, match="address: only used with executor 'ray'"):
        run_grid(preset="smoke", out=tmp_path, address="auto", verbose=False)
