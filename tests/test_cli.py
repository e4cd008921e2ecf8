"""The `vividportraits` command end to end on tiny settings: synth -> train -> animate -> evaluate, and a resumable
two-variant grid whose variants share one trained checkpoint."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
ENV = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "PYTHONUNBUFFERED": "1"}


def vp(*args, cwd=None, timeout=600):
    r = subprocess.run([str(BIN/"vividportraits"), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                       cwd=cwd, env=ENV)
    return r


def test_help_lists_every_subcommand():
    r = vp("--help")
    assert r.returncode == 0
    for cmd in ("synth", "prepare", "train", "animate", "evaluate", "ablate", "demo", "train-evaluators", "model-info"):
        assert cmd in r.stdout, cmd


def test_bad_input_is_a_clear_error(tmp_path):
    r = vp("evaluate", "--pred", tmp_path/"missing.mp4")
    assert r.returncode == 2 and "missing.mp4" in r.stderr
    r = vp("ablate", "--experiment", "smoke", "--variants", "nope", "--out", tmp_path/"g")
    assert r.returncode == 2 and "unknown ['nope']" in r.stderr


@pytest.mark.timeout(900)
def test_synth_train_animate_evaluate(tmp_path):
    data, run, out = tmp_path/"data", tmp_path/"run", tmp_path/"out.mp4"
    r = vp("synth", data, "--identities", 4, "--clips-per-identity", 1, "--frames", 8, "--size", 64,
           "--test-fraction", 0.5)
    assert r.returncode == 0, r.stderr[-2000:]
    man = json.loads((data/"manifest.json").read_text())
    assert man["format"] == "vividportraits-dataset" and len(man["clips"]) >= 4
    r = vp("train", "--model", "tiny", "--data", data, "--out", run, "--steps", 3, "--batch-size", 2,
           "--ckpt-every", 2, "--sample-every", -1, "--scale-range", 0.9, 1.1, "--no-fgbg", "--no-progress")
    assert r.returncode == 0, r.stderr[-2000:]
    cfg = json.loads((run/"train_config.json").read_text())
    assert cfg["scale_range"] == [0.9, 1.1] and cfg["fgbg"] is False and cfg["steps"] == 3
    test_clip = next(c for c in man["clips"] if c["split"] == "test")
    import imageio.v2 as iio, numpy as np
    with np.load(data/test_clip["file"]) as z: iio.imwrite(tmp_path/"face.png", z["rgb"][0])
    r = vp("animate", "--checkpoint", run, "--source", tmp_path/"face.png", "--driver", data/test_clip["file"],
           "--out", out, "--parser", "synth", "--segmenter", "synth", "--steps", 2, "--window", 4, "--overlap", 1,
           "--side-by-side")
    assert r.returncode == 0, r.stderr[-2000:]
    assert out.exists() and out.stat().st_size > 0
    # the README recipe animate-then-evaluate: out.mp4 holds the output alone, the side-by-side lies beside it
    sbs = tmp_path/"out.side_by_side.mp4"
    assert sbs.exists() and f"side-by-side: {sbs}" in r.stdout
    S = man["size"]
    assert iio.mimread(out)[0].shape[:2] == (S, S) and iio.mimread(sbs)[0].shape[:2] == (S, 3 * S)
    r = vp("evaluate", "--pred", out, "--source", tmp_path/"face.png", "--driver", data/test_clip["file"],
           "--backend", "synth", "--out", tmp_path/"recipe.json")
    assert r.returncode == 0, r.stderr[-2000:]
    rec = json.loads((tmp_path/"recipe.json").read_text())
    assert rec and "Traceback" not in r.stderr, rec
    r = vp("evaluate", "--pred", data/test_clip["file"], "--target", data/test_clip["file"], "--backend", "synth",
           "--out", tmp_path/"m.json")
    assert r.returncode == 0, r.stderr[-2000:]
    m = json.loads((tmp_path/"m.json").read_text())
    assert m["ssim"] == pytest.approx(1.0) and m["lpips"] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.timeout(900)
def test_grid_resumes_and_shares_training(tmp_path):
    out = tmp_path/"grid"
    args = ("ablate", "--experiment", "smoke", "--seeds", 1, "--out", out, "--executor", "inprocess",
            "--variants", "baseline", "long_video=overlap")
    r = vp(*args, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "baseline" in r.stdout and "long_video=overlap" in r.stdout
    res = [json.loads(p.read_text()) for p in out.rglob("seed0/results.json")]
    assert len(res) == 2
    assert len({x["checkpoint"] for x in res}) == 1, "variants that differ only at inference share one checkpoint"
    assert len(list((out/"_checkpoints").iterdir())) >= 1
    status = json.loads((out/"grid_status.json").read_text())
    assert all(v["status"] == "ok" for v in status.values())
    r = vp(*args, timeout=300)  # a second run finds everything done
    assert r.returncode == 0 and "2 already done, 0 to run" in r.stdout, r.stdout[-2000:]


def test_train_expression_reader(tmp_path):
    "`train-evaluators --part expression` writes synth_expression.* with the face-window design; loaded beside an evaluator."
    import shutil
    from vividportraits import evaluators as M
    r = vp("train-evaluators", "--part", "expression", "--identities", 12, "--frames", 4, "--steps", 2, "--batch-size", 4,
           "--device", "cpu", "--out", tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    cfg = json.loads((tmp_path/"synth_expression.json").read_text())
    assert cfg["part"] == "expression" and cfg["architecture"]["crop"] == list(M.EXPRESSION_READER["crop"])
    assert cfg["cli_args"]["part"] == "expression" and "identity" not in cfg["heldout_r2"]
    for suf in (".safetensors", ".json"):
        shutil.copy(M.SHIPPED_WEIGHTS_DIR/f"{M.EVALUATOR_NAME}{suf}", tmp_path)
    ev = M.load_synth_evaluator(tmp_path/f"{M.EVALUATOR_NAME}.safetensors")
    assert ev.expression_config["cli_args"]["steps"] == 2 and ev.expression_path == tmp_path/"synth_expression.safetensors"
