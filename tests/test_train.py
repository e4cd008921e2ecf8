"""Training survives a real kill: a run SIGKILLed after its first checkpoint resumes from its newest checkpoint and ends
at the requested step count with the same weights, bit for bit, as an uninterrupted run (the checkpoint restores model,
EMA, optimiser, LR-scheduler and RNG state, and every step's data, augmentation and noise are drawn from (seed, step)
alone); resume falls back past a truncated newest checkpoint with a warning naming it; checkpoints load without
unpickling arbitrary objects."""
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from vividportraits.core import LABEL, LAPA_PALETTE, load_json
from vividportraits.dataset import Manifest, write_clip

MICRO = {"image_size": 16, "block_out_channels": [8, 16, 16], "norm_num_groups": 4, "cross_attention_dim": 16,
         "image_encoder_width": 8, "guider_channels": [8, 16]}
STEPS = 40


def toy_dataset(root: Path, size: int = 16, clips: int = 2, frames: int = 4) -> Path:
    "A tiny dataset folder: coloured ellipse faces whose mouths open and close."
    rng = np.random.default_rng(0)
    m = Manifest.new(root, size, 25, "synth")
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    for c in range(clips):
        rgb, par, lms, msk = [], [], [], []
        for f in range(frames):
            lab = np.zeros((size, size), np.uint8)
            lab[((xx - 8) / 5) ** 2 + ((yy - 8) / 6) ** 2 <= 1] = LABEL["skin"]
            lab[((xx - 8) / 3) ** 2 + ((yy - 11) / (0.5 + f % 3)) ** 2 <= 1] = LABEL["inner_mouth"]
            ang = np.linspace(0, 2 * np.pi, 68, endpoint=False)
            rgb.append(LAPA_PALETTE[lab]); par.append(lab); msk.append((lab > 0).astype(np.uint8))
            lms.append(np.stack([8 + 5 * np.cos(ang), 8 + 6 * np.sin(ang)], 1).astype(np.float32))
        m.add_clip(write_clip(root, f"c{c}", np.stack(rgb), np.stack(par), np.stack(lms), np.stack(msk), f"id{c}", "train"))
    m.save()
    return root


def run_script(data: Path, out: Path) -> str:
    cfg = dict(data=str(data), out=str(out), steps=STEPS, batch_size=2, ckpt_every=2, keep_checkpoints=2,
               sample_every=-1, log_every=1, progress=False, model_overrides=MICRO, ema=True)
    return ("import torch; torch.set_num_threads(1)\n"
            "import json\nfrom vividportraits.train import TrainConfig, train\n"
            f"print('FINAL', train(TrainConfig.from_dict(json.loads({json.dumps(cfg)!r}))), flush=True)\n")


def steps_in(out: Path) -> list[int]:
    d = out / "checkpoints"
    if not d.is_dir(): return []
    return sorted(int(p.name[5:]) for p in d.iterdir() if p.name.startswith("step-") and (p / "state.json").exists())


def same_weights(a: Path, b: Path, name: str) -> bool:
    x, y = load_file(a / name), load_file(b / name)
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


