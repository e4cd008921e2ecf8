"""GPU benchmark of the paper-scale model: one `sd15` training step (UNet + ReferenceNet + guider) beside a bare
diffusers SD-1.5 UNet step, in samples/s, model-FLOP utilisation and peak memory.

Usage (GPU, repo root):  python benchmarks/bench_model_gpu.py [--budget 270] [--no-compile] [--peak-tflops 989]
Usage (CPU smoke test):  .venv/bin/python benchmarks/bench_model_gpu.py --dry-run

Random initialisation, bf16 weights, AdamW(fused=True), channels-last, 512 px (64 x 64 x 4 latents), batch 8.
The reference arrives as latents (as a training loop with pre-encoded latents would feed it): the VAE is not timed.
FLOPs are counted with `torch.utils.flop_counter.FlopCounterMode` on one step (forward + backward); MFU = FLOPs /
step time / peak (H100 SXM and H200 bf16 dense: 989 TFLOP/s). Every sub-benchmark runs in its own try/except and the
JSON (`$OUT/bench_model_gpu.json` when `$OUT` is set, else `--json`) is rewritten after each one, so a failure or a
kill loses nothing measured before it. Sub-benchmarks that would overrun `--budget` seconds are skipped (recorded).
"""
import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # CPU dry run: spinning OpenMP threads on busy cores crawl

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo root: import vividportraits

import argparse
import contextlib
import gc
import json
import platform
import signal
import time
import traceback

import torch

T_START = time.perf_counter()


def elapsed() -> float:
    return time.perf_counter() - T_START


# ----------------------------------------------------------------------------------------------------------- setup
def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="tiny shapes on CPU (tests the script, numbers meaningless)")
    ap.add_argument("--budget", type=float, default=None,
                    help="seconds (default 270, 1200 with --dry-run); sub-benchmarks that would overrun are skipped")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile sub-benchmarks")
    ap.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak of the card (H100 SXM/H200: 989)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--json", default=None, help="output JSON path (default $OUT/bench_model_gpu.json or ./)")
    return ap.parse_args(argv)


def build_config(dry: bool):
    from vividportraits.model import get_preset
    if not dry: return get_preset("sd15")
    return get_preset("sd15", image_size=64, block_out_channels=(16, 16, 32, 32), norm_num_groups=8,
                      cross_attention_dim=16, attention_head_dim=2, vae_block_out_channels=(8, 8, 8, 8),
                      guider_channels=(4, 4, 8, 8), image_encoder_width=8)


def _alarm(signum, frame):
    raise TimeoutError("stopped at the time budget")


def sync(dev):
    if dev.type == "cuda": torch.cuda.synchronize()


def free(dev):
    gc.collect()
    if dev.type == "cuda": torch.cuda.empty_cache()


def reset_peak(dev):
    if dev.type == "cuda": torch.cuda.reset_peak_memory_stats()


def peak_gib(dev):
    return torch.cuda.max_memory_allocated() / 2**30 if dev.type == "cuda" else None


def count_flops(fn) -> float:
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as fc:
        fn()
    return float(fc.get_total_flops())


def time_steps(fn, dev, warmup: int, steps: int) -> float:
    "Seconds per call of `fn` (median of `steps` after `warmup` calls)."
    for _ in range(warmup): fn()
    sync(dev)
    ts = []
    for _ in range(steps):
        t0 = time.perf_counter(); fn(); sync(dev); ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2]


# ----------------------------------------------------------------------------------------------------------- steps
def allow_recompiles(n: int = 64):
    "Regional compilation meets each transformer block in several shapes (widths x ReferenceNet/denoiser kwargs)."
    import torch._dynamo
    c = torch._dynamo.config
    if hasattr(c, "recompile_limit"): c.recompile_limit = max(c.recompile_limit, n)
    elif hasattr(c, "cache_size_limit"): c.cache_size_limit = max(c.cache_size_limit, n)


