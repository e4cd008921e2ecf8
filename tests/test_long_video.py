"""Long-video inference end to end: a checkpoint written like `train` writes it, animated from files with
`animate_file` (what `vividportraits animate` calls); bad inputs fail with errors naming the file; long schedules
cover every frame."""
from dataclasses import asdict

import imageio.v2 as iio
import numpy as np
import pytest
import torch

from vividportraits.long_video import (CONTEXT_SCHEDULERS, animate, animate_file, side_by_side_path, blend_weights, get_context_scheduler,
                                       load_driver, window_boundaries)

torch.set_num_threads(2)


def synth_cross(frames, size=64, seed=0):
    from vividportraits import synth
    ids = synth.identity_bank(seed, 2)
    bg, ex, po = synth.clip_spec(seed, 1, 0, frames)
    drv = synth.render_clip(ids[1], ex, po, bg, size)
    src = synth.render(ids[0], synth.neutral_expression(), synth.neutral_pose(), bg, size)
    return {"rgb": src["rgb"][0], "mask": src["mask"][0]}, drv


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    "A random tiny model (temporal layers on) saved the way `train` saves checkpoints."
    from vividportraits.model import VividPortraitsModel
    from vividportraits.checkpoint import save_checkpoint
    from vividportraits.config import TrainConfig
    cfg = TrainConfig(stage=2, init_from="unused")
    mcfg = cfg.model_config()
    torch.manual_seed(0)
    model = VividPortraitsModel(mcfg)
    run = tmp_path_factory.mktemp("run")
    save_checkpoint(run, 1, model, state={"train_config": cfg.to_dict(), "model_config": asdict(mcfg)})
    return run


@pytest.fixture(scope="module")
def clip_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("clip")
    src, drv = synth_cross(14)
    iio.imwrite(d/"source.png", src["rgb"])
    np.savez(d/"driver.npz", **{k: drv[k] for k in ("rgb", "parsing", "landmarks", "mask")})
    return d, src, drv


@pytest.mark.parametrize("strategy", ["independent", "overlap", "cyclic"])
def test_animate_file_writes_mp4(tiny_checkpoint, clip_files, strategy):
    d, _, _ = clip_files
    out = d/f"out_{strategy}.mp4"
    rep = animate_file(tiny_checkpoint, d/"source.png", d/"driver.npz", out, side_by_side=(strategy == "cyclic"),
                       strategy=strategy, window=8, overlap=2, steps=2, parser="synth", crop="center", progress=False)
    frames = np.stack(iio.mimread(out))
    assert frames.shape == (14, 64, 64, 3)  # the output alone; a side-by-side goes beside it, never into `out`
    sbs = side_by_side_path(out)
    assert sbs.exists() == (strategy == "cyclic")
    if sbs.exists(): assert np.stack(iio.mimread(sbs)).shape == (14, 64, 3 * 64, 3)  # source | driver | output
    assert rep["num_frames"] == 14 and rep["skipped"] == [] and rep["max_window_frames"] <= 8
    assert (d/f"out_{strategy}.json").exists()


def test_unreadable_video_names_the_file(tiny_checkpoint, clip_files, tmp_path):
    d, _, _ = clip_files
    bad = tmp_path/"talk.mp4"; bad.write_bytes(b"\x00\x01 definitely not an mp4" * 10)
    with pytest.raises(ValueError, match="talk.mp4: unreadable video"):
        animate_file(tiny_checkpoint, d/"source.png", bad, tmp_path/"o.mp4", parser="mediapipe", progress=False)
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        animate_file(tiny_checkpoint, d/"source.png", tmp_path/"missing.mp4", tmp_path/"o.mp4", progress=False)


def test_zero_length_driver(tiny_checkpoint, clip_files, tmp_path):
    d, src, drv = clip_files
    empty = tmp_path/"frames"; empty.mkdir()
    with pytest.raises(ValueError, match="frames: folder holds no images"):
        animate_file(tiny_checkpoint, d/"source.png", empty, tmp_path/"o.mp4", progress=False)
    np.savez(tmp_path/"empty.npz", parsing=drv["parsing"][:0])
    with pytest.raises(ValueError, match="empty.npz: zero-length driver"):
        animate_file(tiny_checkpoint, d/"source.png", tmp_path/"empty.npz", tmp_path/"o.mp4", parser="synth",
                     crop="center", progress=False)
    assert not (tmp_path/"o.mp4").exists()


def test_source_errors(tiny_checkpoint, clip_files, tmp_path):
    d, _, _ = clip_files
    wall = tmp_path/"wall.png"; iio.imwrite(wall, np.full((96, 96, 3), 90, np.uint8))
    with pytest.raises(ValueError, match="wall.png: no face found in the source"):
        animate_file(tiny_checkpoint, wall, d/"driver.npz", tmp_path/"o.mp4", progress=False)
    with pytest.raises(ValueError, match="mismatched sizes"):
        load_driver({"parsing": np.zeros((3, 64, 64), np.uint8), "rgb": np.zeros((3, 32, 32, 3), np.uint8)}, 64)


