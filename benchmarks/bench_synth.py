"""SynthPortraits rendering throughput on CPU (frames/s), batched, at 64 and 256 px, plus the end-to-end dataset writer.
Targets (issue 3): >= 1,000 frames/s at 64 x 64 and >= 100 frames/s at 256 x 256 on 2 cores. The machine may be shared:
read the figures together with the load average printed before and after each line.
Usage: python benchmarks/bench_synth.py [--threads N] [--repeat 5] [--json out.json]"""
import argparse
import json
import os
import tempfile
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=None, help="painter threads (default: every CPU)")
    ap.add_argument("--repeat", type=int, default=5, help="timed batches per size")
    ap.add_argument("--json", default=None, help="also write the figures here")
    a = ap.parse_args()
    if a.threads: os.environ["VIVIDPORTRAITS_RENDER_THREADS"] = str(a.threads)
    from vividportraits import synth
    t0 = time.perf_counter()
    synth.render(synth.neutral_identity(), synth.neutral_expression(), synth.neutral_pose(), {"colors": [[0, 0, 0]] * 2,
                 "angle": 0.0, "stripes": [1, 0, 0, 0], "blobs": []}, 32)
    res = {"cpu_count": os.cpu_count(), "threads": synth._render_threads(), "first_call_s": time.perf_counter() - t0}
    print(f"cpus {os.cpu_count()}, painter threads {res['threads']}, first call (numba compile or cache load) "
          f"{res['first_call_s']:.1f} s")
    rng = np.random.default_rng(0)
    for size, batch in ((64, 256), (128, 64), (256, 32)):
        ids = synth.sample_identity(rng, batch)
        ex = np.concatenate([synth.talking_trajectory(rng, batch // 4)[0] for _ in range(4)])
        po = np.concatenate([synth.talking_trajectory(rng, batch // 4)[1] for _ in range(4)])
        bg = synth.sample_background(rng)  # one background per batch, as in a clip (rendered inside each call)
        synth.render(ids, ex, po, bg, size)
        load0 = os.getloadavg()[0]
        t = time.perf_counter()
        for _ in range(a.repeat): synth.render(ids, ex, po, bg, size)
        fps = batch * a.repeat / (time.perf_counter() - t)
        res[f"render_{size}_fps"] = fps
        print(f"render {size:>3} px, batch {batch:>3}: {fps:8.0f} frames/s   (load average {load0:.2f} -> {os.getloadavg()[0]:.2f})")
    with tempfile.TemporaryDirectory() as d:
        load0 = os.getloadavg()[0]
        t = time.perf_counter()
        synth.generate_dataset(d, identities=8, clips_per_identity=2, frames=32, size=64, progress=False)
        dt = time.perf_counter() - t
        n = sum(c["frames"] for c in synth.Manifest.load(d).clips)
        res["generate_64_fps"] = n / dt
        print(f"generate_dataset 64 px ({n} frames incl. cross targets, npz writes): {n / dt:8.0f} frames/s   "
              f"(load average {load0:.2f} -> {os.getloadavg()[0]:.2f})")
    res["loadavg"] = os.getloadavg()
    if a.json:
        with open(a.json, "w") as f: json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