def make_optimizer(params, dev):
    params = [p for p in params if p.requires_grad]
    if dev.type == "cuda": return torch.optim.AdamW(params, lr=1e-5, fused=True)
    return torch.optim.AdamW(params, lr=1e-5, foreach=True)


def bare_unet_step(cfg, dev, dtype, batch: int, checkpointing: bool = False, compile_mode: str | None = None):
    "A bare diffusers UNet2DConditionModel (the preset's UNet config) training step closure and the UNet."
    from diffusers import UNet2DConditionModel
    from vividportraits.model import _unet_kwargs
    with dev:
        unet = UNet2DConditionModel(**_unet_kwargs(cfg, cfg.latent_channels))
    unet = unet.to(dtype=dtype, memory_format=torch.channels_last).train()
    if checkpointing: unet.enable_gradient_checkpointing()
    if compile_mode: allow_recompiles()
    if compile_mode == "regional": unet.compile_repeated_blocks(fullgraph=False)
    elif compile_mode == "full": unet = torch.compile(unet)
    opt = make_optimizer(unet.parameters(), dev)
    c, h, w = cfg.latent_channels, cfg.image_size // cfg.downscale, cfg.image_size // cfg.downscale
    z = torch.randn(batch, c, h, w, device=dev, dtype=dtype).contiguous(memory_format=torch.channels_last)
    tgt = torch.randn_like(z)
    t = torch.randint(0, 1000, (batch,), device=dev)
    enc = torch.randn(batch, 77, cfg.cross_attention_dim, device=dev, dtype=dtype)

    def step():
        loss = torch.nn.functional.mse_loss(unet(z, t, encoder_hidden_states=enc).sample.float(), tgt.float())
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
    return step, unet


def full_step_factory(cfg, dev, dtype, compile_mode: str | None = None):
    "Build the VividPortraitsModel once; return `make(batch)` -> training step closure, and the model."
    from vividportraits.model import VividPortraitsModel
    with dev:
        m = VividPortraitsModel(cfg)
    m = m.to(dtype=dtype, memory_format=torch.channels_last).train()
    if compile_mode: allow_recompiles()
    if compile_mode == "regional":
        m.unet.compile_repeated_blocks(fullgraph=False); m.refnet.compile_repeated_blocks(fullgraph=False)
    opt = make_optimizer(m.parameters(), dev)
    c, h, w = cfg.latent_channels, cfg.image_size // cfg.downscale, cfg.image_size // cfg.downscale
    s = cfg.image_size

    def make(batch: int):
        cl = torch.channels_last
        z_t = torch.randn(batch, c, h, w, device=dev, dtype=dtype).contiguous(memory_format=cl)
        eps = torch.randn_like(z_t)
        z_ref = torch.randn(batch, c, h, w, device=dev, dtype=dtype).contiguous(memory_format=cl)
        bg = torch.randn(batch, c + 1, h, w, device=dev, dtype=dtype).contiguous(memory_format=cl)
        rgb = (torch.rand(batch, 3, s, s, device=dev, dtype=dtype) * 2 - 1).contiguous(memory_format=cl)
        lab = torch.randint(0, cfg.cond_channels, (batch, s, s), device=dev)
        cond = torch.nn.functional.one_hot(lab, cfg.cond_channels).permute(0, 3, 1, 2).to(dtype).contiguous(memory_format=cl)
        t = torch.randint(0, 1000, (batch,), device=dev)

        def step():
            rf = m.reference_from_latents(z_ref, rgb, bg if cfg.fgbg else None)
            loss = torch.nn.functional.mse_loss(m(z_t, t, cond, rf).float(), eps.float())
            opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
        return step
    return make, m