def test_lost_faces_are_filled_and_reported(clip_files):
    _, src, drv = clip_files
    from vividportraits.model import VividPortraitsModel, get_preset
    torch.manual_seed(0)
    model = VividPortraitsModel(get_preset("tiny")).eval()
    lms = drv["landmarks"].copy(); lms[[3, 4]] = np.nan  # the face was lost in frames 3 and 4
    rep = {}
    with pytest.warns(UserWarning, match="no face in 2 of 14 frames"):
        out = animate(model, src, {"parsing": drv["parsing"], "landmarks": lms}, "overlap", 8, 2, 1, parser="synth",
                      progress=False, report=rep)
    assert out.shape == (14, 64, 64, 3) and rep["skipped"] == [3, 4]


@pytest.mark.parametrize("name", sorted(CONTEXT_SCHEDULERS))
def test_300_frame_schedule_covers_every_frame(name):
    sch = get_context_scheduler(name)
    for step in range(25):
        ws = sch(300, 16, 4, step)
        assert sorted({i for w in ws for i in w}) == list(range(300))
        assert all(len(w) <= 16 for w in ws)
        tot = np.zeros(300)
        for w, b in zip(ws, blend_weights(ws, 300)): np.add.at(tot, w, b)
        np.testing.assert_allclose(tot, 1.0, atol=1e-12)
    if name == "cyclic":  # the boundaries move from step to step
        assert window_boundaries(sch(300, 16, 4, 0), 300) != window_boundaries(sch(300, 16, 4, 1), 300)


# ---- the real-video front end moved into `prepare`: the conditions `animate` gets must not change ------------------
# `_old_*` below is the driver front end long_video had before it called `prepare.analyse_video` (copied verbatim,
# reduced to the video path), built from prepare's unchanged primitives (detector, boxes, crop).

def _old_center_square(img, size=None):
    h, w = img.shape[:2]; s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    sq = img[y0:y0 + s, x0:x0 + s]
    if size is None or s == size: return np.ascontiguousarray(sq)
    t = torch.from_numpy(np.ascontiguousarray(sq))
    if img.ndim == 2:
        return torch.nn.functional.interpolate(t[None, None].float(), size=(size, size), mode="nearest-exact")[0, 0].to(t.dtype).numpy()
    x = t.permute(2, 0, 1)[None].float()
    y = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return y[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()


def _old_fill_missing(arrays, found):
    T = len(found); good = np.flatnonzero(found); t = np.arange(T)
    if found.all(): return dict(arrays)
    nearest = good[np.abs(t[:, None] - good[None, :]).argmin(1)]
    out = {}
    for k, a in arrays.items():
        if k == "landmarks":
            flat = a.reshape(T, -1).astype(np.float64)
            out[k] = np.stack([np.interp(t, good, flat[good, j]) for j in range(flat.shape[1])], 1).reshape(a.shape).astype(a.dtype)
        else: out[k] = a[nearest]
    return out


def _old_load_driver_video(path, size, motion, crop):
    from vividportraits.parsing import NoFaceError, get_landmarker, get_parser
    from vividportraits.prepare import FaceBoxDetector, crop_frame, iter_frames, smooth_boxes, square_box
    analyse = (get_parser("mediapipe", static=False).parse if motion == "parsing" else
               get_landmarker("mediapipe", static=False).detect)
    A = max(size, 256)
    boxes = None
    if crop == "face":
        det = FaceBoxDetector(); bs = []
        try:
            for f in iter_frames(path):
                d = det(f); bs.append(square_box(d[0], 0.5) if len(d) else np.full(3, np.nan, np.float32))
        finally: det.close()
        boxes = smooth_boxes(np.array(bs, np.float32).reshape(-1, 3), 2.0)
    conds, rgbs, found = [], [], []
    for i, frame in enumerate(iter_frames(path)):
        big = crop_frame(frame, boxes[i], A) if boxes is not None else _old_center_square(frame, A)
        rgbs.append(_old_center_square(big, size))
        try: r, ok = analyse(big), True
        except NoFaceError: r, ok = None, False
        found.append(ok)
        if motion == "parsing":
            conds.append(_old_center_square(np.asarray(r, np.uint8), size) if ok else np.zeros((size, size), np.uint8))
        else:
            conds.append(np.asarray(r, np.float32) * (size / A) if ok else np.full((68, 2), np.nan, np.float32))
    found = np.asarray(found)
    out = {"rgb": np.stack(rgbs), **_old_fill_missing({motion: np.stack(conds)}, found)}
    return dict(out, skipped=np.flatnonzero(~found).tolist())


@pytest.mark.parametrize("motion,crop", [("parsing", "face"), ("landmarks", "face"), ("parsing", "center")])
def test_video_driver_unchanged_by_the_move_to_prepare(tmp_path, motion, crop):
    pytest.importorskip("mediapipe")
    import skimage.data
    from vividportraits.core import write_video
    astro = skimage.data.astronaut()[:320, 60:380]
    clip = np.stack([np.roll(astro, 4 * i, axis=1) for i in range(6)]); clip[3] = 0  # frame 3 has no face
    write_video(clip, tmp_path/"astro.mp4", fps=12)
    new = load_driver(tmp_path/"astro.mp4", 64, motion, "mediapipe", crop=crop, progress=False)
    old = _old_load_driver_video(tmp_path/"astro.mp4", 64, motion, crop)
    assert new["skipped"] == old["skipped"] == ([3] if crop == "face" else new["skipped"])
    for k in ("rgb", motion):
        assert new[k].dtype == old[k].dtype and new[k].shape == old[k].shape
        np.testing.assert_array_equal(new[k], old[k], err_msg=f"{motion}/{crop}: {k} changed")
