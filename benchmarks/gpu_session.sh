#!/usr/bin/env bash
# Every GPU check of the kit in one script, for a single short lease of a GPU machine (docs/measured.md: no GPU figure measured yet).
# The machine has torch, accelerate and transformers but not diffusers or lpips: they travel as wheels in .whl/, and
# the LPIPS backbone travels in .gpucache/ (VIVIDPORTRAITS_CACHE). Results go to $OUT (or ./gpu_out).
# Budget: about 9 minutes in all; each part has its own time limit so one failure does not lose the others.
set -u
OUT=${OUT:-gpu_out}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 VIVIDPORTRAITS_CACHE=$PWD/.gpucache
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site:$PWD || { echo "wheel install failed"; exit 1; }
else
  export PYTHONPATH=$PWD
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, diffusers; print('torch', torch.__version__, 'diffusers', diffusers.__version__)" | tee -a "$OUT/gpu.txt"
t0=$(date +%s)
GRID_LIMIT=${GRID_LIMIT:-270}
# 1. the ablation grid at --experiment gpu, variants as concurrent processes on one GPU (in-process executor: no Jupyter there)
timeout $GRID_LIMIT python3 -m vividportraits.cli ablate --grid paper --experiment gpu --seeds 1 --workers ${WORKERS:-7} \
  --executor inprocess --out "$OUT/grid" 2>&1 | tail -40
(cd "$OUT" && tar czf results_gpu.tar.gz grid --exclude='grid/_checkpoints' && rm -rf grid/_checkpoints)
echo "grid: $(( $(date +%s) - t0 )) s"
# 2. model: sd15-size training step (full vs bare UNet), MFU, peak memory
timeout ${MODEL_LIMIT:-180} python3 benchmarks/bench_model_gpu.py 2>&1 | tail -40
echo "model bench done at $(( $(date +%s) - t0 )) s"
# 3. long-video throughput at sd15 size
timeout ${LV_LIMIT:-90} python3 benchmarks/bench_long_video.py --gpu 2>&1 | tail -20
echo "all done at $(( $(date +%s) - t0 )) s"
