"""Long-video inference end to end: a checkpoint written like `train` writes it, animated from files with
`animate_file` (what `vividportraits animate` calls); bad inputs fail with errors naming the file; long schedules
cover every frame."""
from dataclasses import asdict

import imageio.v2 as iio
import numpy as np
import pytest
import torch

from vividportraits.long_video import (CONTEXT_SCHEDULERS, animate, animate_file, blend_weights, get_context_scheduler,
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
    assert frames.shape == (14, 64, 64 * (3 if strategy == "cyclic" else 1), 3)
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
