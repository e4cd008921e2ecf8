"""The paired checks behind the study preset's recipe (nbs/13_experiment.ipynb, "The study preset").

Trains the baseline (parsing maps, default scaling, fg/bg on) at seed 0 with one recipe change, then scores it on the
protocol's 32 held-out cross clips beside the copied-source reference (same clips, same sampling seeds as a study
run). Prints the means and 95% bootstrap intervals (over clips: one seed) of model - copied source and, when given,
of this arm minus another arm's saved per-clip scores.

usage:
  python benchmarks/recipe_check.py --steps 4000 --out runs/recipe/folder-4000
  python benchmarks/recipe_check.py --steps 4000 --identities 512 --out runs/recipe/fly512-4000 --against runs/recipe/folder-4000
  (--identities N: SynthPortraits rendered on the fly from an N-identity bank; default: the cpu preset's data folder;
   --mixed-precision bf16: CPU autocast; --ckpt PATH: score an existing checkpoint instead of training)
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch


def boot(x, B=2000, seed=15):
    x = np.asarray(x, float); g = np.random.default_rng(seed)
    m = x[g.integers(0, len(x), (B, len(x)))].mean(1)
    return f"{x.mean():+.3f} [{np.percentile(m, 2.5):+.3f}, {np.percentile(m, 97.5):+.3f}]"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1700)
    ap.add_argument("--identities", type=int, default=0)
    ap.add_argument("--mixed-precision", default="no")
    ap.add_argument("--ckpt", default=None)
    ap.add_argument("--out", required=True)
    ap.add_argument("--against", default=None)
    a = ap.parse_args()
    torch.set_num_threads(1)
    from vividportraits import experiment as X, long_video as lv, shape as SH, synth
    from vividportraits.checkpoint import load_checkpoint
    from vividportraits.config import RunConfig, TrainConfig
    from vividportraits.dataset import read_clip
    from vividportraits.evaluators import load_synth_evaluator
    from vividportraits.train import train
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    cfg = RunConfig(preset="cpu", seed=0); e = cfg.experiment
    ck, secs = a.ckpt, None
    if ck is None:
        d = cfg.train_config(X.prepare_data(cfg, progress=False), out/"train", steps=a.steps, max_minutes=120.0,
                             mixed_precision=a.mixed_precision, progress=False).to_dict()
        if a.identities: d.update(data=None, synth_identities=a.identities)
        t = time.time(); ck = train(TrainConfig.from_dict(d).validate()); secs = time.time() - t
    root = X.prepare_eval_data(cfg, progress=False); man, sel = X.protocol_clips(root, e)
    model, _ = load_checkpoint(ck); model.eval()
    ev = load_synth_evaluator(device="cpu", renderer_version=synth.renderer_version()); rd = SH.load_shape_reader(device="cpu")
    rows = []
    for i, p in enumerate(sel):
        if p["kind"] != "cross": continue
        src, drv = read_clip(root, p["source"]), read_clip(root, p["driver"]); T = min(e.eval_frames, len(drv["rgb"]))
        refs = X.clip_references(man, p, src, T)
        driving = {k: drv[k][:T] for k in ("rgb", "parsing", "landmarks", "mask") if k in drv}
        pred = lv.animate(model, {"rgb": src["rgb"][0], "mask": src["mask"][0]}, driving, strategy=cfg.long_video,
                          window=e.window, overlap=e.overlap, steps=e.sample_steps, guidance=e.guidance, parser="synth",
                          segmenter="synth", seed=cfg.seed + i, progress=False, report={})
        s = X.score_systems({"model": pred, "copied_source": refs["references"]["copied_source"]}, src["rgb"][:1],
                            drv["rgb"][:T], refs["ground_truth"], "cross", ev, rd)
        rows.append({"clip": i, **s["model"], **{f"copy_{k}": v for k, v in s["copied_source"].items()}})
    df = pd.DataFrame(rows); df.to_csv(out/"cross.csv", index=False)
    json.dump({"steps": a.steps, "identities": a.identities, "mixed_precision": a.mixed_precision, "train_seconds": secs,
               "checkpoint": str(ck)}, open(out/"arm.json", "w"))
    cols = ["expr_sim_carried", "shape_leak", "lpips", "psnr", "id_app", "id_face"]
    print(f"arm {out.name}: steps {a.steps}, identities {a.identities or 'cpu folder'}, training {secs} s")
    print(df[cols].mean().round(3).to_string())
    print("expr_sim_carried - copied source:", boot(df["expr_sim_carried"] - df["copy_expr_sim_carried"]))
    if a.against:
        o = pd.read_csv(Path(a.against)/"cross.csv").set_index("clip").loc[df["clip"]]
        for c in cols: print(f"{c}: this arm - {Path(a.against).name}:", boot(df[c].values - o[c].values))


if __name__ == "__main__":
    main()