def test_resume_after_sigkill(tmp_path):
    data = toy_dataset(tmp_path / "data")
    out, ref = tmp_path / "run", tmp_path / "uninterrupted"
    script = run_script(data, out)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # the uninterrupted run with the same seed, alongside the one to be killed
    u = subprocess.Popen([sys.executable, "-c", run_script(data, ref)], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    # first run: kill it hard as soon as a checkpoint exists (and the run is still going)
    p = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    t0 = time.time()
    try:
        while not steps_in(out):
            assert p.poll() is None, f"training exited before its first checkpoint:\n{p.stdout.read().decode()[-3000:]}"
            assert time.time() - t0 < 240, "no checkpoint within 240 s"
            time.sleep(0.05)
    finally:
        if p.poll() is None: os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    assert p.returncode == -signal.SIGKILL
    killed_at = steps_in(out)[-1]
    assert 0 < killed_at < STEPS, f"the run finished before the kill (checkpoint {killed_at}); make STEPS larger"
    # second run: same command, resumes and finishes
    r = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert f"resuming from {out / 'checkpoints' / f'step-{killed_at:08d}'} (step {killed_at} of {STEPS})" in r.stdout
    assert steps_in(out)[-1] == STEPS
    assert f"step-{STEPS:08d}" in r.stdout.split("FINAL")[-1]
    res = load_json(out / "results.json")
    assert res["resumed_from"] == [killed_at] and res["metrics"]["steps_done"] == STEPS
    state = load_json(out / "checkpoints" / f"step-{STEPS:08d}" / "state.json")
    assert state["step"] == STEPS and state["resumed_from"] == [killed_at]
    # the log has one row per step, none duplicated by the rerun
    rows = [int(r["step"]) for r in csv.DictReader(open(out / "log.csv"))]
    assert rows == list(range(1, STEPS + 1)), rows
    assert not list((out / "checkpoints").glob(".tmp-*"))
    # the same final weights as the uninterrupted run, bit for bit (model, EMA), and the same logged losses
    try: assert u.wait(timeout=300) == 0, u.stdout.read().decode()[-3000:]
    finally:
        if u.poll() is None: os.killpg(u.pid, signal.SIGKILL)
    final = f"checkpoints/step-{STEPS:08d}"
    assert same_weights(out / final, ref / final, "model.safetensors")
    assert same_weights(out / final, ref / final, "ema.safetensors")
    loss = lambda d: [r["loss"] for r in csv.DictReader(open(d / "log.csv"))]
    assert loss(out) == loss(ref)


def test_resume_falls_back_past_a_truncated_checkpoint(tmp_path):
    "The newest checkpoint cut in half: resume warns naming its file, continues from the older one, and ends as an uninterrupted run."
    from vividportraits.checkpoint import CheckpointWarning
    from vividportraits.train import TrainConfig, train
    torch.set_num_threads(1)
    data = toy_dataset(tmp_path / "data")
    cfg = lambda out, steps: TrainConfig(data=str(data), out=str(out), steps=steps, batch_size=2, ckpt_every=2,
                                         sample_every=-1, log_every=1, progress=False, tensorboard=False,
                                         model_overrides=MICRO)
    out = tmp_path / "run"
    train(cfg(out, 4))
    bad = out / "checkpoints" / "step-00000004" / "model.safetensors"
    os.truncate(bad, bad.stat().st_size // 2)
    with pytest.warns(CheckpointWarning, match=str(bad)):
        ck = train(cfg(out, 6))
    res = load_json(out / "results.json")
    assert res["resumed_from"] == [2] and res["metrics"]["steps_done"] == 6 and ck.name == "step-00000006"
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-00000004", "step-00000006"]  # 4 rewritten
    ref = train(cfg(tmp_path / "uninterrupted", 6))
    assert same_weights(ck, ref, "model.safetensors") and same_weights(ck, ref, "ema.safetensors")


def test_checkpoint_files_load_without_pickle(tmp_path):
    "Every file of a checkpoint is safetensors, JSON, or a torch file that loads with weights_only=True."
    from vividportraits.checkpoint import checkpoint_state, load_checkpoint
    from vividportraits.train import TrainConfig, train
    torch.set_num_threads(1)
    data = toy_dataset(tmp_path / "data")
    ck = train(TrainConfig(data=str(data), out=str(tmp_path / "run"), steps=2, batch_size=2, sample_every=-1,
                           progress=False, model_overrides=MICRO))
    for f in ck.iterdir():
        if f.suffix == ".pt": torch.load(f, weights_only=True)
        else: assert f.suffix in (".safetensors", ".json"), f
    model, mcfg = load_checkpoint(tmp_path / "run")
    assert checkpoint_state(tmp_path / "run")["train_config"]["steps"] == 2 and not model.training
    assert mcfg is model.config and mcfg.prediction_type == "sample"
    with pytest.raises(FileNotFoundError, match="no checkpoint folder"):
        load_checkpoint(tmp_path / "data")
