#!/usr/bin/env python
"""Cross-reenactment of held-out SynthPortraits identities by a trained checkpoint: a figure and its numbers.

Source A and driver B are drawn from `synth.identity_bank(--id-seed, ...)`, a seed no training set of this kit uses
(training sets use the run seed, 0 by default), so both identities are new to the model. The ground truth is A rendered
with B's expression and pose over A's background. Two references are scored beside the model, on the same frames:
`static source` (every output frame = the source image: perfect identity, no motion) and the ground truth itself (the
ceiling of each metric on this clip); and, as a control for the expression scores, the model's output scored against
another pair's driver (a motion it never saw).

Writes `--out` (PNG: rows driver | output | ground truth, the source in the first column, magnified --scale times)
and prints the mean metrics per output and one JSON line.

Example:
  python benchmarks/demo_cross.py --checkpoint runs/tiny10 --out docs/figures/tiny10_cross.png
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def held_out_cross(frames: int, size: int, id_seed: int, pair: int = 0):
    "Source A (neutral), driver clip B, ground truth A-with-B's-motion, from identities no training set uses."
    from vividportraits import synth
    ids = synth.identity_bank(id_seed, 2 * pair + 2)[2 * pair:]
    bg_a, _, _ = synth.clip_spec(id_seed, 2 * pair, 0, frames)
    bg_b, ex, po = synth.clip_spec(id_seed, 2 * pair + 1, 0, frames)
    drv = synth.render_clip(ids[1], ex, po, bg_b, size)
    tgt = synth.render_clip(ids[0], ex, po, bg_a, size)
    src = synth.render(ids[0], synth.neutral_expression(), synth.neutral_pose(), bg_a, size)
    return {"rgb": src["rgb"][0], "mask": src["mask"][0]}, drv, tgt


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, help="checkpoint folder or training run folder")
    ap.add_argument("--out", required=True, help="output PNG")
    ap.add_argument("--frames", type=int, default=32, help="clip length")
    ap.add_argument("--show", type=int, default=8, help="frames shown in the figure (evenly spaced)")
    ap.add_argument("--pairs", type=int, default=4, help="identity pairs scored (the first one is drawn)")
    ap.add_argument("--id-seed", type=int, default=2026, help="identity seed (not a training seed)")
    ap.add_argument("--steps", type=int, default=20); ap.add_argument("--sampler", default="ddim")
    ap.add_argument("--strategy", default="cyclic"); ap.add_argument("--window", type=int, default=8)
    ap.add_argument("--overlap", type=int, default=2)
    ap.add_argument("--scale", type=int, default=3, help="figure magnification (nearest neighbour)")
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    from vividportraits.core import hardware
    from vividportraits.long_video import animate
    from vividportraits.metrics import evaluate
    from vividportraits.evaluators import load_synth_evaluator
    from vividportraits.synth import renderer_version
    from vividportraits.checkpoint import load_checkpoint
    from vividportraits.train import save_png
    model, mc = load_checkpoint(a.checkpoint)
    S = model.config.image_size
    ev = load_synth_evaluator(renderer_version=renderer_version())
    t0 = time.perf_counter()
    rows, fig = [], None
    clips = [held_out_cross(a.frames, S, a.id_seed, p) for p in range(a.pairs)]
    for p in range(a.pairs):
        src, drv, tgt = clips[p]
        driver = {k: drv[k] for k in ("parsing", "landmarks", "rgb")}
        out = animate(model, src, driver, a.strategy, a.window, a.overlap, a.steps, parser="synth",
                      sampler=a.sampler, seed=p, progress=False)
        static = np.repeat(src["rgb"][None], a.frames, 0)
        for name, pred in (("model", out), ("static source", static), ("ground truth", tgt["rgb"])):
            r = evaluate(pred, tgt["rgb"], src["rgb"][None], drv["rgb"], evaluator=ev)
            rows.append({"pair": p, "output": name, **{k: r[k] for k in ("id_sim", "expr_sim", "expr_corr", "ssim",
                                                                        "psnr", "lpips") if k in r}})
        if a.pairs > 1:  # control: the same output scored against another pair's driver (motion it never saw)
            other = clips[(p + 1) % a.pairs][1]["rgb"]
            r = evaluate(out, None, src["rgb"][None], other, evaluator=ev)
            rows.append({"pair": p, "output": "model vs another driver",
                         **{k: r[k] for k in ("id_sim", "expr_sim", "expr_corr") if k in r}})
        if p == 0:
            idx = np.linspace(0, a.frames - 1, a.show).round().astype(int)
            blank = np.full_like(src["rgb"], 255)
            strip = lambda first, frames: np.concatenate([first] + [frames[i] for i in idx], 1)
            fig = np.concatenate([strip(src["rgb"], drv["rgb"]), strip(blank, out), strip(blank, tgt["rgb"])], 0)
    save_png(np.kron(fig, np.ones((a.scale, a.scale, 1), np.uint8)) if a.scale > 1 else fig, a.out)
    import pandas as pd
    df = pd.DataFrame(rows)
    summary = df.groupby("output", sort=False).mean(numeric_only=True).drop(columns="pair").round(4)
    print(summary.to_string())
    print(json.dumps({"checkpoint": str(a.checkpoint), "figure": a.out, "pairs": a.pairs, "frames": a.frames,
                      "id_seed": a.id_seed, "steps": a.steps, "sampler": a.sampler, "strategy": a.strategy,
                      "window": a.window, "overlap": a.overlap, "prediction_type": mc.prediction_type,
                      "means": summary.to_dict(orient="index"), "seconds": round(time.perf_counter() - t0, 1),
                      "hardware": hardware()}, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
