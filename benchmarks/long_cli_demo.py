#!/usr/bin/env python
"""A long SynthPortraits cross-reenactment rendered from the CLI with each long-video strategy, and its seams.

1. Writes a held-out cross-reenactment into --workdir: `source.png` (identity A, neutral), `driver.npz` (identity B
   talking for --frames frames, dataset clip format: rgb, parsing, landmarks, mask) and `target.npz` (A with B's motion:
   the ground truth). Identities come from `synth.identity_bank(--id-seed)`, a seed no training set uses.
2. Runs `vividportraits animate --checkpoint CKPT --source source.png --driver driver.npz --parser synth ...` once per
   strategy (independent, overlap, cyclic) and times it; the person mask of the source comes from the CLI's default
   MediaPipe segmenter, as it would for a user's photo.
3. Reads the mp4s back and scores them against the ground truth: PSNR, and `metrics.temporal_consistency` (error of
   the frame-to-frame change vs the ground truth's) at the boundaries of the fixed --window grid vs inside it
   (cyclic and overlap have no fixed boundaries, so the same grid is the comparison point for all three).
4. Writes a figure (--figure): per-transition temporal error along the clip for the three strategies, grid boundaries
   marked; prints one JSON line.

Example:
  python benchmarks/long_cli_demo.py --checkpoint runs/tiny10-s2 --frames 300 --figure docs/figures/seams_tiny10.png
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_inputs(work: Path, frames: int, size: int, id_seed: int):
    from vividportraits import synth
    from PIL import Image
    ids = synth.identity_bank(id_seed, 2)
    bg_a, _, _ = synth.clip_spec(id_seed, 0, 0, frames)
    bg_b, ex, po = synth.clip_spec(id_seed, 1, 0, frames)
    drv = synth.render_clip(ids[1], ex, po, bg_b, size)
    tgt = synth.render_clip(ids[0], ex, po, bg_a, size)
    src = synth.render(ids[0], synth.neutral_expression(), synth.neutral_pose(), bg_a, size)
    work.mkdir(parents=True, exist_ok=True)
    Image.fromarray(src["rgb"][0]).save(work/"source.png")
    np.savez(work/"driver.npz", **{k: drv[k] for k in ("rgb", "parsing", "landmarks", "mask")})
    np.savez(work/"target.npz", rgb=tgt["rgb"])
    return tgt["rgb"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--workdir", default="runs/long_cli_demo")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--window", type=int, default=8); ap.add_argument("--overlap", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--id-seed", type=int, default=2027)
    ap.add_argument("--strategies", nargs="+", default=["independent", "overlap", "cyclic"])
    ap.add_argument("--figure", default=None, help="PNG of the per-transition temporal error")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    from vividportraits.core import hardware
    from vividportraits.long_video import get_context_scheduler, window_boundaries
    from vividportraits.metrics import psnr, temporal_consistency
    from vividportraits.metrics_io import read_frames
    from vividportraits.checkpoint import load_checkpoint
    model, _ = load_checkpoint(a.checkpoint)
    S = model.config.image_size
    work = Path(a.workdir)
    tgt = write_inputs(work, a.frames, S, a.id_seed)
    target = torch.from_numpy(tgt).permute(0, 3, 1, 2).float() / 255
    grid = window_boundaries(get_context_scheduler("independent")(a.frames, a.window, 0, 0), a.frames)
    exe = Path(sys.executable).with_name("vividportraits")
    res = {"checkpoint": str(a.checkpoint), "temporal_layers": model.config.temporal, "frames": a.frames,
           "window": a.window, "overlap": a.overlap, "steps": a.steps, "id_seed": a.id_seed, "strategies": {},
           "hardware": hardware(), "load_before": [round(x, 2) for x in os.getloadavg()]}
    curves = {}
    for s in a.strategies:
        out = work/f"out_{s}.mp4"
        cmd = [str(exe), "animate", "--checkpoint", str(a.checkpoint), "--source", str(work/"source.png"),
               "--driver", str(work/"driver.npz"), "--parser", "synth", "--strategy", s, "--window", str(a.window),
               "--overlap", str(a.overlap), "--steps", str(a.steps), "--out", str(out)]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        dt = time.perf_counter() - t0
        pred = torch.from_numpy(read_frames(out)).permute(0, 3, 1, 2).float() / 255
        if pred.shape != target.shape: raise RuntimeError(f"{out}: {tuple(pred.shape)} frames, expected {tuple(target.shape)}")
        r = temporal_consistency(pred, target, grid)
        d = (pred[1:] - pred[:-1]) - (target[1:] - target[:-1])
        curves[s] = d.abs().mean((1, 2, 3)).numpy()
        res["strategies"][s] = {"seconds": round(dt, 1), "frames_per_s": round(a.frames / dt, 2),
                                "psnr": float(psnr(pred, target).mean()), **{k: r[k] for k in
                                ("temporal_err", "temporal_err_boundary", "temporal_err_interior", "seam_ratio", "n_boundaries")}}
        print(f"{s:11s}: {dt:6.1f} s, seam ratio {r['seam_ratio']:.3f} (boundary {r['temporal_err_boundary']:.4f} / "
              f"interior {r['temporal_err_interior']:.4f}), temporal_err {r['temporal_err']:.4f}, "
              f"PSNR {res['strategies'][s]['psnr']:.2f}", flush=True)
    if a.figure:
        import matplotlib; matplotlib.use("Agg")
        import matplotlib.pyplot as plt, seaborn as sns
        sns.set_theme(style="whitegrid")
        fig, axes = plt.subplots(2, 1, figsize=(11, 5.5), gridspec_kw={"height_ratios": [2, 1]})
        for s, c in curves.items(): axes[0].plot(np.arange(1, a.frames), c, lw=0.9, label=s)
        for b in grid: axes[0].axvline(b, color="grey", lw=0.4, alpha=0.5)
        axes[0].set(xlabel=f"frame transition (grey: {a.window}-frame window grid)", ylabel="|Δpred - Δtruth|",
                    title=f"temporal error along a {a.frames}-frame cross-reenactment ({Path(a.checkpoint).name}, "
                          f"window {a.window}, overlap {a.overlap}, {a.steps} DDIM steps)")
        axes[0].legend(loc="upper right")
        rows = [{"strategy": s, "where": w, "temporal error": v[f"temporal_err_{w}"]}
                for s, v in res["strategies"].items() for w in ("boundary", "interior")]
        import pandas as pd
        sns.barplot(pd.DataFrame(rows), x="strategy", y="temporal error", hue="where", ax=axes[1])
        axes[1].set(title="at the window-grid boundaries vs inside")
        fig.tight_layout(); Path(a.figure).parent.mkdir(parents=True, exist_ok=True); fig.savefig(a.figure, dpi=110)
        res["figure"] = a.figure
    line = json.dumps(res, default=str)
    print(line)
    if a.json: Path(a.json).write_text(line + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
