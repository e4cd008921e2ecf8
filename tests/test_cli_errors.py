"""The CLI's bad-input suite (issue 17 items 3, 5, 6): each kind of user mistake ends with exit 2 (or 1 / 130 where
documented), one line naming the input, no traceback, and, where the work is expensive, before the work starts.

Runs as root in CI, where mode bits do not stop writes: an unwritable output is a path under a FILE."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

BIN = Path(sys.executable).parent
ENV = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
ENV.pop("VIVIDPORTRAITS_DEBUG", None)
SMALL = ["--model-override", "image_size=32"]   # the tiny preset at the 32 px of these datasets (never upscaled)


def vp(*args, timeout=600):
    t = time.perf_counter()
    r = subprocess.run([str(BIN/"vividportraits"), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                       env=ENV)
    r.seconds = time.perf_counter() - t
    return r


def error_line(r, cmd):
    "The one error line; it must be the first line of stderr (nothing before it, no traceback anywhere)."
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert lines, f"no message on stderr (rc {r.returncode}); stdout: {r.stdout[-1000:]}"
    assert lines[0].startswith(f"vividportraits {cmd}: error: "), r.stderr[-3000:]
    return lines[0]


def expect(r, cmd, code, *names):
    line = error_line(r, cmd)
    assert r.returncode == code, (r.returncode, r.stderr[-2000:])
    for n in names: assert str(n) in line, (n, line)
    print(f"| {cmd} | {code} | {r.seconds:.1f} s | {line[:160]} |")
    return line


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")/"synth"
    r = vp("synth", d, "--identities", 2, "--clips-per-identity", 1, "--frames", 6, "--size", 32, "--test-fraction", 0.5)
    assert r.returncode == 0, r.stderr[-2000:]
    return d


@pytest.fixture(scope="module")
def run(data, tmp_path_factory):
    "A tiny checkpoint trained for 2 steps (parsing motion, no fg/bg)."
    out = tmp_path_factory.mktemp("run")/"run"
    r = vp("train", *SMALL, "--model", "tiny", "--data", data, "--out", out, "--steps", 2, "--batch-size", 2,
           "--ckpt-every", 1, "--sample-every", -1, "--no-fgbg", "--no-progress", "--no-tensorboard")
    assert r.returncode == 0, r.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def face(data, tmp_path_factory):
    import imageio.v2 as iio
    man = json.loads((data/"manifest.json").read_text())
    clip = data/man["clips"][0]["file"]
    p = tmp_path_factory.mktemp("img")/"face.png"
    with np.load(clip) as z: iio.imwrite(p, z["rgb"][0])
    return p, clip


def _blocked(tmp_path):
    "A path whose parent is a file: no one, root included, can create it."
    f = tmp_path/"a_file"; f.write_text("x")
    return f/"out"


@pytest.mark.parametrize("cmd", ["synth", "prepare", "train", "animate", "evaluate", "ablate", "demo"])
def test_unwritable_output(cmd, tmp_path, data, face):
    bad = _blocked(tmp_path)
    src, clip = face
    args = {"synth": ["synth", bad, "--identities", 2],
            "prepare": ["prepare", src.parent, bad],   # a folder of videos / image folders (a .png is no SRC)
            "train": ["train", *SMALL, "--data", data, "--out", bad, "--steps", 1],
            "animate": ["animate", "--checkpoint", tmp_path, "--source", src, "--driver", clip, "--out", bad/"o.mp4"],
            "evaluate": ["evaluate", "--pred", clip, "--target", clip, "--backend", "synth", "--out", bad/"m.json"],
            "ablate": ["ablate", "--experiment", "smoke", "--out", bad],
            "demo": ["demo", "--out", bad]}[cmd]
    r = vp(*args)
    expect(r, cmd, 2, "a_file")
    assert r.seconds < 30


def test_truncated_safetensors_animate(run, face, tmp_path):
    src, clip = face
    bad = tmp_path/"ck"; shutil.copytree(run, bad)
    for f in bad.rglob("*.safetensors"): f.write_bytes(f.read_bytes()[:100])
    r = vp("animate", "--checkpoint", bad, "--source", src, "--driver", clip, "--out", tmp_path/"o.mp4",
           "--parser", "synth", "--segmenter", "synth", "--steps", 1)
    expect(r, "animate", 2, "ck")
    assert not (tmp_path/"o.mp4").exists()


def test_truncated_safetensors_train_resume(run, data, tmp_path):
    bad = tmp_path/"run"; shutil.copytree(run, bad)
    for f in bad.rglob("*.safetensors"): f.write_bytes(f.read_bytes()[:100])
    r = vp("train", *SMALL, "--model", "tiny", "--data", data, "--out", bad, "--steps", 4, "--batch-size", 2,
           "--sample-every", -1, "--no-fgbg", "--no-progress", "--no-tensorboard")
    if r.returncode == 0:   # the checkpoint module may fall back past damaged checkpoints (issue 17 item 4)
        pytest.skip("train resumed past the damaged checkpoints (a fallback, not an error)")
    expect(r, "train", 2, str(bad))


def test_corrupt_mp4_evaluate(tmp_path, face):
    src, clip = face
    for name, payload in (("garbage.mp4", b"not a video at all" * 50), ("empty.mp4", b"")):
        p = tmp_path/name; p.write_bytes(payload)
        r = vp("evaluate", "--pred", p, "--target", clip, "--backend", "synth")
        expect(r, "evaluate", 2, name)


def _copy_data(data, tmp_path):
    d = tmp_path/"d"; shutil.copytree(data, d); return d


def test_truncated_clip_npz_train(data, tmp_path):
    d = _copy_data(data, tmp_path)
    clip = sorted((d/"clips").glob("*.npz"))[0]
    clip.write_bytes(clip.read_bytes()[:200])
    r = vp("train", *SMALL, "--data", d, "--out", tmp_path/"r", "--steps", 1, "--batch-size", 2, "--no-fgbg", "--no-progress",
           "--sample-every", -1, "--no-tensorboard")
    expect(r, "train", 2, clip.name)


def test_manifest_frames_larger_than_clip_train(data, tmp_path):
    d = _copy_data(data, tmp_path)
    man = json.loads((d/"manifest.json").read_text())
    man["clips"][0]["frames"] = 999
    (d/"manifest.json").write_text(json.dumps(man))
    r = vp("train", *SMALL, "--data", d, "--out", tmp_path/"r", "--steps", 1, "--batch-size", 2, "--no-fgbg", "--no-progress",
           "--sample-every", -1, "--no-tensorboard")
    expect(r, "train", 2, "999")


def test_animate_bad_fps_fails_before_work(run, face, tmp_path):
    src, clip = face
    r = vp("animate", "--checkpoint", run, "--source", src, "--driver", clip, "--out", tmp_path/"o.mp4",
           "--parser", "synth", "--segmenter", "synth", "--steps", 50, "--fps", -3)
    expect(r, "animate", 2, "--fps")
    assert r.seconds < 20 and not (tmp_path/"o.mp4").exists()


@pytest.mark.parametrize("cmd", ["train", "synth", "animate"])
def test_negative_seed(cmd, tmp_path, data, run, face):
    src, clip = face
    args = {"train": ["train", *SMALL, "--data", data, "--out", tmp_path/"r", "--steps", 1],
            "synth": ["synth", tmp_path/"s"],
            "animate": ["animate", "--checkpoint", run, "--source", src, "--driver", clip, "--out", tmp_path/"o.mp4",
                        "--parser", "synth"]}[cmd]
    expect(vp(*args, "--seed", -1), cmd, 2, "--seed")


def test_boundaries_not_numbers(face):
    src, clip = face
    expect(vp("evaluate", "--pred", clip, "--target", clip, "--backend", "synth", "--boundaries", "3,x"),
           "evaluate", 2, "--boundaries", "3,x")


def test_resume_with_other_motion(run, data, tmp_path):
    out = tmp_path/"run"; shutil.copytree(run, out)
    r = vp("train", *SMALL, "--model", "tiny", "--data", data, "--out", out, "--steps", 4, "--batch-size", 2,
           "--motion", "landmarks", "--no-fgbg", "--no-progress", "--sample-every", -1, "--no-tensorboard")
    line = expect(r, "train", 2, "--out", "new --out folder", "motion")
    assert "size mismatch" not in r.stderr


def test_animate_synth_source_without_face(run, face, tmp_path):
    import imageio.v2 as iio
    src, clip = face
    wall = tmp_path/"wall.png"; iio.imwrite(wall, np.full((64, 64, 3), 90, np.uint8))
    r = vp("animate", "--checkpoint", run, "--source", wall, "--driver", clip, "--out", tmp_path/"o.mp4",
           "--parser", "synth", "--segmenter", "synth", "--steps", 1)
    expect(r, "animate", 2, "wall.png", "no face")
    assert not (tmp_path/"o.mp4").exists()


def test_unexpected_error_is_one_line(tmp_path):
    "A bug (not the user's input) still prints one line, exit 1; VIVIDPORTRAITS_DEBUG=1 adds the traceback."
    code = ("import sys; from vividportraits import cli\n"
            "def boom(): raise RuntimeError('kaboom')\n"
            "cli.COMMANDS['info'] = (boom, None, {}, ())\n"
            "sys.exit(cli.main(['info']))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV)
    assert r.returncode == 1 and "Traceback" not in r.stderr and "unexpected RuntimeError: kaboom" in r.stderr, r.stderr
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**ENV, "VIVIDPORTRAITS_DEBUG": "1"})
    assert r.returncode == 1 and "Traceback" in r.stderr


def test_sigterm_is_130(tmp_path):
    "SIGTERM during a command: exit 130 with one line, no traceback."
    import signal
    p = subprocess.Popen([str(BIN/"vividportraits"), "synth", str(tmp_path/"s"), "--identities", "64", "--frames", "64",
                          "--size", "64"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    t0 = time.time()   # wait until the command is at work (its imports take seconds on a loaded machine)
    while not (tmp_path/"s"/"clips").exists() and p.poll() is None and time.time() - t0 < 120: time.sleep(0.2)
    time.sleep(1)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, (p.returncode, err[-2000:])
    assert "Traceback" not in err and "vividportraits synth: interrupted" in err
