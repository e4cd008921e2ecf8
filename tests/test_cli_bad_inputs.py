"""Issue 27, one test per case: outputs never overwrite inputs, a grid never reports old runs under a new label, and
every bad input exits 2 with one line `vividportraits CMD: error: --option: ...`, before the heavy imports and before
any output is created. Run with `-s` to see one `| case | exit | seconds | first line |` row per case (the seconds
include Python's start) and the CPU seconds the command used: a rejected command uses well under 3 CPU seconds, which
stays true on a loaded machine, where wall time does not; importing torch alone costs 2-5).

Runs as root in CI, where mode bits do not stop writes: an unwritable place is a path under a FILE."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
ENV.pop("VIVIDPORTRAITS_DEBUG", None)
FAST = 3.0   # CPU seconds a rejected command may use (its wall time on 2 idle cores is about the same; the table shows both)
# the micro tiny preset of tests/test_train.py, as command-line overrides (16 px frames)
MICRO = ["image_size=16", "block_out_channels=(8,16,16)", "norm_num_groups=4", "cross_attention_dim=16",
         "image_encoder_width=8", "guider_channels=(8,16)"]
MICRO_ARGS = [a for o in MICRO for a in ("--model-override", o)]
TRAIN_FAST = ["--batch-size", "2", "--sample-every", "-1", "--no-progress", "--no-tensorboard", "--no-fgbg"]


def _cpu() -> float:
    import resource
    u = resource.getrusage(resource.RUSAGE_CHILDREN); return u.ru_utime + u.ru_stime


def vp(*args, env=None, timeout=600, cwd=None):
    t, c = time.perf_counter(), _cpu()
    r = subprocess.run([str(BIN/"vividportraits"), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                       env={**ENV, **(env or {})}, cwd=cwd)
    r.seconds, r.cpu = time.perf_counter() - t, _cpu() - c
    return r


def rejected(case, r, cmd, *names, code=2, fast=True, last=False):
    "One error line first (`last`: last, after progress bars) on stderr, no traceback, the exit code, the names in it, fast; prints the table row."
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    if last: lines = lines[::-1]
    assert lines and lines[0].startswith(f"vividportraits {cmd}: error: "), (r.returncode, r.stderr[-3000:], r.stdout[-500:])
    assert r.returncode == code, (r.returncode, r.stderr[-2000:])
    for n in names: assert str(n) in lines[0], (n, lines[0])
    print(f"\n| {case} | {r.returncode} | {r.seconds:.2f} | {r.cpu:.2f} | {lines[0][:220]} |")
    if fast: assert r.cpu < FAST, (r.cpu, r.seconds)
    return lines[0]


@pytest.fixture(scope="module")
def data32(tmp_path_factory):
    d = tmp_path_factory.mktemp("d32")/"synth"
    r = vp("synth", d, "--identities", 2, "--clips-per-identity", 1, "--frames", 6, "--size", 32, "--test-fraction", 0.5)
    assert r.returncode == 0, r.stderr[-2000:]
    return d


@pytest.fixture(scope="module")
def data16(tmp_path_factory):
    d = tmp_path_factory.mktemp("d16")/"synth"
    r = vp("synth", d, "--identities", 2, "--clips-per-identity", 1, "--frames", 4, "--size", 16, "--test-fraction", 0.5)
    assert r.returncode == 0, r.stderr[-2000:]
    return d


@pytest.fixture(scope="module")
def run4(data16, tmp_path_factory):
    "A micro run trained to step 4 (checkpoints at 2 and 4), under umask 022."
    out = tmp_path_factory.mktemp("run")/"run"
    old = os.umask(0o022)
    try: r = vp("train", *MICRO_ARGS, "--data", data16, "--out", out, "--steps", 4, "--ckpt-every", 2, *TRAIN_FAST)
    finally: os.umask(old)
    assert r.returncode == 0, r.stderr[-3000:]
    return out


@pytest.fixture
def files(tmp_path):
    "A video, an image, a text file and a text file named .png."
    import imageio.v2 as iio
    from vividportraits.core import write_video
    rng = np.random.default_rng(0)
    write_video(rng.integers(0, 255, (4, 32, 32, 3), dtype=np.uint8), tmp_path/"drv.mp4", fps=4)
    iio.imwrite(tmp_path/"face.png", rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
    (tmp_path/"notes.txt").write_text("not a video")
    (tmp_path/"text.png").write_text("not an image")
    return tmp_path


def unchanged(path):
    "A snapshot of a file's bytes, to assert it was not touched."
    data = Path(path).read_bytes()
    return lambda: Path(path).read_bytes() == data


# ---- 1. silent data loss -----------------------------------------------------------------------------------------

def test_animate_out_is_driver(files, run4):
    same = unchanged(files/"drv.mp4")
    r = vp("animate", "--checkpoint", run4, "--source", files/"face.png", "--driver", files/"drv.mp4",
           "--out", files/"drv.mp4", "--parser", "synth")
    rejected("1 animate --out = --driver", r, "animate", "--out", "same path as --driver")
    assert same()


def test_evaluate_out_is_pred(files):
    same = unchanged(files/"drv.mp4")
    r = vp("evaluate", "--pred", files/"drv.mp4", "--out", files/"drv.mp4")
    rejected("1 evaluate --out = --pred", r, "evaluate", "--out", "same path as --pred")
    assert same()


def test_model_info_json_over_manifest(data32):
    same = unchanged(data32/"manifest.json")
    r = vp("model-info", "--json", data32/"manifest.json")
    rejected("1 model-info --json DATA/manifest.json", r, "model-info", "--json", "exists and is not")
    assert same()


@pytest.mark.parametrize("cmd", ["synth", "train", "prepare"])
def test_empty_output_path(cmd, files, tmp_path):
    args = {"synth": ["synth", ""], "train": ["train", "--out", ""], "prepare": ["prepare", files, ""]}[cmd]
    before = sorted(p.name for p in tmp_path.iterdir())
    r = vp(*args, cwd=tmp_path)
    rejected(f"1 {cmd} with an empty output path", r, cmd, "empty path")
    assert sorted(p.name for p in tmp_path.iterdir()) == before   # nothing written into the current folder


def test_train_out_is_data(data32):
    same = unchanged(data32/"manifest.json")
    r = vp("train", "--data", data32, "--out", data32, "--model-override", "image_size=32")
    rejected("1 train --out = --data", r, "train", "--out", "--data")
    assert same() and not (data32/"checkpoints").exists()


def test_prepare_src_is_out(files):
    r = vp("prepare", files, files)
    rejected("1 prepare SRC SRC", r, "prepare", "same path as src")
    assert not (files/"manifest.json").exists()


# ---- 2. a grid never reports old runs under a new label ----------------------------------------------------------

def _finished_grid(out, preset="smoke", data="synth"):
    "A grid folder whose baseline run finished (results.json as `experiment.write_run` records it)."
    from vividportraits.config import EXPERIMENT_PRESETS
    from vividportraits.core import write_results
    from vividportraits.grid import grid_jobs
    j = grid_jobs("paper", preset, 1, out, kind="inprocess", variants=["baseline"], data=data)[0]
    write_results(j["run_dir"], j["params"], {"self.psnr": 20.0}, variant="baseline",
                  preset_values=asdict(EXPERIMENT_PRESETS[preset]), portable=True)
    return j


def test_grid_other_preset_is_not_done(tmp_path):
    _finished_grid(tmp_path/"g", "smoke")
    r = vp("ablate", "--experiment", "cpu", "--out", tmp_path/"g", "--variants", "baseline", "--executor", "inprocess")
    rejected("2 ablate --experiment cpu over smoke runs", r, "ablate", "other settings", "preset: 'smoke' there, 'cpu' now",
             "--replace-changed")
    assert not (tmp_path/"g"/"grid_status.json").exists()      # refused before anything was written
    r = vp("ablate", "--experiment", "smoke", "--out", tmp_path/"g", "--variants", "baseline", "--executor", "inprocess")
    assert r.returncode == 0 and "1 already done, 0 to run" in r.stdout, r.stderr[-2000:]


def test_grid_other_data_is_not_done(tmp_path, data32):
    _finished_grid(tmp_path/"g", "smoke")
    r = vp("ablate", "--experiment", "smoke", "--data", data32, "--out", tmp_path/"g", "--variants", "baseline")
    rejected("2 ablate --data PREPARED over synth runs", r, "ablate", "other settings", "data: 'synth' there")


def test_grid_changed_preset_values_are_not_done(tmp_path):
    "The same preset name whose values changed since the run (generic: every recorded preset value is compared)."
    j = _finished_grid(tmp_path/"g", "smoke")
    rec = json.loads((Path(j["run_dir"])/"results.json").read_text())
    rec["preset_values"]["train_steps"] += 1
    (Path(j["run_dir"])/"results.json").write_text(json.dumps(rec))
    r = vp("ablate", "--experiment", "smoke", "--out", tmp_path/"g", "--variants", "baseline")
    rejected("2 ablate over runs of older preset values", r, "ablate", "preset_values.train_steps")


# ---- 3. silent accepts -------------------------------------------------------------------------------------------

def test_train_lr_inf(tmp_path):
    rejected("3 train --lr inf", vp("train", "--lr", "inf", "--out", tmp_path/"r"), "train", "--lr", "finite")
    assert not (tmp_path/"r").exists()


def test_train_nonfinite_loss_stops(data16, tmp_path):
    "A finite but huge learning rate: the loss overflows, the run stops with one line (exit 1) naming the last good checkpoint."
    r = vp("train", *MICRO_ARGS, "--data", data16, "--out", tmp_path/"r", "--steps", 8, "--ckpt-every", 1, "--lr", "1e30",
           "--warmup-steps", 0, "--max-grad-norm", 0, "--no-ema", *TRAIN_FAST)
    rejected("3 train: the loss becomes NaN (exit 1)", r, "train", "non-finite", "step", code=1, fast=False)
    assert "unexpected" not in r.stderr and not (tmp_path/"r"/"results.json").exists()


def test_train_sample_every_below_minus_one():
    rejected("3 train --sample-every -2", vp("train", "--sample-every", -2), "train", "--sample-every")


def test_synth_n_cross_negative(tmp_path):
    rejected("3 synth --n-cross -1", vp("synth", tmp_path/"s", "--n-cross", -1), "synth", "--n-cross")
    assert not (tmp_path/"s").exists()


def test_train_dataset_smaller_than_preset(data32, tmp_path):
    r = vp("train", "--model", "small", "--data", data32, "--out", tmp_path/"r")
    rejected("3 train --model small (128 px) on a 32 px dataset", r, "train", "--data", "smaller than the 128 px")


def test_train_steps_below_saved_step(run4, data16):
    r = vp("train", *MICRO_ARGS, "--data", data16, "--out", run4, "--steps", 2, *TRAIN_FAST)
    rejected("3 train --steps 2 below the saved step 4", r, "train", "--steps 2", "already at step 4")


def test_train_sd15_without_weights(tmp_path):
    r = vp("train", "--model", "sd15", "--out", tmp_path/"r")
    rejected("3 train --model sd15 without weights", r, "train", "--model sd15", "pretrained_path")


def test_evaluate_no_face_anywhere(tmp_path):
    "Content, not a value: decided by the face detector, so after its import (not held to the fast bound)."
    pytest.importorskip("dlib"); pytest.importorskip("mediapipe")
    from vividportraits.core import write_video
    import imageio.v2 as iio
    write_video(np.full((4, 64, 64, 3), 90, np.uint8), tmp_path/"wall.mp4", fps=4)
    iio.imwrite(tmp_path/"wall.png", np.full((64, 64, 3), 90, np.uint8))
    r = vp("evaluate", "--pred", tmp_path/"wall.mp4", "--source", tmp_path/"wall.png", "--out", tmp_path/"new"/"m.json")
    if r.returncode == 2 and "needs the optional package" in r.stderr: pytest.skip(r.stderr.strip())
    rejected("3 evaluate, no face in any frame", r, "evaluate", "--pred", "no face", fast=False)
    assert not (tmp_path/"new").exists()   # the folder made for --out is removed again


# ---- 4. bad input is exit 2 naming the option (it was exit 1 "unexpected") ----------------------------------------

@pytest.mark.parametrize("device,expect", [("cuda", "no CUDA device"), ("banana", "expected auto, cpu, cuda")])
def test_animate_device(device, expect, files, run4):
    if device == "cuda" and Path("/proc/driver/nvidia").exists(): pytest.skip("this machine has a GPU driver")
    r = vp("animate", "--checkpoint", run4, "--source", files/"face.png", "--driver", files/"drv.mp4",
           "--out", files/"o.mp4", "--device", device)
    rejected(f"4 animate --device {device}", r, "animate", "--device", expect)


@pytest.mark.parametrize("device,expect", [("cuda", "no CUDA device"), ("banana", "expected auto, cpu, cuda")])
def test_train_evaluators_device(device, expect, tmp_path):
    if device == "cuda" and Path("/proc/driver/nvidia").exists(): pytest.skip("this machine has a GPU driver")
    r = vp("train-evaluators", "--device", device, "--out", tmp_path/"ev")
    rejected(f"4 train-evaluators --device {device}", r, "train-evaluators", "--device", expect)


def test_evaluate_arcface_without_onnxruntime(files):
    import importlib.util
    if importlib.util.find_spec("onnxruntime") is not None: pytest.skip("onnxruntime is installed here")
    r = vp("evaluate", "--pred", files/"drv.mp4", "--source", files/"face.png", "--arcface-model", files/"notes.txt")
    rejected("4 evaluate --arcface-model without onnxruntime", r, "evaluate", "--arcface-model", "pip install onnxruntime")


@pytest.mark.parametrize("batch", [0, -4])
def test_model_info_batch(batch):
    rejected(f"4 model-info --batch {batch}", vp("model-info", "--batch", batch), "model-info", "--batch", ">= 1")


def test_fetch_weights_unknown_name():
    rejected("4 fetch-weights banana", vp("fetch-weights", "banana"), "fetch-weights", "banana", "lpips_alexnet")


def test_synth_size_huge(tmp_path):
    rejected("4 synth --size 100000", vp("synth", tmp_path/"s", "--size", 100000), "synth", "--size", "<= 1024")


def test_train_evaluators_stem_negative():
    rejected("4 train-evaluators --stem -4", vp("train-evaluators", "--stem", -4), "train-evaluators", "--stem")


def test_ablate_data_with_escaping_paths(data32, tmp_path):
    d = tmp_path/"d"; shutil.copytree(data32, d)
    man = json.loads((d/"manifest.json").read_text()); man["clips"][0]["file"] = "../../../etc/passwd"
    (d/"manifest.json").write_text(json.dumps(man))
    r = vp("ablate", "--experiment", "smoke", "--data", d, "--out", tmp_path/"g")
    rejected("4 ablate --data with an escaping clip path", r, "ablate", "--data", "resolves outside")
    assert not (tmp_path/"g").exists()


def test_ablate_template_not_a_notebook(files, tmp_path):
    r = vp("ablate", "--experiment", "smoke", "--template", files/"text.png", "--out", tmp_path/"g")
    rejected("4 ablate --template text.png", r, "ablate", "--template", "Jupyter notebook")
    assert not (tmp_path/"g").exists()


@pytest.mark.parametrize("opt,val", [("--margin", "nan"), ("--detect-every", "0"), ("--max-frames", "0")])
def test_prepare_option_checked_once(opt, val, files, tmp_path):
    r = vp("prepare", files, tmp_path/"data", opt, val)
    rejected(f"4 prepare {opt} {val}", r, "prepare", opt)
    assert not (tmp_path/"data").exists()   # no clip was tried, so none is recorded as failed


def test_prepare_text_file_as_src(files, tmp_path):
    r = vp("prepare", files/"notes.txt", tmp_path/"data")
    rejected("4 prepare SRC = a text file", r, "prepare", "notes.txt", "expected a video file")
    assert not (tmp_path/"data").exists()


def test_prepare_changed_option_retries_failed_clips(tmp_path):
    "A clip that failed with one margin is tried again when the margin changes (the options are recorded with it)."
    pytest.importorskip("mediapipe")
    from vividportraits.prepare import prepare
    src = tmp_path/"src"; src.mkdir(); (src/"broken.mp4").write_bytes(b"\x00 not a video")
    prepare(src, tmp_path/"data", size=64, progress=False)
    assert prepare(src, tmp_path/"data", size=64, progress=False)["skipped_failed"] == 1
    s = prepare(src, tmp_path/"data", size=64, margin=0.6, progress=False)
    assert (s["retried_changed"], s["skipped_failed"]) == (1, 0), s
    print(f"\n| 4 prepare rerun with another --margin | - | - | retried {s['retried_changed']} failed clip, skipped 0 |")


# ---- 5. unclear messages -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("override", ["block_out_channels=(32,64", "block_out_channels=32"])
def test_model_override_malformed(override):
    line = rejected(f"5 train --model-override {override}", vp("train", "--model-override", override), "train",
                    "--model-override", "block_out_channels expects a tuple of int")
    assert "down_block_types" not in line


def test_model_override_inconsistent():
    line = rejected("5 train --model-override block_out_channels=(32,64)",
                    vp("train", "--model-override", "block_out_channels=(32,64)"), "train", "--model-override")


def test_init_from_other_motion(run4, data16, tmp_path):
    r = vp("train", *MICRO_ARGS, "--data", data16, "--out", tmp_path/"r", "--init-from", run4, "--motion", "landmarks",
           *TRAIN_FAST)
    rejected("5 train --init-from a run of another motion", r, "train", "--init-from", "motion: 'parsing' there")
    assert "state_dict" not in r.stderr


def test_evaluate_max_frames_negative(files):
    rejected("5 evaluate --max-frames -1", vp("evaluate", "--pred", files/"drv.mp4", "--max-frames", -1), "evaluate",
             "--max-frames")


def test_evaluate_source_not_an_image(files):
    r = vp("evaluate", "--pred", files/"drv.mp4", "--source", files/"text.png")
    rejected("5 evaluate --source text.png", r, "evaluate", "--source", "cannot read frames")


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_cache_variable_named(where, files):
    bad = files/"notes.txt" if where == "a file" else files/"notes.txt"/"cache"
    r = vp("fetch-weights", env={"VIVIDPORTRAITS_CACHE": str(bad)})
    rejected(f"5 VIVIDPORTRAITS_CACHE = {where}", r, "fetch-weights", "VIVIDPORTRAITS_CACHE=")


@pytest.mark.parametrize("opt,val", [("--steps", 0), ("--identities", 0), ("--lr", "nan")])
def test_train_evaluators_numbers(opt, val):
    rejected(f"5 train-evaluators {opt} {val}", vp("train-evaluators", opt, val), "train-evaluators", opt)


@pytest.mark.parametrize("param,val,expect", [("seed", "-1", "seed: expected an integer >= 0"),
                                              ("run_dir", "FILE/run", "is a file")])
def test_papermill_parameters(param, val, expect, files):
    "ablate.ipynb through papermill: the parameters cell's check names the parameter (the kernel's start is in the time)."
    pm = pytest.importorskip("papermill")
    val = val.replace("FILE", str(files/"notes.txt"))
    t = time.perf_counter()
    with pytest.raises(pm.PapermillExecutionError) as e:
        pm.execute_notebook(str(ROOT/"nbs"/"ablate.ipynb"), str(files/"out.ipynb"), parameters={param: val,
                            **({} if param == "run_dir" else {"run_dir": str(files/"run")})}, progress_bar=False)
    assert expect in str(e.value.evalue), e.value.evalue
    print(f"\n| 5 papermill ablate.ipynb -p {param} {val} | (cell error) | {time.perf_counter() - t:.2f} | {e.value.ename}: {e.value.evalue[:160]} |")


def test_prepare_failure_summary_names_clips(tmp_path):
    pytest.importorskip("mediapipe")
    src = tmp_path/"src"; src.mkdir(); (src/"broken.mp4").write_bytes(b"\x00 not a video")
    r = vp("prepare", src, tmp_path/"data", "--size", 64, timeout=300)
    line = rejected("5 prepare with a failed clip (summary on stderr)", r, "prepare", "broken", "1 failed", code=1, fast=False,
                    last=True)
    assert "unreadable" in line


# ---- 6. slow and noisy -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["train", "--help"], ["ablate", "--presett", "x"],
                                  ["train", "--lr", "inf"], ["animate", "--device", "banana", "--checkpoint", "x",
                                   "--source", "x", "--driver", "x", "--out", "x.mp4"]])
def test_no_heavy_import(argv):
    "--help, --version and rejected input never import torch, diffusers or a face backend."
    code = ("import sys\nfrom vividportraits.cli import main\ntry: rc = main(sys.argv[1:])\nexcept SystemExit as e: rc = e.code\n"
            "heavy = sorted(m for m in ('torch', 'diffusers', 'mediapipe', 'accelerate') if m in sys.modules)\n"
            "print('HEAVY', heavy, 'RC', rc)")
    t, c = time.perf_counter(), _cpu()
    r = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=ENV, timeout=120)
    secs, cpu = time.perf_counter() - t, _cpu() - c
    assert "HEAVY [] RC" in r.stdout, (r.stdout[-500:], r.stderr[-1500:])
    print(f"\n| 6 vividportraits {' '.join(argv)} | {r.stdout.split('RC')[-1].strip()} | {secs:.2f} | {cpu:.2f} | "
          f"{(r.stderr.strip().splitlines() or r.stdout.strip().splitlines() or [''])[0][:160]} |")
    assert cpu < FAST


def test_ray_unreachable_address(tmp_path):
    pytest.importorskip("ray")
    r = vp("ablate", "--experiment", "smoke", "--executor", "ray", "--address", "127.0.0.1:1", "--out", tmp_path/"g")
    rejected("6 ablate --executor ray --address 127.0.0.1:1", r, "ablate", "--address", "no Ray cluster answers")
    assert not (tmp_path/"g").exists()


def test_prepare_ctrl_c_with_workers(tmp_path):
    "Ctrl-C (SIGINT to the whole process group, as a terminal sends it) while the pool's workers start: 130, no traceback."
    pytest.importorskip("mediapipe")
    import psutil
    src = tmp_path/"src"; src.mkdir()
    for k in range(4): (src/f"b{k}.mp4").write_bytes(b"\x00 not a video")
    p = subprocess.Popen([str(BIN/"vividportraits"), "prepare", str(src), str(tmp_path/"data"), "--workers", "2",
                          "--size", "64"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                         start_new_session=True)
    t0 = time.time()   # wait until the pool's worker processes exist (they are importing the backends)
    while time.time() - t0 < 120 and p.poll() is None:
        if len(psutil.Process(p.pid).children(recursive=True)) >= 2: break
        time.sleep(0.1)
    time.sleep(0.5)
    t = time.perf_counter()
    os.killpg(p.pid, signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, (p.returncode, err[-2000:])
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
    line = next(l for l in err.splitlines() if l.startswith("vividportraits prepare:"))
    print(f"\n| 6 prepare --workers 2, Ctrl-C while workers start | 130 | {time.perf_counter() - t:.2f} (after the signal) | {line[:160]} |")


def test_checkpoint_files_readable_by_others(run4):
    "Every file of a checkpoint written under umask 022 is 0644 (safetensors alone writes 0600)."
    modes = {f.name: oct(f.stat().st_mode & 0o777) for ck in (run4/"checkpoints").iterdir() for f in ck.iterdir()}
    assert modes and set(modes.values()) == {"0o644"}, modes
    print(f"\n| 6 checkpoint files under umask 022 | - | - | {len(modes)} files, all 0644 |")


def test_rejected_command_leaves_no_folder(tmp_path, run4, data16):
    "A command rejected after it made its output's folder removes it again (while empty); a checked one never makes it."
    r = vp("synth", tmp_path/"a"/"b"/"ds", "--size", 8)
    rejected("6 synth rejected by its check: no folder made", r, "synth", "--size")
    assert not (tmp_path/"a").exists()
    import imageio.v2 as iio   # animate makes the video's folder, then finds no face in the source: the folder goes again
    iio.imwrite(tmp_path/"wall.png", np.full((64, 64, 3), 90, np.uint8))
    clip = next((data16/"clips").glob("*.npz"))
    r = vp("animate", "--checkpoint", run4, "--source", tmp_path/"wall.png", "--driver", clip, "--out",
           tmp_path/"new"/"deep"/"o.mp4", "--parser", "synth", "--segmenter", "synth", "--steps", 1)
    rejected("6 animate rejected after its folder was made: removed", r, "animate", "no face", fast=False)
    assert not (tmp_path/"new").exists()


def test_ray_sigterm_while_starting(tmp_path):
    "SIGTERM while the grid starts a local Ray (minutes on a loaded machine): exit 130 with one line, not 15 or a hang."
    pytest.importorskip("ray")
    p = subprocess.Popen([str(BIN/"vividportraits"), "ablate", "--experiment", "smoke", "--executor", "ray", "--kind", "inprocess",
                          "--variants", "baseline", "--out", str(tmp_path/"g")], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=ENV)
    t0 = time.time()   # the status file is written just before Ray starts
    while time.time() - t0 < 120 and p.poll() is None and not (tmp_path/"g"/"grid_status.json").exists(): time.sleep(0.2)
    time.sleep(2)
    t = time.perf_counter(); p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 130, (p.returncode, err[-2000:])
    line = next(l for l in err.splitlines() if l.startswith("vividportraits ablate:"))
    assert "Traceback" not in err, err[-3000:]
    print(f"\n| 6 ablate --executor ray, SIGTERM while Ray starts | 130 | {time.perf_counter() - t:.2f} (after the signal) | {line[:160]} |")
