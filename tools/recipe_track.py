"""The jaw_open track figure of a learning-curve checkpoint, without a whole evaluation (nbs/13d_recipe).

Animates the first held-out cross clip of the curve's protocol (the clip the curve's samples.png shows first, with the
same sampling seed as the evaluation) and writes results/recipe/NAME/track.png with `recipe.sample_track`.
Usage: python tools/recipe_track.py NAME STEP   (needs runs/recipe/NAME/train/checkpoints/step-STEP, as the curve leaves it)
"""
import sys
from pathlib import Path
import torch
from vividportraits import experiment as X, recipe
from vividportraits.checkpoint import load_checkpoint
from vividportraits.config import RunConfig
from vividportraits.core import atomic_write, load_json
from vividportraits.dataset import read_clip

torch.set_num_threads(1)
name, step = sys.argv[1], int(sys.argv[2])
cand = load_json(Path("results/recipe")/name/"candidate.json")
cfg = RunConfig(preset=cand["preset"], seed=cand["seed"], run_dir=str(Path("runs/recipe")/name))
e = cfg.experiment
root = Path(X.prepare_eval_data(cfg, progress=False))
man, sel = X.protocol_clips(root, e, cfg.seed)
i, p = next((i, p) for i, p in enumerate(sel) if p["kind"] == "cross")
src, drv = read_clip(root, p["source"]), read_clip(root, p["driver"])
T = min(e.eval_frames, len(drv["rgb"]))
refs = X.clip_references(man, p, src, T)
model, _ = load_checkpoint(Path("runs/recipe")/name/"train"/"checkpoints"/f"step-{step:08d}")
model = model.eval()
pred = X.animate_pair(model, src, drv, T, cfg, i)
ev = {"samples": [{"kind": "cross", "driver": drv["rgb"][:T], "pred": pred, "target": refs["ground_truth"]}]}
fig = recipe.sample_track(ev, title=f"{name}, step {step}: jaw_open along one held-out cross clip")
with atomic_write(Path("results/recipe")/name/"track.png") as f: fig.savefig(f, format="png", dpi=72)
print("wrote", Path("results/recipe")/name/"track.png")
