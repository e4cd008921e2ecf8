"""Training throughput of the `tiny` preset on this CPU (issue target: >= 3 steps/s at batch 8 on 2 cores).

Two figures, both at batch 8, fp32:
  loop  - `train.train` itself on SynthPortraits rendered on the fly (data, conditions, step, EMA off, logging),
          steps/s from the log rows after the first (warm-up) interval;
  step  - the optimisation step alone on a fixed batch (forward with ReferenceNet + guider, backward, AdamW).
Other processes share the cores: the load average is printed beside the figures.
  bf16  - with --bf16: the same optimisation step under CPU bf16 autocast (what accelerate's mixed_precision="bf16"
          does on CPU), timed in alternating rounds with fp32 so that load changes hit both; prints the speed ratio.

usage: python benchmarks/bench_train.py [--threads 2] [--steps 60] [--batch 8] [--motion parsing] [--bf16] [--rounds 5]
"""
import argparse
import csv
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--motion", default="parsing")
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--bf16", action="store_true", help="also time the step under CPU bf16 autocast (ratio to fp32)")
    ap.add_argument("--rounds", type=int, default=5, help="--bf16: alternating fp32/bf16 rounds of 20 steps")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    from vividportraits.train import TrainConfig, _TrainForward, train
    from vividportraits.diffusion import add_noise, make_scheduler, training_target
    from vividportraits.model import VividPortraitsModel
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, cpu_count {os.cpu_count()}, "
          f"load average before {os.getloadavg()}")

    # the optimisation step alone
    cfg = TrainConfig(preset=a.preset, motion=a.motion, batch_size=a.batch).validate()
    mc = cfg.model_config()
    torch.manual_seed(0)
    model = VividPortraitsModel(mc); fwd = _TrainForward(model).train()
    opt = torch.optim.AdamW(model.image_parameters(), lr=1e-4, foreach=True)
    S, B = mc.image_size, a.batch
    rgb, ref, mask = torch.rand(B, 3, S, S) * 2 - 1, torch.rand(B, 3, S, S) * 2 - 1, torch.ones(B, 1, S, S)
    cond = torch.rand(B, mc.cond_channels, S, S)
    sched = make_scheduler("ddpm")
    z0 = model.to_latent(rgb)

    def step(bf16: bool = False):
        noise, t = torch.randn_like(z0), torch.randint(0, 1000, (B,))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            pred = fwd(add_noise(sched, z0, noise, t), t, cond, ref, mask if mc.fgbg else None, torch.zeros(B, dtype=torch.bool))
            loss = (pred.float() - training_target(sched, z0, noise, t)).square().mean()
        opt.zero_grad(); loss.backward(); opt.step()

    for _ in range(3): step()
    n, t0 = 20, time.perf_counter()
    for _ in range(n): step()
    dt = time.perf_counter() - t0
    counts = model.count_parameters()
    print(f"step  ({a.preset}, {S}x{S}, batch {B}, {counts['trainable'] / 1e6:.2f} M trainable): "
          f"{n / dt:.2f} steps/s, {n * B / dt:.1f} samples/s   load average {os.getloadavg()}")

    if a.bf16:
        for _ in range(3): step(True)
        rates = {False: [], True: []}
        for _ in range(a.rounds):
            for bf in (False, True):
                t0 = time.perf_counter()
                for _ in range(n): step(bf)
                rates[bf].append(n / (time.perf_counter() - t0))
        r = [b / f for f, b in zip(rates[False], rates[True])]
        print(f"bf16  (CPU autocast, same step): fp32 median {statistics.median(rates[False]):.2f} steps/s, bf16 median "
              f"{statistics.median(rates[True]):.2f} steps/s; bf16/fp32 ratio per round {', '.join(f'{x:.2f}' for x in r)} "
              f"(median {statistics.median(r):.2f})   load average {os.getloadavg()}")

    # the whole loop on SynthPortraits
    with tempfile.TemporaryDirectory() as d:
        cfg = TrainConfig(preset=a.preset, motion=a.motion, batch_size=B, steps=a.steps, out=d, log_every=10,
                          ckpt_every=10 ** 6, sample_every=-1, progress=False, tensorboard=False)
        t0 = time.perf_counter(); train(cfg); total = time.perf_counter() - t0
        rows = list(csv.DictReader(open(Path(d) / "log.csv")))
    sps = [float(r["steps_per_s"]) for r in rows[1:]] or [float(rows[-1]["steps_per_s"])]
    print(f"loop  (train() on SynthPortraits, batch {B}, {a.steps} steps): median {statistics.median(sps):.2f} steps/s "
          f"(intervals {', '.join(f'{x:.2f}' for x in sps)}); {total:.1f} s in all incl. start-up   "
          f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