# ----------------------------------------------------------------------------------------------------------- main
def main(argv=None):
    a = parse_args(argv)
    if a.budget is None: a.budget = 1200.0 if a.dry_run else 270.0
    dev = torch.device("cpu" if a.dry_run or not torch.cuda.is_available() else "cuda")
    if dev.type == "cpu" and not a.dry_run:
        print("no CUDA device: running the --dry-run shapes on CPU instead", flush=True); a.dry_run = True
    dtype = torch.bfloat16
    if a.dry_run:
        torch.set_num_threads(1)
        a.warmup, a.steps = 1, 2
    else:
        torch.backends.cuda.matmul.allow_tf32 = True; torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    out = a.json or os.path.join(os.environ.get("OUT", "."), "bench_model_gpu.json")
    cfg = build_config(a.dry_run)
    res = {"device": torch.cuda.get_device_name() if dev.type == "cuda" else platform.processor() or "cpu",
           "dry_run": a.dry_run, "torch": torch.__version__, "peak_tflops": a.peak_tflops, "batch": a.batch,
           "dtype": "bf16 weights", "optimizer": "AdamW fused" if dev.type == "cuda" else "AdamW foreach",
           "memory_format": "channels_last", "image_size": cfg.image_size, "budget_s": a.budget, "rows": []}
    try:
        import diffusers; res["diffusers"] = diffusers.__version__
    except Exception as e:  # noqa: BLE001
        res["diffusers"] = f"import failed: {e!r}"

    def save():
        res["elapsed_s"] = round(elapsed(), 1)
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        tmp = out + ".tmp"
        with open(tmp, "w") as f: json.dump(res, f, indent=2)
        os.replace(tmp, out)

    def run(name: str, estimate_s: float, fn):
        "Run one sub-benchmark `fn() -> dict` if the budget allows; record its row (or error/skip)."
        row = {"name": name}
        if elapsed() + estimate_s > a.budget:
            row["skipped"] = f"budget: {elapsed():.0f} s used, ~{estimate_s:.0f} s more would pass {a.budget:.0f} s"
        else:
            t0 = time.perf_counter()
            # hard stop at the budget (+15 s grace) so a slow compile cannot eat the caller's time limit
            old = signal.signal(signal.SIGALRM, _alarm) if hasattr(signal, "SIGALRM") else None
            if old is not None: signal.alarm(max(1, int(a.budget + 15 - elapsed())))
            try:
                row.update(fn())
            except Exception as e:  # noqa: BLE001  (one failure must not lose the other rows)
                row["error"] = f"{type(e).__name__}: {str(e)[:300]}"
                traceback.print_exc(limit=3)
            finally:
                if old is not None: signal.alarm(0); signal.signal(signal.SIGALRM, old)
            row["wall_s"] = round(time.perf_counter() - t0, 1)
            free(dev)
        res["rows"].append(row); save()
        print(fmt_row(row), flush=True)
        return row

    def measure(step, batch, flops=True, sdpa=None):
        ctx = contextlib.nullcontext()
        if sdpa is not None:
            from torch.nn.attention import SDPBackend, sdpa_kernel
            ctx = sdpa_kernel({"flash": SDPBackend.FLASH_ATTENTION, "efficient": SDPBackend.EFFICIENT_ATTENTION,
                               "math": SDPBackend.MATH}[sdpa])
        with ctx:
            reset_peak(dev)
            sec = time_steps(step, dev, a.warmup, a.steps)
            r = {"batch": batch, "s_per_step": round(sec, 4), "samples_per_s": round(batch / sec, 2),
                 "peak_mem_gib": None if peak_gib(dev) is None else round(peak_gib(dev), 2)}
            if flops:
                f = count_flops(step)
                r["flop_per_step"] = f
                r["tflop_per_step"] = round(f / 1e12, 3)
                r["mfu_pct"] = round(100 * f / sec / (a.peak_tflops * 1e12), 2)
        return r

    print(f"device: {res['device']}  torch {res['torch']}  diffusers {res['diffusers']}  dry_run={a.dry_run}", flush=True)
    print(header(), flush=True)
    B = 2 if a.dry_run else a.batch

    # 1. bare diffusers UNet (the anchor)
    def bare(batch=B, ckpt=False, compile_mode=None):
        def fn():
            step, unet = bare_unet_step(cfg, dev, dtype, batch, ckpt, compile_mode)
            r = measure(step, batch)
            r["params_m"] = round(sum(p.numel() for p in unet.parameters()) / 1e6, 1)
            return r
        return fn
    run(f"bare_unet b{B}", 20, bare())

    # 2-6. the full model, built once, measured under several options
    state = {}
    def build():
        t0 = time.perf_counter()
        state["make"], state["model"] = full_step_factory(cfg, dev, dtype)
        n = state["model"].count_parameters()
        return {"build_s": round(time.perf_counter() - t0, 1),
                "params_m": {k: round(v / 1e6, 1) for k, v in n.items()}}
    run("build full model", 30, build)

    def full(batch, ckpt=False, flops=True, sdpa=None):
        def fn():
            if "model" not in state: raise RuntimeError("the full model was not built")
            state["model"].set_gradient_checkpointing(ckpt)
            try:
                r = measure(state["make"](batch), batch, flops=flops, sdpa=sdpa)
            finally:
                state["model"].set_gradient_checkpointing(False)
            r["grad_ckpt"] = ckpt
            if sdpa: r["sdpa"] = sdpa
            return r
        return fn
    run(f"full b{B} eager", 20, full(B))
    run(f"full b{B} eager, flash forced", 10, full(B, flops=False, sdpa="flash"))
    run(f"full b{B} grad-ckpt", 10, full(B, ckpt=True, flops=False))
    run("full b1 eager", 8, full(1, flops=False))
    run("full b1 grad-ckpt", 8, full(1, ckpt=True, flops=False))
    state.clear(); free(dev)

    # torch.compile (regional: diffusers' compile_repeated_blocks on the transformer blocks), if the budget allows
    est = 20 if a.dry_run else 90
    if a.no_compile:
        res["rows"].append({"name": "compile", "skipped": "--no-compile"}); save()
    else:
        run(f"bare_unet b{B} compiled (regional)", est, bare(compile_mode="regional"))
        def full_compiled():
            make, m = full_step_factory(cfg, dev, dtype, compile_mode="regional")
            return measure(make(B), B)
        run(f"full b{B} compiled (regional)", est + 30, full_compiled)

    # larger batch (the anchor's batch-16 figure), last: least important
    run(f"bare_unet b{2 * B}", 15, bare(2 * B))
    def full16():
        make, m = full_step_factory(cfg, dev, dtype)
        m.set_gradient_checkpointing(True)
        r = measure(make(2 * B), 2 * B); r["grad_ckpt"] = True
        return r
    run(f"full b{2 * B} grad-ckpt", 40, full16)

    res["finished"] = True; save()
    print(f"wrote {out} ({elapsed():.0f} s)", flush=True)
    return res


def header() -> str:
    return f"{'benchmark':38s} {'batch':>5s} {'s/step':>8s} {'samples/s':>9s} {'TFLOP':>7s} {'MFU %':>6s} {'peak GiB':>8s}  note"


def fmt_row(r: dict) -> str:
    def g(k, f="{}"):
        v = r.get(k); return "-" if v is None else f.format(v)
    note = r.get("skipped") or r.get("error") or (f"params {r['params_m']}" if "params_m" in r else "")
    if "build_s" in r: note = f"built in {r['build_s']} s; " + note
    return (f"{r['name']:38s} {g('batch'):>5s} {g('s_per_step', '{:.4f}'):>8s} {g('samples_per_s', '{:.1f}'):>9s} "
            f"{g('tflop_per_step', '{:.2f}'):>7s} {g('mfu_pct', '{:.1f}'):>6s} {g('peak_mem_gib', '{:.2f}'):>8s}  {note}")


if __name__ == "__main__":
    main()
