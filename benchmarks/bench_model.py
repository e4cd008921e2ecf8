"""CPU benchmark of the model: `tiny` preset training steps/s at batch 8 (ReferenceNet + guider + denoiser + AdamW).

Usage: .venv/bin/python benchmarks/bench_model.py [--preset tiny] [--batch 8] [--steps 20] [--threads 2] [--out FILE]

One step = reference(ref, mask) + forward + MSE loss + backward + AdamW step, exactly what a stage-1 training step
does (the noising is a cheap linear mix here). Other processes share the cores: the load average is printed beside
every figure, and the CPU time per step (process time, all threads), which other processes barely change: with
`--threads 1` its inverse is the step rate of one unshared core. OMP_WAIT_POLICY=PASSIVE is set before torch is imported because 2 spinning OpenMP threads on 2 busy
cores can slow small kernels down by orders of magnitude.
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import time

import torch

from vividportraits.model import VividPortraitsModel, get_preset


def bench(preset: str = "tiny", batch: int = 8, steps: int = 20, warmup: int = 3, threads: int = 2,
          fgbg: bool = True, motion: str = "parsing", temporal: bool = False) -> dict:
    "Time `steps` full training steps of `preset` at `batch`; return figures."
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    m = VividPortraitsModel(get_preset(preset, fgbg=fgbg, motion=motion, temporal=temporal)).train()
    cfg = m.config
    s = cfg.image_size
    ref = torch.rand(batch, 3, s, s) * 2 - 1
    tgt = torch.rand(batch, 3, s, s) * 2 - 1
    mask = torch.zeros(batch, 1, s, s); mask[..., s // 8:, s // 4: -s // 4] = 1
    cond = torch.rand(batch, cfg.cond_channels, s, s)
    opt = torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-4)

    def step():
        x0 = m.to_latent(tgt)
        eps = torch.randn_like(x0)
        t = torch.randint(0, 1000, (batch,))
        a = (1 - t / 1000).view(-1, 1, 1, 1)
        zt = a.sqrt() * x0 + (1 - a).sqrt() * eps
        rf = m.reference(ref, mask if fgbg else None)
        loss = (m(zt, t, cond, rf) - eps).square().mean()
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
        return loss.item()

    for _ in range(warmup): step()
    load0 = os.getloadavg()
    times = []
    c0 = time.process_time()
    for _ in range(steps):
        t0 = time.perf_counter(); step(); times.append(time.perf_counter() - t0)
    cpu_s = (time.process_time() - c0) / steps  # CPU seconds per step, all threads: barely affected by other load
    load1 = os.getloadavg()
    times.sort()
    n = m.count_parameters()
    return {"preset": preset, "batch": batch, "threads": threads, "fgbg": fgbg, "motion": motion, "temporal": temporal,
            "steps": steps, "steps_per_s_mean": steps / sum(times), "steps_per_s_median": 1 / times[len(times) // 2],
            "steps_per_s_best": 1 / times[0], "samples_per_s_mean": batch * steps / sum(times),
            "cpu_s_per_step": cpu_s, "steps_per_cpu_s": 1 / cpu_s,
            "params_total": n["total"], "params_trainable": n["trainable"], "params": n,
            "loadavg_before": load0, "loadavg_after": load1, "cpu_count": os.cpu_count(),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-fgbg", action="store_true", help="benchmark fgbg=False")
    ap.add_argument("--motion", default="parsing")
    ap.add_argument("--temporal", action="store_true", help="with temporal layers (num_frames=1 forward)")
    ap.add_argument("--out", default=None, help="also write the figures as JSON here")
    a = ap.parse_args(argv)
    r = bench(a.preset, a.batch, a.steps, threads=a.threads, fgbg=not a.no_fgbg, motion=a.motion, temporal=a.temporal)
    p = r["params"]
    print(f"preset={r['preset']} batch={r['batch']} threads={r['threads']} fgbg={r['fgbg']} motion={r['motion']}")
    print(f"params: total {p['total'] / 1e6:.2f} M, trainable {p['trainable'] / 1e6:.2f} M "
          f"(unet {p['unet'] / 1e6:.2f}, reference_net {p['reference_net'] / 1e6:.2f}, guider {p['guider'] / 1e6:.3f}, "
          f"image_encoder {p['image_encoder'] / 1e6:.3f}, temporal {p['temporal'] / 1e6:.3f})")
    print(f"train steps/s: mean {r['steps_per_s_mean']:.2f}, median {r['steps_per_s_median']:.2f}, "
          f"best {r['steps_per_s_best']:.2f} ({r['samples_per_s_mean']:.1f} samples/s)")
    print(f"CPU time per step {r['cpu_s_per_step']:.3f} s (all threads) -> {r['steps_per_cpu_s']:.2f} steps per CPU-second; "
          f"with 1 thread this is the step rate of one unshared core")
    print(f"load average before/after: {r['loadavg_before'][0]:.2f} / {r['loadavg_after'][0]:.2f} "
          f"on {r['cpu_count']} cores (shared with other processes: figures are lower bounds when load > threads)")
    if a.out:
        with open(a.out, "w") as f: json.dump(r, f, indent=2)


if __name__ == "__main__":
    main()
