"""Data-parallel training on CPU: two processes (torchrun, gloo) with batch B each end with the same weights as one
process with batch 2B (each process trains on its half of the same global batch, DDP averages the gradients); only the
main process writes checkpoints, logs and results; the two-process run resumes from its own checkpoint."""
import csv
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from test_train import toy_dataset
from vividportraits.core import load_json

# the micro tiny preset of test_train, as CLI overrides
OVERRIDES = ["image_size=16", "block_out_channels=(8,16,16)", "norm_num_groups=4", "cross_attention_dim=16",
             "image_encoder_width=8", "guider_channels=(8,16)"]
ATOL, RTOL = 1e-5, 1e-4   # float reduction order (gloo's all-reduce of two half-batch gradients vs one batch's)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


def train_args(data: Path, out: Path, steps: int, batch_size: int) -> list[str]:
    args = ["train", "--data", str(data), "--out", str(out), "--steps", str(steps), "--batch-size", str(batch_size),
            "--ckpt-every", "2", "--keep-checkpoints", "3", "--sample-every", "-1", "--log-every", "1",
            "--warmup-steps", "2", "--no-progress", "--no-tensorboard", "--seed", "3"]
    for o in OVERRIDES: args += ["--model-override", o]
    return args


def launch(args: list[str], nproc: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    if nproc == 1: cmd = [sys.executable, "-m", "vividportraits.cli", *args]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--master_addr",
               "127.0.0.1", "--master_port", str(free_port()), "-m", "vividportraits.cli", *args]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    return r


def max_diff(a: Path, b: Path, name: str = "model.safetensors") -> float:
    x, y = load_file(a/name), load_file(b/name)
    assert x.keys() == y.keys()
    for k in x: torch.testing.assert_close(x[k], y[k], atol=ATOL, rtol=RTOL, msg=lambda m: f"{name} {k}: {m}")
    return max(float((x[k] - y[k]).abs().max()) for k in x)


def test_two_processes_match_one_with_the_doubled_batch(tmp_path):
    data = toy_dataset(tmp_path / "data", clips=3, frames=4)
    one, two = tmp_path / "one", tmp_path / "two"
    launch(train_args(data, one, 6, 4), 1)                 # one process, batch 4, to step 6 (checkpoints 2, 4, 6)
    r = launch(train_args(data, two, 4, 2), 2)             # two processes, batch 2 each, to step 4
    res = load_json(two / "results.json")
    assert res["num_processes"] == 2, "the processes did not form one data-parallel group"
    assert load_json(one / "results.json")["num_processes"] == 1
    ck1, ck2 = one / "checkpoints", two / "checkpoints"
    d4 = max_diff(ck1 / "step-00000004", ck2 / "step-00000004")
    d4e = max_diff(ck1 / "step-00000004", ck2 / "step-00000004", "ema.safetensors")
    print(f"max |w_2proc - w_1proc| after 4 steps: model {d4:.3g}, ema {d4e:.3g}")
    # the weights moved (a comparison of untrained weights would prove nothing)
    w0 = load_file(ck2 / "step-00000002" / "model.safetensors"); w4 = load_file(ck2 / "step-00000004" / "model.safetensors")
    assert max(float((w0[k] - w4[k]).abs().max()) for k in w0) > 100 * ATOL
    # one set of files, written by the main process only
    assert sorted(p.name for p in ck2.iterdir()) == ["step-00000002", "step-00000004"]
    assert [int(x["step"]) for x in csv.DictReader(open(two / "log.csv"))] == [1, 2, 3, 4]
    assert not list(two.rglob(".tmp-*")) and not list(two.glob("*.tmp"))
    assert sorted(p.name for p in two.iterdir()) == ["checkpoints", "log.csv", "results.json", "train_config.json"]
    # resume the two-process run from its own checkpoint and continue to step 6: still the one-process weights
    r = launch(train_args(data, two, 6, 2), 2)
    assert r.stdout.count(f"resuming from {ck2 / 'step-00000004'} (step 4 of 6)") == 1, r.stdout
    assert load_json(two / "results.json")["resumed_from"] == [4]
    assert [int(x["step"]) for x in csv.DictReader(open(two / "log.csv"))] == [1, 2, 3, 4, 5, 6]
    d6 = max_diff(ck1 / "step-00000006", ck2 / "step-00000006")
    print(f"max |w_2proc - w_1proc| after 6 steps (resumed at 4): model {d6:.3g}")
