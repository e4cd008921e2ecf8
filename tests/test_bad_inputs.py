"""Bad inputs to the lower floors (dataset, synth, prepare): each is rejected with an error that names the input and
what was expected, fast, and the cases that already worked keep working. Datasets are SynthPortraits at 3 identities,
4 frames, 32 px. Run with `-s` to see one `BAD-INPUT | kind | exception | seconds | first line` row per case."""
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from vividportraits.core import InputError, MissingExtraError, save_npz
from vividportraits.dataset import ClipDataset, FrameDataset, Manifest, read_clip
from vividportraits import synth

CFG = dict(identities=3, clips_per_identity=1, frames=4, size=32, test_fraction=0.0, seed=5, progress=False)
ROOT = Path(__file__).resolve().parents[1]


def rejects(kind, fn, exc, contains):
    "Call `fn`, expect `exc` whose message contains `contains`; print a table row; return the message."
    t0 = time.perf_counter()
    with pytest.raises(exc) as e: fn()
    secs = time.perf_counter() - t0
    msg = str(e.value)
    assert contains in msg, msg
    print(f"\nBAD-INPUT | {kind} | {type(e.value).__name__} | {secs:.2f} | {msg.splitlines()[0][:200]}")
    return msg


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return synth.generate_dataset(tmp_path_factory.mktemp("clean")/"ds", **CFG)


@pytest.fixture
def ds(clean, tmp_path):
    "A fresh copy of the tiny dataset to damage."
    return Path(shutil.copytree(clean, tmp_path/"ds", symlinks=True))


def set_entry(root, i=0, **kw):
    m = Manifest.load(root); m.clips[i].update(kw); m.save()
    return m.clips[i]["id"]


def edit_manifest(root, i=0, **kw):
    "Change a clip entry without Manifest.load (which would refuse the damaged manifest)."
    p = root/"manifest.json"; d = json.loads(p.read_text()); d["clips"][i].update(kw); p.write_text(json.dumps(d))


# ---- paths a manifest names -------------------------------------------------------------------------------------

def test_manifest_path_escaping_relative(ds, tmp_path):
    other = synth.generate_dataset(tmp_path/"other", **{**CFG, "seed": 6})
    assert other.exists()
    edit_manifest(ds, file="../other/clips/id0000_c00.npz")
    msg = rejects("manifest clip file '../other/...npz'", lambda: FrameDataset(ds), InputError, "resolves outside the dataset folder")
    assert "manifest.json clip 'id0000_c00'" in msg and "../other/clips/id0000_c00.npz" in msg
    # read_clip checks on its own too (an entry passed by hand)
    rejects("read_clip entry '../other/...npz'", lambda: read_clip(ds, {"id": "x", "file": "../other/clips/id0000_c00.npz"}),
            InputError, "resolves outside")


def test_manifest_path_absolute(ds):
    edit_manifest(ds, file="/etc/passwd")
    rejects("manifest clip file '/etc/passwd'", lambda: ClipDataset(ds), InputError, "is an absolute path")


def test_manifest_path_symlink_out(ds, tmp_path):
    outside = tmp_path/"outside.npz"; shutil.copy(ds/"clips"/"id0001_c00.npz", outside)
    (ds/"clips"/"sneaky.npz").symlink_to(outside)
    edit_manifest(ds, file="clips/sneaky.npz")
    rejects("manifest clip file = symlink leaving the folder", lambda: Manifest.load(ds), InputError, "resolves outside")
    # a symlink that stays inside the dataset is fine
    (ds/"clips"/"alias.npz").symlink_to(ds/"clips"/"id0001_c00.npz")
    edit_manifest(ds, file="clips/alias.npz")
    assert read_clip(ds, Manifest.load(ds).clips[0])["rgb"].shape == (4, 32, 32, 3)


# ---- damaged clip files ------------------------------------------------------------------------------------------

