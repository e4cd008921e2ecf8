"""Throughput of `vividportraits.prepare` with the offline MediaPipe backends at 256 px.

Makes N generated astronaut/camera clips (smooth affine motion, 512 x 512 sources, written as mp4), then times
`prepare(..., size=256)` end to end (decode, detection, smoothing, crops, parsing, landmarks, masks, writing) with 1
and 2 worker processes. Prints frames/s, the CPU seconds spent per frame (this process + its workers, all threads),
and the load average: on a shared machine wall-clock figures are noisy, the CPU cost per frame much less so.
Target (issue 7): >= 20 frames/s at 256 px on 2 cores.

    python benchmarks/bench_prepare.py [--clips 4] [--frames 150] [--workers 1 2]
"""
import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import skimage.data

from vividportraits.core import write_video
from vividportraits.parsing import as_rgb
from vividportraits.prepare import prepare
from vividportraits.testclips import affine_clip


def _cpu() -> float:
    "User + system CPU seconds of this process and its finished children (all threads)."
    me, ch = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + ch.ru_utime + ch.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=4)
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    a = ap.parse_args()
    pics = [skimage.data.astronaut(), as_rgb(skimage.data.camera())]
    with tempfile.TemporaryDirectory() as d:
        src = Path(d)/"src"; src.mkdir()
        for i in range(a.clips):
            write_video(affine_clip(pics[i % 2], frames=a.frames, seed=i), src/f"clip{i}.mp4", fps=25)
        print(f"{a.clips} clips x {a.frames} frames, 512 x 512 sources -> {a.size} px, cpu_count={os.cpu_count()}")
        for w in a.workers:
            la0 = os.getloadavg()
            cpu0 = _cpu()
            t0 = time.perf_counter()
            s = prepare(src, Path(d)/f"out{w}", size=a.size, workers=w, progress=False)
            dt = time.perf_counter() - t0
            cpu = _cpu() - cpu0
            la1 = os.getloadavg()
            print(f"workers={w}: {s['frames']} frames ({s['ok']} ok, {s['failed']} failed) in {dt:.1f} s -> "
                  f"{s['frames'] / dt:.1f} frames/s end to end (incl. worker start-up); "
                  f"CPU {cpu / s['frames'] * 1000:.1f} ms/frame (-> {2 * s['frames'] / cpu:.1f} frames/s if 2 idle cores "
                  f"were fully used); load average before {la0[0]:.2f}, after {la1[0]:.2f}")


if __name__ == "__main__":
    main()
