"""Probe for nbs/13d_recipe: evaluate a learning-curve checkpoint (runs/recipe/NAME) with classifier-free guidance on the reference.
An evaluation-only change on the same clips as the curve point, so the two compare per clip.
Usage: python tools/recipe_probe_guidance.py NAME STEP GUIDANCE   (writes results/recipe/_probes/NAME-STEP-guidanceG.csv/.png)"""
import sys, time, torch
torch.set_num_threads(1)
from pathlib import Path
from vividportraits import config as C, experiment as X
from vividportraits.core import atomic_write
name, step, g = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
cfg = C.RunConfig(preset="study", seed=0, run_dir=f"runs/recipe/{name}")
data = X.prepare_data(cfg, progress=False)
ck = Path(f"runs/recipe/{name}/train/checkpoints/step-{step:08d}")
t0 = time.time(); ev = X.evaluate_variant(cfg, ck, data, progress=False, guidance=g)
out = Path(f"results/recipe/_probes/{name}-{step:06d}-guidance{g:g}.csv"); out.parent.mkdir(parents=True, exist_ok=True)
with atomic_write(out, "w") as f: ev["clips"].assign(step=step, guidance=g).to_csv(f, index=False)
fig = X.show_samples(ev)
with atomic_write(out.with_suffix(".png")) as f: fig.savefig(f, format="png", dpi=72)
print(out, round(time.time() - t0), "s")