def test_truncated_npz(ds):
    f = ds/"clips"/"id0000_c00.npz"; data = f.read_bytes(); f.write_bytes(data[:len(data) // 3])
    msg = rejects("truncated clip npz", lambda: FrameDataset(ds)[0], InputError, "damaged or truncated clip file")
    assert str(f) in msg and "BadZipFile" in msg


def test_wrong_shape_arrays(ds):
    c = read_clip(ds, "id0000_c00")
    save_npz(ds/"clips"/"id0000_c00.npz", **{**c, "landmarks": c["landmarks"][:, :5]})
    msg = rejects("clip arrays of the wrong shape", lambda: ClipDataset(ds)[0], InputError, "landmarks: expected shape (4, 68, 2)")
    assert "id0000_c00.npz" in msg
    save_npz(ds/"clips"/"id0000_c00.npz", **{**c, "rgb": c["rgb"].astype(np.float32)})
    rejects("clip rgb of the wrong dtype", lambda: read_clip(ds, "id0000_c00"), InputError, "rgb: expected uint8")
    save_npz(ds/"clips"/"id0000_c00.npz", **{k: v for k, v in c.items() if k != "mask"})
    rejects("clip without its mask array", lambda: read_clip(ds, "id0000_c00"), InputError, "lacks arrays ['mask']")


def test_wrong_frame_size(ds):
    c = read_clip(ds, "id0000_c00")
    save_npz(ds/"clips"/"id0000_c00.npz", **{k: (v[:, :16, :16] if k in ("rgb", "parsing", "mask") else v) for k, v in c.items()})
    rejects("clip frames 16 px in a 32 px dataset", lambda: FrameDataset(ds)[0], InputError, "frames are 16 x 16 but the manifest says size 32")


def test_frame_count_larger_than_clip(ds):
    cid = set_entry(ds, frames=40)
    msg = rejects("manifest frames 40 > clip's 4", lambda: FrameDataset(ds)[20], InputError, "the manifest says 40 frames but")
    assert f"clip '{cid}'" in msg


def test_bad_frames_field(ds):
    edit_manifest(ds, frames="many")
    rejects("manifest frames 'many'", lambda: Manifest.load(ds), InputError, "'frames' must be a non-negative int")


# ---- writers: permissions, stale temporaries, seed ---------------------------------------------------------------

def test_file_modes(tmp_path):
    old = os.umask(0o022)
    try: root = synth.generate_dataset(tmp_path/"ds", **CFG)
    finally: os.umask(old)
    for f in (root/"manifest.json", root/"clips"/"id0000_c00.npz"):
        assert f.stat().st_mode & 0o777 == 0o644, (f, oct(f.stat().st_mode))


def test_stale_temp_cleanup(ds):
    stale = [ds/".manifest.json.a1b2c3d4.tmp", ds/"clips"/".id0000_c00.npz.zz_99xyz.tmp"]
    for f in stale: f.write_bytes(b"half"); os.utime(f, (time.time() - 3600,) * 2)
    fresh = ds/"clips"/".id0001_c00.npz.running.tmp"; fresh.write_bytes(b"in flight")  # a writer started after us
    os.utime(fresh, (time.time() + 60,) * 2)
    mine = ds/"notes.tmp"; mine.write_text("not the kit's")
    synth.generate_dataset(ds, **CFG)
    assert not any(f.exists() for f in stale) and fresh.exists() and mine.exists()


def test_seed_negative(tmp_path):
    rejects("synth seed -1", lambda: synth.generate_dataset(tmp_path/"ds", **{**CFG, "seed": -1}), ValueError,
            "seed: expected a non-negative int, got -1")
    assert not (tmp_path/"ds").exists()  # rejected before anything is written


# ---- prepare -----------------------------------------------------------------------------------------------------

def test_prepare_without_mediapipe(tmp_path):
    code = textwrap.dedent(f"""
        import sys; sys.modules["mediapipe"] = None   # as if `pip install vividportraits` without the [faces] extra
        from vividportraits.prepare import prepare
        from vividportraits.core import MissingExtraError
        try: prepare({str(tmp_path)!r}, {str(tmp_path/'out')!r}, progress=False)
        except MissingExtraError as e: print("CAUGHT", e); sys.exit(0)
        sys.exit(3)
    """)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    line = r.stdout.split("CAUGHT ", 1)[1].splitlines()[0]
    from vividportraits.core import install_hint   # the kit is on no registry: the extra from a clone or a built wheel
    assert install_hint("faces") in line and 'pip install -c constraints.txt ".[faces]"' in line, line
    assert "vividportraits[faces]" not in line and "ModuleNotFoundError" not in r.stderr
    print(f"\nBAD-INPUT | prepare without mediapipe (subprocess) | MissingExtraError | {time.perf_counter() - t0:.2f} | {line[:200]}")


@pytest.fixture
def corrupt_src(tmp_path):
    d = tmp_path/"src"; d.mkdir(); (d/"broken.mp4").write_bytes(b"\x00 not a video")
    return d


def test_prepare_rerun_message_and_changed_backends(corrupt_src, tmp_path, capsys):
    pytest.importorskip("mediapipe")
    from vividportraits.prepare import prepare
    out = tmp_path/"data"
    s = prepare(corrupt_src, out, size=64, progress=False)
    assert (s["failed"], s["failed_total"]) == (1, 1)
    assert s["message"] == f"prepared 0 of 1 clips; 1 failed (see {out/'manifest.json'})"
    capsys.readouterr()
    s2 = prepare(corrupt_src, out, size=64, progress=False)
    err = capsys.readouterr().err
    assert (s2["skipped_failed"], s2["failed"]) == (1, 0) and "skipped 1 clip(s) that failed" in err and "--retry-failed" in err
    # another parser setting than the one the clip failed with: the failed clip is tried again by itself
    s3 = prepare(corrupt_src, out, size=64, progress=False, parser_kw={"skin_k": 3.0})
    assert (s3["retried_changed"], s3["failed"], s3["skipped_failed"]) == (1, 1, 0)
    assert Manifest.load(out).clip("broken")["meta"]["backends"]["parser_kw"] == {"skin_k": "3.0"}
    with capsys.disabled():
        print(f"\nBAD-INPUT | prepare rerun with 1 failed clip | (summary, CLI exit 1) | - | {err.strip().splitlines()[0][:200]}")


def test_prepare_facer_weights_missing(corrupt_src, tmp_path):
    pytest.importorskip("mediapipe")
    from vividportraits.prepare import prepare
    (corrupt_src/"second.mp4").write_bytes(b"also broken")
    msg = rejects("prepare --parser facer, model file missing",
                  lambda: prepare(corrupt_src, tmp_path/"data", parser="facer", progress=False,
                                  parser_kw={"model_path": tmp_path/"missing.pt"}), InputError, "--model-path")
    assert "unreadable" not in msg and "model_path=" not in msg
    assert not (tmp_path/"data").exists()  # stopped before any video


def test_prepare_mediapipe_logs_quiet(tmp_path):
    pytest.importorskip("mediapipe")
    import skimage.data
    from vividportraits.core import write_video
    from vividportraits.testclips import affine_clip
    src = tmp_path/"src"; src.mkdir()
    write_video(affine_clip(skimage.data.astronaut(), frames=4, size=128, seed=1), src/"astro.mp4", fps=4)
    code = f"from vividportraits.prepare import prepare; print(prepare({str(src)!r}, {{out!r}}, size=64, progress=False)['message'])"
    runs = {}
    for verbose in ("0", "1"):
        r = subprocess.run([sys.executable, "-c", code.format(out=str(tmp_path/f"out{verbose}"))], capture_output=True,
                           text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "VIVIDPORTRAITS_VERBOSE": verbose},
                           timeout=300)
        assert r.returncode == 0 and "prepared 1 of 1 clips; 0 failed" in r.stdout, r.stderr
        runs[verbose] = r.stderr
    assert "inference_feedback_manager" not in runs["0"]
    assert "inference_feedback_manager" in runs["1"]  # the lines exist: the filter is what removes them
    assert Manifest.load(tmp_path/"out0").clip("astro")["meta"]["warnings"] == []


# ---- cases that already worked (keep them working) ---------------------------------------------------------------

def test_already_clear(ds, tmp_path):
    rejects("dataset folder without manifest", lambda: FrameDataset(tmp_path), FileNotFoundError, "no manifest")
    (ds/"manifest.json").write_text("{")
    rejects("manifest not JSON", lambda: Manifest.load(ds), ValueError, "not valid JSON")
    (ds/"manifest.json").write_text(json.dumps({"format": "vividportraits-dataset", "version": 7}))
    rejects("manifest of another format version", lambda: Manifest.load(ds), ValueError, "format version 7")
    rejects("clip id with a path", lambda: read_clip(ds, "../x"), ValueError, "clip: expected a non-empty id")
    other = synth.generate_dataset(tmp_path/"o", **CFG)
    (other/"clips"/"id0002_c00.npz").unlink()
    rejects("clip file deleted", lambda: read_clip(other, "id0002_c00"), FileNotFoundError, "clip file missing")
    rejects("synth into a dataset of another size", lambda: synth.generate_dataset(other, **{**CFG, "size": 48}),
            ValueError, "existing dataset has size 32")
    rejects("synth size 8", lambda: synth.generate_dataset(tmp_path/"x", **{**CFG, "size": 8}), ValueError, "size: expected an int >= 16")
    rejects("synth identities 0", lambda: synth.generate_dataset(tmp_path/"x", **{**CFG, "identities": 0}), ValueError,
            "identities: expected a positive int")


def test_prepare_already_clear(corrupt_src, tmp_path):
    pytest.importorskip("mediapipe")
    from vividportraits.prepare import prepare
    (tmp_path/"empty").mkdir()
    rejects("prepare src without videos", lambda: prepare(tmp_path/"empty", tmp_path/"o", progress=False), FileNotFoundError, "no videos")
    rejects("prepare workers 0", lambda: prepare(corrupt_src, tmp_path/"o", workers=0, progress=False), ValueError, "workers: expected")
    rejects("prepare --parser synth", lambda: prepare(corrupt_src, tmp_path/"o", parser="synth", progress=False), ValueError,
            "'synth' backends pass known ground truth")
    s = prepare(corrupt_src, tmp_path/"o", size=64, progress=False)
    reason = Manifest.load(tmp_path/"o").clip("broken")["reason"]
    assert s["failed"] == 1 and reason.startswith("unreadable: ") and "broken.mp4" in reason
    print(f"\nBAD-INPUT | prepare on a corrupt mp4 | recorded as failed (CLI exit 1) | - | {reason[:200]}")
