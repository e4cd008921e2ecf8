#!/usr/bin/env python
"""Validation of the metrics on rendered counterfactuals (issue 14, item 5): renders only, no model output.

For the first --pairs cross pairs of a SynthPortraits dataset (data seed --seed; 16 test identities for 32 pairs,
two pairs per identity), renders the ground truth and the four counterfactuals of `counterfactuals.REFERENCES`,
degrades every reference like a generated frame (`shape.degrade`: blur `shape.SHAPE_BLUR_SIGMA` px, noise
`shape.SHAPE_NOISE`), scores each with every metric of `shape.VALIDATION_METRICS`, and prints the validation table
(`shape.validation_table`: AUC and standardised gap of ground truth vs each counterfactual, with the intended ordering).

Writes --out (CSV of the table) and --scores (CSV of the per-pair scores) when given, prints the table as markdown
and a JSON line with the runtime.

Example (the data card's table):
  OMP_NUM_THREADS=1 python benchmarks/validate_metrics.py --pairs 32 --frames 16
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def markdown(df) -> str:
    "A pandas table as GitHub markdown (index columns first), without the optional tabulate dependency."
    d = df.reset_index()
    fmt = lambda v: f"{v:.3g}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(map(str, d.columns)) + " |", "|" + "---|" * len(d.columns)]
    return "\n".join(lines + ["| " + " | ".join(fmt(v) for v in row) + " |" for row in d.itertuples(index=False)])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=32, help="cross pairs (two per test identity)")
    ap.add_argument("--frames", type=int, default=16, help="frames per clip")
    ap.add_argument("--seed", type=int, default=0, help="dataset seed (0: the evaluation data)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--out", type=Path, default=None, help="CSV of the table")
    ap.add_argument("--scores", type=Path, default=None, help="CSV of the per-pair scores")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    from vividportraits import counterfactuals as CF, shape as SH
    from vividportraits.evaluators import load_synth_evaluator
    t0 = time.time()
    cases = CF.reference_cases(pairs=a.pairs, frames=a.frames, seed=a.seed)
    t_render = time.time() - t0
    scores = SH.validation_scores(cases, SH.load_shape_reader(), load_synth_evaluator(), progress=False)
    table = SH.validation_table(scores)
    secs = time.time() - t0
    if a.out: table.to_csv(a.out)
    if a.scores: scores.to_csv(a.scores, index=False)
    print(markdown(table))
    print(json.dumps({"pairs": a.pairs, "frames": a.frames, "seed": a.seed, "threads": a.threads,
                      "render_s": round(t_render, 1), "total_s": round(secs, 1)}))


if __name__ == "__main__":
    main()
