"""The evaluation protocol (issue 14): held-out identities used equally as source and driver, checkpoints' keys
unchanged, and a smoke run that scores the model beside its rendered references with the same code."""
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from vividportraits import synth
from vividportraits.config import EVAL_ONLY_FIELDS, EXPERIMENT_PRESETS, RunConfig
from vividportraits.counterfactuals import REFERENCES
from vividportraits.experiment import PROTOCOL_METRICS, PROTOCOL_REFERENCES, protocol_clips, protocol_pairs, run_experiment

ROOT = Path(__file__).resolve().parents[1]


def test_committed_train_keys_unchanged(monkeypatch):
    """Every committed run's checkpoint folder is still named by its config's train_key (the protocol fields are
    evaluation-only), computed from the preset values the run recorded: a preset may change later (the study's first
    attempt ran before the study preset got its learning-rate decay), the key function may not."""
    from vividportraits.config import ExperimentPreset
    runs = [p for p in (ROOT/"results").glob("*/*/seed*/results.json")]
    if not runs: pytest.skip("no committed results")
    for p in runs:
        r = json.loads(p.read_text())
        params = {k: v for k, v in r["params"].items() if k not in ("run_dir", "ckpt_cache")}
        monkeypatch.setitem(EXPERIMENT_PRESETS, params["preset"], ExperimentPreset(**r["preset_values"]))
        key = next(part for part in Path(r["checkpoint"]).parts if part.startswith("train-"))
        assert key == "train-" + RunConfig(**params).train_key(), p
    assert set(EVAL_ONLY_FIELDS) <= set(EXPERIMENT_PRESETS["cpu"].__dataclass_fields__)


def test_protocol_balanced_and_held_out():
    e = EXPERIMENT_PRESETS["cpu"]
    assert e.eval_identities >= 16 and e.eval_pairs >= 32
    ids = {f"id{i:04d}": [f"id{i:04d}_c00", f"id{i:04d}_c01"] for i in range(e.eval_identities)}
    ps = protocol_pairs(ids, e.eval_seed)
    self_, cross = [p for p in ps if p["kind"] == "self"][:e.eval_pairs], [p for p in ps if p["kind"] == "cross"][:e.eval_pairs]
    assert len(self_) == len(cross) == 32
    assert set(Counter(p["source"][:6] for p in self_).values()) == {2}
    assert set(Counter(p["source"][:6] for p in cross).values()) == {2}      # each identity the source twice
    assert set(Counter(p["driver"][:6] for p in cross).values()) == {2}      # and the driver twice
    assert all(p["source"][:6] != p["driver"][:6] for p in cross)
    assert len({(p["source"], p["driver"]) for p in cross}) == 32
    assert protocol_pairs(ids, e.eval_seed) == ps                            # fixed by the data seed
    # the evaluation identities are not the training data's (seed 0)
    train, ev = synth.identity_bank(0, e.identities), synth.identity_bank(e.eval_seed, e.eval_identities + 1)
    assert not (np.abs(train[:, None] - ev[None]).max(-1) < 1e-6).any()


def test_pool_each_seed_draws_balanced_clips(tmp_path):
    """With an evaluation pool (issue 24), each training seed evaluates on `eval_identities` identities it draws from
    the pool, balanced among themselves, the same for every variant of the seed; over seeds the clips reach the pool."""
    import dataclasses
    e = dataclasses.replace(EXPERIMENT_PRESETS["cpu"], eval_pool=48)
    root = synth.generate_dataset(tmp_path/"pool", identities=e.eval_pool + 1, clips_per_identity=2, frames=2, size=64,
                                  test_fraction=e.eval_pool / (e.eval_pool + 1), n_cross=0, seed=e.eval_seed, progress=False)
    seen = set()
    for seed in range(10):
        m, sel = protocol_clips(root, e, seed)
        ident = lambda c: m.clip(c)["identity"]
        cross = [p for p in sel if p["kind"] == "cross"]
        assert len(cross) == e.eval_pairs == 32 and len({ident(p["source"]) for p in sel}) == e.eval_identities
        assert set(Counter(ident(p["source"]) for p in cross).values()) == {2}
        assert set(Counter(ident(p["driver"]) for p in cross).values()) == {2}
        assert all(p in m.pairs for p in cross)                              # the pool's own pairs: shared references
        assert protocol_clips(root, e, seed)[1] == sel
        seen |= {ident(p["source"]) for p in sel}
    assert len(seen) > 40, len(seen)                                         # 10 seeds x 16 of 48 reach most of the pool
    # no pool: the same clips at every seed, as every committed preset has
    assert protocol_clips(root, dataclasses.replace(e, eval_pool=0), 0)[1] == protocol_clips(root, dataclasses.replace(e, eval_pool=0), 7)[1]


@pytest.mark.timeout(900)
def test_smoke_run_scores_references(tmp_path):
    out = run_experiment(RunConfig(preset="smoke", run_dir=str(tmp_path/"run")), progress=False)
    res = json.loads(Path(out["results"]).read_text())
    clips = res["clips"]
    rows = [dict(zip(clips, v)) for v in zip(*clips.values())]
    systems = Counter((r["kind"], r["system"]) for r in rows)
    assert systems == Counter({("self", "model"): 1, ("cross", "model"): 1,
                               **{(k, n): 1 for k, ns in PROTOCOL_REFERENCES.items() for n in ns}})
    assert set(REFERENCES) <= set(PROTOCOL_REFERENCES["cross"])             # the validated five, and the uninformative
    for r in rows:
        for m in PROTOCOL_METRICS:
            if (m, r["kind"]) != ("shape_leak", "self"): assert isinstance(r[m], float), (r["system"], m)
    cross = {r["system"]: r for r in rows if r["kind"] == "cross"}
    assert abs(cross["ground_truth"]["shape_leak"]) < 0.35, cross["ground_truth"]["shape_leak"]
    assert cross["shape_leaked"]["shape_leak"] > 0.65, cross["shape_leaked"]["shape_leak"]
    assert cross["ground_truth"]["id_app"] > cross["appearance_leaked"]["id_app"]
    assert cross["ground_truth"]["psnr"] > cross["copied_source"]["psnr"]
    # the summary keeps its keys, from the model rows only
    assert res["metrics"]["cross.psnr"] == pytest.approx(cross["model"]["psnr"], rel=1e-4)
    assert set(res["commits"]) == {"training", "evaluation"}
    assert isinstance(res["commits"]["evaluation"]["dirty"], bool)
    assert res["protocol"]["data"] == "heldout" and res["protocol"]["self"] == res["protocol"]["cross"] == 1
