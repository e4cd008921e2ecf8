"""Counterfactual references and the validated metrics (issue 14): import boundaries, the references against a stored
dataset, and a few validation numbers pinned on a small deterministic set (8 cross pairs of 8 frames, data seed 0)."""
import ast
import subprocess
import sys

import numpy as np
import pytest
import torch

from vividportraits import counterfactuals as CF, shape as SH
from vividportraits.dataset import pairs as dataset_pairs, read_clip
from vividportraits.evaluators import load_synth_evaluator
from vividportraits.synth import generate_dataset


def _kit_imports(module: str) -> set:
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m.startswith('vividportraits.')))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return set(ast.literal_eval(r.stdout.strip().splitlines()[-1]))


def test_import_boundaries():
    "counterfactuals imports core, synth, dataset; shape imports the metrics and evaluators (never synth, nor our model)."
    assert _kit_imports("vividportraits.counterfactuals") <= {"vividportraits.core", "vividportraits.synth", "vividportraits.dataset",
                                                              "vividportraits.counterfactuals"}
    assert _kit_imports("vividportraits.shape") <= {"vividportraits.core", "vividportraits.parsing", "vividportraits.metrics",
                                                    "vividportraits.evaluators", "vividportraits.shape"}


def test_ground_truth_is_the_stored_target(tmp_path):
    root = generate_dataset(tmp_path/"d", identities=8, clips_per_identity=1, frames=4, test_fraction=0.5, seed=5, progress=False)
    cross = dataset_pairs(root, "cross")
    assert len(cross) == 8
    for k in (0, 7):
        ref = CF.render_references(root, cross[k])
        assert np.array_equal(ref["ground_truth"], read_clip(root, cross[k]["target"])["rgb"])
        assert np.array_equal(ref["copied_source"][0], read_clip(root, cross[k]["source"])["rgb"][0])
        for n in ("shape_leaked", "appearance_leaked", "wrong_expression"):
            assert not np.array_equal(ref[n], ref["ground_truth"]), n


@pytest.fixture(scope="module")
def table():
    torch.set_num_threads(1)
    cases = CF.reference_cases(pairs=8, frames=8, seed=0)
    scores = SH.validation_scores(cases, SH.load_shape_reader(), load_synth_evaluator(), progress=False)
    return SH.validation_table(scores)


def test_validation_small_set(table):
    "Pinned on the small set (the full 32-pair table is in data_cards/synthportraits_metrics_validation.md)."
    assert set(table.index.get_level_values(0)) == set(SH.VALIDATION_METRICS)
    assert (table["n"] == 8).all()
    # the shape-leak score tells a shape-leaked output from the ground truth, and not an appearance-leaked one
    assert table.loc[("shape_leak", "shape_leaked"), "auc"] >= 0.9
    assert abs(table.loc[("shape_leak", "appearance_leaked"), "auc"] - 0.5) <= 0.3
    # the appearance identity (the evaluator's embedding) tells an appearance-leaked output apart
    assert table.loc[("id_app", "appearance_leaked"), "auc"] >= 0.9
    # carried-expression similarity ranks the ground truth above a wrong expression track and a copied source
    assert table.loc[("expr_carried", "wrong_expression"), "auc"] >= 0.9
    assert table.loc[("expr_carried", "copied_source"), "auc"] >= 0.9
    # numbers pinned from the shipped reader and evaluator on this set (the renderer is compiled with fast-math, so
    # another CPU may differ in a few edge pixels: loose tolerances)
    assert abs(table.loc[("shape_leak", "shape_leaked"), "ground_truth"] - 0.18) < 0.05
    assert abs(table.loc[("shape_leak", "shape_leaked"), "counterfactual_mean"] - 0.87) < 0.05
    assert abs(table.loc[("expr_carried", "wrong_expression"), "ground_truth"] - 0.75) < 0.03
    assert abs(table.loc[("psnr", "shape_leaked"), "ground_truth"] - 29.39) < 0.3
    # the verdict column follows the rule: separate-rows below MIN_AUC are not used for a verdict
    sep = table[table.intended == "separate"]
    assert ((sep.auc >= SH.MIN_AUC) == (sep.verdict == "used")).all()
