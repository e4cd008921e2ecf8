#!/usr/bin/env python
"""Long-video inference benchmark (issue 6): memory bound, seams per context strategy, throughput.

Parts (default: memory + throughput, plus seams when a checkpoint is given or found):
  memory      peak RSS of `animate` for a 64-frame and a 1,000-frame driver at the tiny preset, each in its own
              subprocess (resource.getrusage maxrss); target: difference < 10 %
  throughput  frames/s of `animate` for the tiny preset on this CPU
  seams       SynthPortraits cross-reenactment clip with ground truth, for independent / overlap / cyclic: the
              temporal error (metrics.temporal_consistency: error of frame-to-frame differences vs ground truth)
              at window boundaries vs inside windows; needs a trained tiny checkpoint (--checkpoint)
  --gpu       sd15 preset, 512 px, 25 DDIM steps, 24 frames, random init, bf16 autocast; JSON to
              $OUT/bench_long_video_gpu.json when $OUT is set (--dry-run: tiny shapes on the CPU, to test the path)

Examples:
  python benchmarks/bench_long_video.py                          # memory + throughput (+ seams if a checkpoint is found)
  python benchmarks/bench_long_video.py --parts seams --checkpoint runs/train-stage2
  python benchmarks/bench_long_video.py --gpu --dry-run
  python benchmarks/bench_long_video.py --gpu                    # on a CUDA machine
Timings on a shared machine are noisy: every report prints the load average.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def synth_cross(frames: int, size: int = 64, seed: int = 0):
    "SynthPortraits cross-reenactment: source = identity A (neutral), driver = B talking, target = A with B's motion."
    from vividportraits import synth
    ids = synth.identity_bank(seed, 2)
    bg, ex, po = synth.clip_spec(seed, 1, 0, frames)
    drv = synth.render_clip(ids[1], ex, po, bg, size)
    tgt = synth.render_clip(ids[0], ex, po, bg, size)
    src = synth.render(ids[0], synth.neutral_expression(), synth.neutral_pose(), bg, size)
    return {"rgb": src["rgb"][0], "mask": src["mask"][0]}, drv, tgt


def random_model(preset: str = "tiny", device="cpu", seed: int = 0, **overrides):
    from vividportraits.model import VividPortraitsModel, get_preset
    torch.manual_seed(seed)
    with torch.device(device):
        return VividPortraitsModel(get_preset(preset, temporal=True, **overrides)).eval()


# ---------------------------------------------------------------- memory
def mem_child(frames: int, steps: int, window: int, overlap: int, strategy: str) -> dict:
    "Runs in a fresh interpreter: animate `frames` frames with a random tiny model, report peak RSS."
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    from vividportraits.long_video import animate
    src, drv, _ = synth_cross(frames)
    driver = {"parsing": drv["parsing"]}      # the compact condition arrays only
    del drv
    model = random_model()
    rss0 = maxrss_mb(); t0 = time.perf_counter(); rep = {}
    out = animate(model, src, driver, strategy, window, overlap, steps, parser="synth", progress=False, report=rep)
    return {"frames": frames, "steps": steps, "strategy": strategy, "window": window, "overlap": overlap,
            "peak_rss_mb": round(maxrss_mb(), 1), "rss_before_animate_mb": round(rss0, 1),
            "seconds": round(time.perf_counter() - t0, 1), "model_calls": rep["model_calls"],
            "output_mb": round(out.nbytes / 2**20, 1), "load": load()}


def part_memory(args) -> dict:
    res = {}
    for T in args.mem_frames:
        cmd = [sys.executable, __file__, "--_mem-child", str(T), "--mem-steps", str(args.mem_steps),
               "--window", str(args.window), "--overlap", str(args.overlap), "--strategy", args.strategy]
        print(f"memory: {T} frames, {args.mem_steps} step(s), {args.strategy} ...", flush=True)
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if r.returncode != 0: raise RuntimeError(f"memory child ({T} frames) failed:\n{r.stderr[-3000:]}")
        res[T] = json.loads(r.stdout.strip().splitlines()[-1])
        print(f"  peak RSS {res[T]['peak_rss_mb']:.0f} MB (before animate {res[T]['rss_before_animate_mb']:.0f} MB), "
              f"{res[T]['seconds']:.0f} s, {res[T]['model_calls']} window calls, load {res[T]['load']}", flush=True)
    a, b = (res[T]["peak_rss_mb"] for T in args.mem_frames[:2])
    diff = (b - a) / a * 100
    print(f"memory: {args.mem_frames[0]} -> {args.mem_frames[1]} frames: {a:.0f} -> {b:.0f} MB peak RSS, "
          f"{diff:+.1f} % (target < 10 %: {'OK' if diff < 10 else 'FAIL'})")
    return {"runs": res, "difference_percent": round(diff, 2), "target_percent": 10, "ok": diff < 10}


# ---------------------------------------------------------------- throughput
def part_throughput(args) -> dict:
    from vividportraits.long_video import animate
    torch.set_num_threads(args.threads)
    src, drv, _ = synth_cross(args.tp_frames)
    model = random_model()
    animate(model, src, {"parsing": drv["parsing"][:4]}, "cyclic", 4, 1, 1, parser="synth", progress=False)  # warm-up
    res = {}
    for strategy in args.tp_strategies:
        rep = {}; t0 = time.perf_counter()
        animate(model, src, {"parsing": drv["parsing"]}, strategy, args.window, args.overlap, args.tp_steps,
                parser="synth", progress=False, report=rep)
        dt = time.perf_counter() - t0
        res[strategy] = {"frames": args.tp_frames, "steps": args.tp_steps, "seconds": round(dt, 2),
                         "frames_per_s": round(args.tp_frames / dt, 3), "model_calls": rep["model_calls"],
                         "window_calls_per_s": round(rep["model_calls"] / rep["seconds"]["denoise"], 3), "load": load()}
        print(f"throughput tiny/CPU ({args.threads} threads), {strategy}: {args.tp_frames} frames x {args.tp_steps} steps "
              f"in {dt:.1f} s = {args.tp_frames / dt:.3f} frames/s ({rep['model_calls']} window calls), load {load()}",
              flush=True)
    return res


# ---------------------------------------------------------------- seams
def find_checkpoint() -> Path | None:
    runs = ROOT/"runs"
    if not runs.is_dir(): return None
    cands = sorted(runs.rglob("state.json"), key=lambda p: p.stat().st_mtime)
    for p in reversed(cands):
        if (p.parent/"model.safetensors").exists():
            try:
                st = json.loads(p.read_text())
                if st.get("model_config", {}).get("name") == "tiny": return p.parent
            except (OSError, ValueError): pass
    return None


def part_seams(args) -> dict:
    from vividportraits.long_video import animate, get_context_scheduler, window_boundaries
    from vividportraits.metrics import temporal_consistency
    torch.set_num_threads(args.threads)
    if args.checkpoint:
        from vividportraits.checkpoint import load_checkpoint
        model, mcfg = load_checkpoint(args.checkpoint)
        pred_type, what = mcfg.prediction_type, str(args.checkpoint)
        if model.config.motion != "parsing" and model.config.motion not in ("landmarks", "rgb"):
            raise ValueError(f"unexpected motion {model.config.motion!r}")
    elif args.allow_random:
        model, pred_type, what = random_model(), "epsilon", "random init (code-path check only: numbers meaningless)"
    else:
        msg = ("seams: skipped: needs a trained tiny checkpoint (pass --checkpoint RUN_OR_CHECKPOINT_FOLDER; none found "
               "under runs/). A random model makes noise, whose seams mean nothing.")
        print(msg); return {"skipped": msg}
    S = model.config.image_size
    T = args.seam_frames
    src, drv, tgt = synth_cross(T, S, seed=args.seed)
    target = torch.from_numpy(tgt["rgb"]).permute(0, 3, 1, 2).float() / 255
    driver = {k: drv[k] for k in ("parsing", "landmarks", "rgb")}
    note = None if model.config.temporal else ("model has no temporal layers (stage 1): frames are denoised "
                                               "independently, so all strategies give the same frames by construction")
    res = {"checkpoint": what, "frames": T, "steps": args.seam_steps, "window": args.window, "overlap": args.overlap,
           "temporal_layers": model.config.temporal, "note": note, "strategies": {}}
    grid = window_boundaries(get_context_scheduler("independent")(T, args.window, 0, 0), T)
    for strategy in ("independent", "overlap", "cyclic"):
        t0 = time.perf_counter()
        frames = animate(model, src, driver, strategy, args.window, args.overlap, args.seam_steps, parser="synth",
                         prediction_type=pred_type, seed=args.seed, progress=False)
        pred = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255
        sch = get_context_scheduler(strategy)
        own = window_boundaries(sch(T, args.window, args.overlap, args.seam_steps - 1), T)  # the last step's windows
        r_own = temporal_consistency(pred, target, own)
        r_grid = temporal_consistency(pred, target, grid)
        mse = float(((pred - target) ** 2).mean())
        res["strategies"][strategy] = {"own_boundaries_last_step": own, "at_own_boundaries": r_own,
                                       "at_fixed_grid": r_grid, "mse_vs_target": mse,
                                       "seconds": round(time.perf_counter() - t0, 1)}
        print(f"seams {strategy:11s}: temporal_err boundary {r_own['temporal_err_boundary']:.4f} vs interior "
              f"{r_own['temporal_err_interior']:.4f} (ratio {r_own['seam_ratio']:.3f}, {r_own['n_boundaries']} boundaries "
              f"of the last step's windows); on the fixed {args.window}-frame grid ratio {r_grid['seam_ratio']:.3f}; "
              f"overall {r_own['temporal_err']:.4f}; load {load()}", flush=True)
    if note: print("seams: note:", note)
    return res


# ---------------------------------------------------------------- GPU
def part_gpu(args) -> dict:
    from vividportraits.core import hardware
    from vividportraits.long_video import animate
    dry = args.dry_run
    device = "cpu" if dry else "cuda"
    if not dry and not torch.cuda.is_available(): raise RuntimeError("--gpu: torch sees no CUDA device (use --dry-run)")
    preset, frames, steps = ("tiny", 6, 2) if dry else ("sd15", args.gpu_frames, args.gpu_steps)
    t0 = time.perf_counter()
    model = random_model(preset, device)
    build_s = time.perf_counter() - t0
    S = model.config.image_size
    src, drv, _ = synth_cross(frames, S)
    driver = {"parsing": drv["parsing"]}
    out = {"preset": preset, "image_size": S, "frames": frames, "steps": steps, "sampler": "ddim", "dtype": "bf16 autocast"
           if not dry else "fp32 (cpu dry run)", "params": model.count_parameters(), "build_seconds": round(build_s, 1),
           "hardware": hardware(), "dry_run": dry, "runs": {}}
    configs = [("single_window", "overlap", frames, 0),        # all frames in one window: comparable to the anchor
               ("cyclic_16_4", "cyclic", min(16, frames - 1) if dry else 16, 4 if not dry else 1),
               ("overlap_16_4", "overlap", min(16, frames - 1) if dry else 16, 4 if not dry else 1),
               ("independent_16", "independent", min(16, frames - 1) if dry else 16, 0)]
    animate(model, src, {"parsing": driver["parsing"][:2]}, "cyclic", 2, 0, 1, parser="synth", progress=False)  # warm-up
    for name, strategy, window, overlap in configs:
        if device == "cuda": torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats()
        rep = {}; t1 = time.perf_counter()
        animate(model, src, driver, strategy, window, overlap, steps, parser="synth", progress=False, report=rep)
        if device == "cuda": torch.cuda.synchronize()
        dt = time.perf_counter() - t1
        r = {"strategy": strategy, "window": window, "overlap": overlap, "seconds": round(dt, 3),
             "frames_per_s": round(frames / dt, 3), "model_calls": rep["model_calls"],
             "denoise_seconds": round(rep["seconds"]["denoise"], 3), "decode_seconds": round(rep["seconds"]["decode"], 3),
             "window_calls_per_s": round(rep["model_calls"] / max(rep["seconds"]["denoise"], 1e-9), 2)}
        if device == "cuda": r["peak_gpu_mem_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        out["runs"][name] = r
        print(f"gpu{' (dry run)' if dry else ''} {preset} {S}px, {frames} frames x {steps} DDIM steps, {name}: "
              f"{dt:.2f} s = {frames / dt:.2f} frames/s ({rep['model_calls']} window calls, denoise "
              f"{rep['seconds']['denoise']:.2f} s, decode {rep['seconds']['decode']:.2f} s"
              f"{', peak %.1f GB' % r['peak_gpu_mem_gb'] if 'peak_gpu_mem_gb' in r else ''}), load {load()}", flush=True)
    out["anchor"] = "bare SD-1.5 UNet forward over 24 frames: 13.5 frames/s at 25 steps on one H200, bf16, eager"
    out["load"] = load()
    dest = os.environ.get("OUT")
    if dest:
        p = Path(dest)/"bench_long_video_gpu.json"; p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(out, indent=2, default=str)); print("wrote", p)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", nargs="+", default=None, choices=["memory", "throughput", "seams"],
                    help="which CPU parts to run (default: memory throughput, and seams when a checkpoint is found)")
    ap.add_argument("--checkpoint", default=None, help="trained tiny checkpoint or run folder for the seams part")
    ap.add_argument("--allow-random", action="store_true", help="seams with a random model (tests the code path only)")
    ap.add_argument("--window", type=int, default=16); ap.add_argument("--overlap", type=int, default=4)
    ap.add_argument("--strategy", default="cyclic", help="strategy of the memory runs")
    ap.add_argument("--mem-frames", type=int, nargs=2, default=[64, 1000])
    ap.add_argument("--mem-steps", type=int, default=1, help="denoising steps of the memory runs (few: RSS does not depend on them)")
    ap.add_argument("--tp-frames", type=int, default=24); ap.add_argument("--tp-steps", type=int, default=5)
    ap.add_argument("--tp-strategies", nargs="+", default=["cyclic"])
    ap.add_argument("--seam-frames", type=int, default=64); ap.add_argument("--seam-steps", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--gpu", action="store_true", help="the sd15 / 512 px / 25 DDIM steps / 24 frames GPU measurement")
    ap.add_argument("--gpu-frames", type=int, default=24); ap.add_argument("--gpu-steps", type=int, default=25)
    ap.add_argument("--dry-run", action="store_true", help="with --gpu: tiny shapes on the CPU")
    ap.add_argument("--json", default=None, help="also write all results to this JSON file")
    ap.add_argument("--_mem-child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._mem_child is not None:
        print(json.dumps(mem_child(args._mem_child, args.mem_steps, args.window, args.overlap, args.strategy)))
        return 0
    print(f"bench_long_video: load average {load()} on {os.cpu_count()} CPUs (timings on a shared machine are noisy)")
    results = {"load_start": load()}
    if args.gpu:
        results["gpu"] = part_gpu(args)
    else:
        torch.set_num_threads(args.threads)
        if args.checkpoint is None and not args.allow_random: args.checkpoint = find_checkpoint()
        parts = args.parts or (["memory", "throughput"] + (["seams"] if args.checkpoint else []))
        if args.parts is None and not args.checkpoint:
            print("seams: skipped: no trained tiny checkpoint found under runs/ (pass --checkpoint)")
        for part in parts:
            results[part] = {"memory": part_memory, "throughput": part_throughput, "seams": part_seams}[part](args)
    results["load_end"] = load()
    print(f"bench_long_video: done, load average {load()}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
