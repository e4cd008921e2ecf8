"""Metric throughput on CPU (frames/s) at 64 and 256 px: PSNR, SSIM, LPIPS (alex), the temporal measure, the synth
evaluator (when one is trained or shipped), dlib identity and MediaPipe expression. Frames are the astronaut, resized,
with noise. The machine is shared: read the figures together with the load average printed before and after.
Usage: python benchmarks/bench_metrics.py [--threads 2] [--frames 32]"""
import argparse
import os
import time

import numpy as np
import skimage.data
import skimage.transform
import torch

from vividportraits import metrics as M
from vividportraits.evaluators import load_synth_evaluator


def frames(size: int, n: int, seed: int = 0) -> torch.Tensor:
    a = skimage.transform.resize(skimage.data.astronaut()[:256, 96:352], (size, size), anti_aliasing=True)
    x = torch.from_numpy(a).permute(2, 0, 1).float()[None].repeat(n, 1, 1, 1)
    g = torch.Generator().manual_seed(seed)
    return (x + 0.03 * torch.randn(x.shape, generator=g)).clamp(0, 1)


def rate(fn, n: int, repeat: int = 2) -> float:
    fn()  # warm-up (model loading, caches)
    t = time.perf_counter()
    for _ in range(repeat): fn()
    return n * repeat / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--frames", type=int, default=32)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch threads {torch.get_num_threads()}, frames per call {args.frames}, load average before {os.getloadavg()}")
    ev = None
    try: ev = load_synth_evaluator()
    except FileNotFoundError as e: print("synth evaluator: skipped,", e)
    real_ok = True
    try: did, lex = M.dlib_identity(), M.landmark_expression()
    except ImportError as e: real_ok = False; print("real-face backends: skipped,", e)
    rows = []
    for size in (64, 256):
        p, t = frames(size, args.frames, 1), frames(size, args.frames, 2)
        n_real = min(args.frames, 8)
        bench = {
            "psnr": (lambda: M.psnr(p, t), args.frames),
            "ssim": (lambda: M.ssim(p, t), args.frames),
            "lpips_alex": (lambda: M.lpips_distance(p, t), args.frames),
            "temporal": (lambda: M.temporal_consistency(p, t, boundaries=[8]), args.frames),
        }
        if ev is not None:
            bench["synth_id+expr"] = (lambda: (ev.identity_similarity(t[:1], p), ev.expression_similarity(t, p)), args.frames)
        if real_ok:
            bench["dlib_identity"] = (lambda: did(p[:n_real]), n_real)
            bench["mediapipe_expression"] = (lambda: lex.compare(t[:n_real], p[:n_real]), n_real)
        for name, (fn, n) in bench.items():
            fps = rate(fn, n, repeat=1 if name in ("dlib_identity", "mediapipe_expression") else 2)
            rows.append((size, name, fps)); print(f"{size:4d} px  {name:22s} {fps:10.1f} frames/s", flush=True)
    print(f"load average after {os.getloadavg()} (2-core machine shared with other jobs: figures are noisy)")


if __name__ == "__main__":
    main()
