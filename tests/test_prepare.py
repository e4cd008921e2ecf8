"""`prepare` end to end on generated clips: a good astronaut clip and a corrupt file in a temp folder. The corrupt one
is logged as failed with its reason, the good one is ok and readable by the training dataset, a killed half-written
clip is redone, and a second run skips finished work (also with two worker processes)."""
import json
from pathlib import Path

import numpy as np
import pytest
import skimage.data

pytest.importorskip("mediapipe")

from vividportraits.core import write_video, LABEL
from vividportraits.dataset import FrameDataset, Manifest, read_clip
from vividportraits.prepare import prepare, read_video, VideoReadError
from vividportraits.testclips import affine_clip


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    d = tmp_path_factory.mktemp("src")
    write_video(affine_clip(skimage.data.astronaut(), frames=8, size=256, seed=3), d/"astro.mp4", fps=8)
    (d/"corrupt.mp4").write_bytes(b"\x00\x01 definitely not an mp4")
    return d


def test_prepare_good_and_corrupt(src, tmp_path):
    out = tmp_path/"data"
    s = prepare(src, out, size=96, progress=False)
    assert (s["ok"], s["failed"], s["skipped"], s["frames"]) == (1, 1, 0, 8)
    m = Manifest.load(out)
    good, bad = m.clip("astro"), m.clip("corrupt")
    assert good["status"] == "ok" and good["frames"] == 8 and good["meta"]["frames_detected"] == 4
    assert bad["status"] == "failed" and bad["reason"].startswith("unreadable") and "corrupt.mp4" in bad["reason"]
    assert not (out/"clips"/"corrupt.npz").exists()
    clip = read_clip(out, "astro")
    assert clip["rgb"].shape == (8, 96, 96, 3) and clip["parsing"].max() < 11 and clip["mask"].max() == 1
    assert all((clip["parsing"][t] == LABEL["nose"]).any() for t in range(8))
    ds = FrameDataset(out)
    assert len(ds) == 8 and ds[3]["rgb"].shape == (3, 96, 96) and ds[3]["landmarks"].shape == (68, 2)

    # a second run skips both (the failed one too, unless asked to retry)
    s2 = prepare(src, out, size=96, progress=False)
    assert (s2["ok"], s2["failed"], s2["skipped"]) == (0, 0, 2)
    s3 = prepare(src, out, size=96, progress=False, retry_failed=True)
    assert (s3["ok"], s3["failed"], s3["skipped"]) == (0, 1, 1)

    # a partial clip (file lost after a kill, entry left behind) is redone; stray temp files do not matter
    (out/"clips"/"astro.npz").unlink()
    (out/"clips"/".astro.npz.x.tmp").write_bytes(b"half")
    s4 = prepare(src, out, size=96, progress=False)
    assert (s4["ok"], s4["skipped"]) == (1, 1)
    assert read_clip(out, "astro")["rgb"].shape == (8, 96, 96, 3)
    json.loads((out/"manifest.json").read_text())  # the manifest is valid JSON after every run


def test_prepare_two_workers(src, tmp_path):
    s = prepare(src, tmp_path/"data", size=64, workers=2, progress=False)
    assert (s["ok"], s["failed"]) == (1, 1)
    assert Manifest.load(tmp_path/"data").clip("astro")["status"] == "ok"


def test_read_video_errors(src, tmp_path):
    assert read_video(src/"astro.mp4").shape == (8, 256, 256, 3)
    with pytest.raises(VideoReadError, match="unreadable video"): read_video(src/"corrupt.mp4")
    (tmp_path/"empty").mkdir()
    with pytest.raises(VideoReadError, match="holds no images"): read_video(tmp_path/"empty")
    with pytest.raises(FileNotFoundError, match="no videos"): prepare(tmp_path/"empty", tmp_path/"o", progress=False)


def test_no_face_is_logged(tmp_path):
    d = tmp_path/"src"; d.mkdir()
    write_video(np.full((5, 64, 64, 3), 120, np.uint8), d/"wall.mp4", fps=5)
    s = prepare(d, tmp_path/"data", size=64, progress=False)
    assert s["failed"] == 1
    e = Manifest.load(tmp_path/"data").clip("wall")
    assert e["reason"] == "no face: no face detected in any of 5 frames"
