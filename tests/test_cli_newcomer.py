"""Issue 26, point 5: promises of the CLI, one test each. An unknown option names its subcommand; `evaluate --backend
real` without the faces extra names the extra (before any import); `train` stopped by `--max-minutes` says the step
reached, the target and that a rerun resumes; a failed or interrupted `demo`, `ablate` or `prepare` leaves no empty
output folder. Run with `-s` for one `| case | exit | seconds | line |` row per case."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from vividportraits.core import install_hint
from test_cli_bad_inputs import ENV, MICRO_ARGS, TRAIN_FAST, rejected, vp

PY = sys.executable


def py_main(args, pre="", cwd=None, timeout=600, env=None):
    "`vividportraits ARGS` run by `main` in a fresh Python after the statements `pre` (to simulate a missing package or a failure)."
    code = f"import sys\n{pre}\nfrom vividportraits.cli import main\nsys.exit(main({[str(a) for a in args]!r}))"
    t = time.perf_counter()
    r = subprocess.run([PY, "-c", code], capture_output=True, text=True, env={**ENV, **(env or {})}, cwd=cwd, timeout=timeout)
    r.seconds, r.cpu = time.perf_counter() - t, 0.0
    return r


REQUIRED = {"evaluate": ["--pred", "p.mp4"], "prepare": ["src", "out"],   # (argparse names missing required ones first)
            "animate": ["--checkpoint", "c", "--source", "s.png", "--driver", "d.mp4", "--out", "o.mp4"]}


@pytest.mark.parametrize("cmd", ["train", "evaluate", "demo", "ablate", "prepare", "animate"])
def test_unknown_option_names_the_subcommand(cmd, tmp_path):
    r = vp(cmd, *REQUIRED.get(cmd, []), "--no-such-option", "1", cwd=tmp_path)
    rejected(f"5 {cmd} --no-such-option", r, cmd, "unrecognized arguments: --no-such-option", f"vividportraits {cmd} --help")


def test_unknown_option_before_the_subcommand():
    r = vp("--no-such-option")
    line = r.stderr.strip().splitlines()[0]
    assert r.returncode == 2 and line.startswith("vividportraits: error: unrecognized arguments: --no-such-option"), r.stderr
    print(f"\n| 5 --no-such-option (no subcommand) | 2 | {r.seconds:.2f} | {line} |")


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    "A short video and a photo (any pixels: the check comes first)."
    import imageio.v2 as iio
    from vividportraits.core import write_video
    d = tmp_path_factory.mktemp("pair"); rng = np.random.default_rng(0)
    write_video(rng.integers(0, 255, (4, 32, 32, 3), dtype=np.uint8), d/"drv.mp4", fps=4)
    iio.imwrite(d/"face.png", rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
    return d


@pytest.mark.parametrize("missing,args,names", [
    ("dlib", ["--source", "face.png"], ["dlib", "identity"]),
    ("mediapipe", ["--driver", "drv.mp4"], ["mediapipe", "expression"]),
    ("face_alignment", ["--driver", "drv.mp4", "--landmarker", "fan"], ["face_alignment", "expression"]),
])
def test_evaluate_without_faces_extra(pair, missing, args, names):
    "The faces extra absent (its module hidden in sys.modules): exit 2 naming the module and the extra, not 'unexpected'."
    r = py_main(["evaluate", "--pred", "drv.mp4", *args, "--backend", "real"], pre=f"sys.modules[{missing!r}] = None",
                cwd=pair)
    line = rejected(f"5 evaluate --backend real without {missing}", r, "evaluate", "--backend real", *names,
                    install_hint("faces"), fast=False)
    assert "unexpected" not in line and "ModuleNotFoundError" not in r.stderr and "vividportraits[faces]" not in line


def test_train_says_it_stopped_at_max_minutes(tmp_path):
    "Stopped by --max-minutes: the step reached, the target and 'rerun ... to resume' on stderr; the rerun resumes."
    d = tmp_path/"synth"
    r = vp("synth", d, "--identities", 2, "--clips-per-identity", 1, "--frames", 4, "--size", 16, "--test-fraction", 0.5)
    assert r.returncode == 0, r.stderr[-2000:]
    args = ["train", *MICRO_ARGS, "--data", d, "--out", tmp_path/"run", "--steps", 1000, "--max-minutes", 0.0001,
            "--ckpt-every", 1000, *TRAIN_FAST]
    r = vp(*args)
    assert r.returncode == 0, r.stderr[-3000:]
    line = next(l for l in r.stderr.splitlines() if l.startswith("vividportraits train: stopped"))
    step = json.loads((tmp_path/"run"/"results.json").read_text())["metrics"]["steps_done"]
    assert 0 < step < 1000, step
    for s in ("--max-minutes 0.0001", f"at step {step} of --steps 1000", "rerun the same command to resume"):
        assert s in line, (s, line)
    print(f"\n| 5 train stopped by --max-minutes | 0 | {r.seconds:.2f} | {line[:220]} |")
    r = vp(*args)   # the rerun resumes from that step (and stops again a step or more later)
    assert r.returncode == 0, r.stderr[-3000:]
    step2 = json.loads((tmp_path/"run"/"results.json").read_text())["metrics"]["steps_done"]
    assert step2 > step, (step, step2)


FAIL = {   # each job replaced by one that makes folders inside --out (no file) and then fails or is interrupted
    "demo": ("papermill", "execute_notebook"),
    "ablate": ("vividportraits.grid", "run_grid"),
    "prepare": ("vividportraits.prepare", "prepare"),
}


@pytest.mark.parametrize("cmd", list(FAIL))
@pytest.mark.parametrize("how,code", [("RuntimeError('boom')", 1), ("KeyboardInterrupt()", 130)])
def test_failed_command_leaves_no_empty_folder(cmd, how, code, tmp_path):
    out = tmp_path/"new"/"out"
    mod, name = FAIL[cmd]
    src = tmp_path/"videos"; src.mkdir(); (src/"a.mp4").write_bytes(b"")
    args = {"demo": ["demo", "--out", out], "ablate": ["ablate", "--out", out, "--experiment", "smoke"],
            "prepare": ["prepare", src, out]}[cmd]
    if cmd == "prepare": pytest.importorskip("mediapipe")   # prepare's check needs the faces extra
    pre = (f"import importlib, pathlib\nm = importlib.import_module({mod!r})\n"
           f"def fail(*a, **k):\n    (pathlib.Path({str(out)!r})/'sub'/'deeper').mkdir(parents=True)\n    raise {how}\n"
           f"setattr(m, {name!r}, fail)")
    r = py_main(args, pre=pre)
    assert r.returncode == code, (r.returncode, r.stderr[-3000:])
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    assert not (tmp_path/"new").exists(), sorted(map(str, (tmp_path/"new").rglob("*")))
    print(f"\n| 5 {cmd} {how.split('(')[0]} after making folders | {r.returncode} | {r.seconds:.2f} | no folder left |")


def test_failed_command_keeps_what_it_wrote(tmp_path):
    "A folder with a file in it (a failed notebook, a manifest) stays: only empty folders go."
    out = tmp_path/"new"/"out"
    pre = (f"import papermill, pathlib\ndef fail(*a, **k):\n    p = pathlib.Path({str(out)!r}); (p/'empty').mkdir()\n"
           f"    (p/'ablate.ipynb').write_text('{{}}')\n    raise RuntimeError('boom')\npapermill.execute_notebook = fail")
    r = py_main(["demo", "--out", out], pre=pre)
    assert r.returncode == 1, r.stderr[-3000:]
    assert (out/"ablate.ipynb").exists() and not (out/"empty").exists()


@pytest.fixture(scope="module")
def synth_clip(tmp_path_factory):
    "A 12-frame SynthPortraits clip (full.npz), the same clip blanked after its third frame (blank.npz), its first frame (face.png)."
    import imageio.v2 as iio
    from vividportraits import synth
    d = tmp_path_factory.mktemp("synthclip")
    bg, ex, po = synth.clip_spec(0, 0, 0, 12)
    rgb = synth.render_clip(synth.identity_bank(0, 1)[0], ex, po, bg, 64)["rgb"]
    blank = rgb.copy(); blank[3:] = 0
    np.savez(d/"full.npz", rgb=rgb); np.savez(d/"blank.npz", rgb=blank); iio.imwrite(d/"face.png", rgb[0])
    return d


def test_evaluate_flags_few_face_frames(synth_clip):
    "A face in 3 of 12 frames: exit 0, few_faces and the threshold in the JSON, one warning line naming the input, the fraction and the threshold."
    from vividportraits.metrics_io import MIN_FACE_FRAC
    d = synth_clip
    r = vp("evaluate", "--pred", "blank.npz", "--source", "face.png", "--driver", "full.npz", "--backend", "synth",
           "--out", "m.json", cwd=d)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((d/"m.json").read_text())
    assert (res["id_face_frac"], res["few_faces"], res["min_face_frac"]) == (0.25, True, MIN_FACE_FRAC), res
    assert json.loads(r.stdout)["few_faces"] is True
    warn = [l for l in r.stderr.splitlines() if "warning" in l]
    assert len(warn) == 1 and warn[0].startswith("vividportraits evaluate: warning: pred blank.npz"), r.stderr[-2000:]
    for s in ("id_face_frac 0.250 (3 of 12 frames)", f"threshold {MIN_FACE_FRAC}"): assert s in warn[0], (s, warn[0])
    print(f"\n| 5 evaluate, a face in 3 of 12 frames | 0 | {r.seconds:.2f} | {warn[0][:220]} |")
    r = vp("evaluate", "--pred", "full.npz", "--source", "face.png", "--backend", "synth", cwd=d)   # every frame: no flag
    assert r.returncode == 0 and "warning" not in r.stderr, r.stderr[-2000:]
    res = json.loads(r.stdout)
    assert (res["id_face_frac"], res["few_faces"]) == (1.0, False), res


def test_missing_extra_says_how_to_install_from_a_clone(tmp_path):
    "The kit is on no registry: `--executor ray` without Ray names the cluster extra as installed from a clone or a built wheel."
    r = py_main(["ablate", "--executor", "ray", "--experiment", "smoke", "--out", tmp_path/"out"], pre="sys.modules['ray'] = None")
    line = rejected("5 ablate --executor ray without ray", r, "ablate", "--executor ray", "'ray'", install_hint("cluster"),
                    'pip install -c constraints.txt ".[cluster]"', "vividportraits-", ".whl[cluster]", fast=False)
    assert "vividportraits[cluster]" not in line


@pytest.mark.parametrize("args,names", [
    ([], ["animate --parser mediapipe", "face detector", "crops the face in the source and in every driver frame"]),
    (["--parser", "synth", "--segmenter", "mediapipe"], ["animate --segmenter mediapipe", "person mask"]),
])
def test_animate_without_faces_extra(pair, args, names):
    "animate without MediaPipe: exit 2 before any import, saying what animate itself needs it for and how to install the extra."
    (pair/"ckpt").mkdir(exist_ok=True)
    r = py_main(["animate", "--checkpoint", "ckpt", "--source", "face.png", "--driver", "drv.mp4", "--out", "o.mp4", *args],
                pre="sys.modules['mediapipe'] = None", cwd=pair)
    line = rejected(f"5 animate {' '.join(args)} without mediapipe", r, "animate", "'mediapipe'", *names,
                    install_hint("faces"), fast=False)
    assert "prepare" not in line and "unexpected" not in line, line


def test_animate_synth_route_needs_no_faces_extra(pair):
    "The Quick start's route (--parser synth --segmenter synth) passes the extra check without MediaPipe."
    (pair/"ckpt").mkdir(exist_ok=True)
    r = py_main(["animate", "--checkpoint", "ckpt", "--source", "face.png", "--driver", "drv.mp4", "--out", "o.mp4",
                 "--parser", "synth", "--segmenter", "synth"], pre="sys.modules['mediapipe'] = None", cwd=pair)
    assert r.returncode != 0 and "mediapipe" not in r.stderr and "faces" not in r.stderr, r.stderr[-2000:]  # fails later: no checkpoint


NOISE = (b"W0000 00:00:1795983637.919115    8770 inference_feedback_manager.cc:114] Feedback manager requires a model "
         b"with a single signature inference. Disabling support for feedback tensors.\n",
         b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n",
         b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
FAKE_JOB = {   # the job of each command replaced by one that writes MediaPipe's log lines and one line of its own to fd 2
    "prepare": ("vividportraits.prepare", "prepare", "{'message': 'done'}"),
    "animate": ("vividportraits.long_video", "animate_file", "{'fps': 4.0, 'side_by_side': None}"),
    "evaluate": ("vividportraits.metrics_io", "evaluate_videos", "{'frames': 4}"),
}


@pytest.mark.parametrize("cmd", list(FAKE_JOB))
def test_mediapipe_log_lines_are_silenced(cmd, pair, tmp_path):
    "prepare, animate and evaluate drop MediaPipe / TF-Lite / absl log lines (written straight to fd 2), keep every other line."
    if cmd == "prepare": pytest.importorskip("mediapipe")   # prepare's check needs the faces extra
    (pair/"ckpt").mkdir(exist_ok=True)
    args = {"prepare": ["prepare", pair/"drv.mp4", tmp_path/"ds"],
            "animate": ["animate", "--checkpoint", "ckpt", "--source", "face.png", "--driver", "drv.mp4", "--out",
                        tmp_path/"o.mp4", "--parser", "synth", "--segmenter", "synth"],
            "evaluate": ["evaluate", "--pred", "drv.mp4", "--backend", "synth"]}[cmd]
    mod, name, ret = FAKE_JOB[cmd]
    noise = "".join(f"    os.write(2, {n!r})\n" for n in NOISE)
    pre = (f"import importlib, os\nm = importlib.import_module({mod!r})\ndef job(*a, **k):\n{noise}"
           f"    print('a line of its own', file=sys.stderr)\n    return {ret}\nsetattr(m, {name!r}, job)")
    r = py_main(args, pre=pre, cwd=pair)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "a line of its own" in r.stderr, r.stderr[-3000:]
    for s in ("inference_feedback_manager", "XNNPACK", "absl::InitializeLog"): assert s not in r.stderr, (s, r.stderr[-3000:])
    r = py_main(args, pre=pre, cwd=pair, env={"VIVIDPORTRAITS_VERBOSE": "1"}) if cmd == "evaluate" else None
    if r is not None: assert "inference_feedback_manager" in r.stderr, r.stderr[-3000:]   # the switch that keeps them


def test_ablate_default_out_is_ignored_not_committed_results(tmp_path):
    "`ablate` without --out writes under runs/ (ignored by git), never into the committed results/."
    root = Path(__file__).resolve().parents[1]
    pre = ("import pathlib, vividportraits.grid as g\ndef run_grid(*a, out, **k):\n"
           "    pathlib.Path(out).mkdir(parents=True, exist_ok=True); (pathlib.Path(out)/'marker').write_text(str(out))\n"
           "    return {}\ng.run_grid = run_grid")
    r = py_main(["ablate", "--experiment", "smoke"], pre=pre, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["runs/ablate/marker"], written
    assert subprocess.run(["git", "check-ignore", "-q", "runs/ablate/marker"], cwd=root).returncode == 0, \
        "runs/ablate/ is not ignored by git"
    from vividportraits.grid import run_grid
    import inspect
    assert inspect.signature(run_grid).parameters["out"].default == "runs/ablate"   # the library's default too


def test_preset_is_split_into_model_and_experiment():
    "Issue 25: `--preset` meant a model preset for train/model-info and an experiment preset for ablate/demo; now --model "
    "and --experiment, the old spelling still accepted with one note line."
    import json
    new = py_main(["model-info", "--model", "tiny4"])
    assert new.returncode == 0 and json.loads(new.stdout)["preset"] == "tiny4" and "note" not in new.stderr, new.stderr
    old = py_main(["model-info", "--preset", "tiny4"])
    assert old.returncode == 0 and json.loads(old.stdout)["preset"] == "tiny4", old.stderr
    assert old.stderr.strip().splitlines() == ["vividportraits model-info: note: --preset is now --model (the old spelling still works)"]
    bad = py_main(["ablate", "--experiment", "tiny"])   # a model preset where an experiment preset is expected
    assert bad.returncode == 2 and "--experiment" in bad.stderr and "study2" in bad.stderr, bad.stderr
    from vividportraits.cli import PRESET_OPTIONS, build_parser
    p = build_parser()
    for cmd, opt in PRESET_OPTIONS.items():
        sub = p._subparsers._group_actions[0].choices[cmd]
        act = next(a for a in sub._actions if a.dest == "preset")
        assert act.option_strings == [opt, "--preset"], (cmd, act.option_strings)
