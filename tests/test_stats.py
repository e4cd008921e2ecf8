"""The study's pre-registration and the README's generated blocks stay in step with `vividportraits.stats`, and the
analysis of the committed results checks out against an independent recomputation."""
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vividportraits import stats

ROOT = Path(__file__).resolve().parents[1]
RESULTS = "results/study"
OLD = "results/cpu"   # the old-protocol grid (superseded; kept with its regenerated tables)


@pytest.fixture(scope="module")
def records():
    return stats.clip_records(ROOT/RESULTS)


@pytest.fixture(scope="module")
def old_records():
    return stats.clip_records(ROOT/OLD)


def test_readme_questions_block_is_generated():
    assert stats.readme_block((ROOT/"README.md").read_text(), "questions") == stats.protocol_markdown().strip(), \
        "README's pre-registered questions differ from stats.protocol_markdown(): run stats.update_readme()"


def test_study_protocol_doc_is_generated():
    assert (ROOT/"docs"/"study_protocol.md").read_text() == stats.study_protocol_doc(), \
        "docs/study_protocol.md differs from stats.study_protocol_doc(): run stats.update_readme()"


def test_readme_findings_block_is_generated(records):
    refs = {a: stats.clip_records(ROOT/RESULTS, system=a) for a in set(stats.ANCHORS.values())}
    want = stats.findings_markdown(records, source=RESULTS, references=refs).strip()
    assert stats.readme_block((ROOT/"README.md").read_text(), "findings") == want, \
        "README's findings differ from what stats.findings_markdown generates from results/study: run stats.update_readme()"


def test_readme_sections_in_order():
    text = (ROOT/"README.md").read_text()
    heads = [l for l in text.splitlines() if l.startswith("## ")]
    i = heads.index("## The decisive study: pre-registered questions")
    assert heads[i + 1] == "## The decisive study: results"


def test_validation_flags_match_data_card():
    "VALIDATION_NOT_USED is the data card's list of (metric, counterfactual) rows marked 'not used for a verdict'."
    card = (ROOT/"data_cards"/"synthportraits_metrics_validation.md").read_text()
    rows = re.findall(r"^\| (\w+) \| (\w+) \| separate \|.*\| not used for a verdict \|$", card, flags=re.M)
    assert len(rows) >= 3
    assert set(rows) == set(stats.VALIDATION_NOT_USED)


def test_metric_names_match_validation():
    from vividportraits.shape import VALIDATION_INTENT
    from vividportraits.counterfactuals import REFERENCES
    for m in stats.METRICS.values():
        if m.judges: assert m.validation_key in VALIDATION_INTENT, m.name
        assert set(m.judges) <= set(REFERENCES) - {"ground_truth"}, m.name


def test_committed_contrast_recomputed(old_records):
    "scale=none - baseline on cross LPIPS: the point estimate equals a plain pandas recomputation from clips.csv."
    diffs = []
    for seed in (0, 1):
        a = pd.read_csv(ROOT/OLD/"scale-none"/f"seed{seed}"/"clips.csv")
        b = pd.read_csv(ROOT/OLD/"baseline"/f"seed{seed}"/"clips.csv")
        assert (a[["source", "driver"]].values == b[["source", "driver"]].values).all()
        diffs.append((a.lpips - b.lpips)[a.kind == "cross"].mean())
    t = stats.verdict_table(old_records).set_index(["contrast", "metric"]).loc[("scale=none - baseline", "lpips")]
    assert np.isclose(t["difference"], np.mean(diffs))
    assert t["ci_low"] < t["difference"] < t["ci_high"] and t["n"] == "2 x 4"


def test_study_runs_are_clean_and_equal(records):
    "Every committed study run: preset study, trained and evaluated from a clean tree, the full step count (no cap hit)."
    import json
    files = sorted((ROOT/RESULTS).glob("*/seed*/results.json"))
    assert files, "no study runs committed"
    for p in files:
        r = json.loads(p.read_text())
        assert r["params"]["preset"] == "study", p
        assert not r["commits"]["training"]["dirty"] and not r["commits"]["evaluation"]["dirty"], p
        if "dirty_cleared" in r:  # recorded +dirty by the grid's own status file only: the evidence is committed beside
            import sys; sys.path.insert(0, str(ROOT/"tools")); from clear_output_dirty import modified_paths
            ev = modified_paths((ROOT/RESULTS/r["dirty_cleared"]["status_file"]).read_text())
            assert ev == r["dirty_cleared"]["modified_paths"] and all(q.startswith("results/") for q in ev), p
            assert r["dirty_cleared"]["recorded_git_sha"] == r["git_sha"] + "+dirty", p
        assert r["training"]["stage1"]["steps_done"] == r["preset_values"]["train_steps"], p
        assert r["protocol"]["cross"] == 32 and r["protocol"]["identities"] == 16, p


def test_study_contrast_recomputed(records):
    "Each study contrast with paired seeds: its point estimate equals a plain pandas recomputation from clips.csv."
    seeds = lambda v: {int(p.parent.name[4:]) for p in (ROOT/RESULTS/v).glob("seed*/clips.csv")}
    checked = 0
    for variant, folder, metric in [("scale=none", "scale-none", "shape_leak"), ("motion=rgb", "motion-rgb", "id_app_driver"),
                                    ("motion=landmarks", "motion-landmarks", "lpips")]:
        both = sorted(seeds(folder) & seeds("baseline"))
        if not both: continue
        per_seed = []
        for seed in both:
            a, b = [pd.read_csv(ROOT/RESULTS/f/f"seed{seed}"/"clips.csv") for f in (folder, "baseline")]
            a, b = [x[(x["system"] == "model") & (x["kind"] == "cross")].set_index(["source", "driver"]) for x in (a, b)]
            per_seed.append((a[metric] - b.loc[a.index, metric]).mean())
        t = stats.verdict_table(records).set_index(["contrast", "metric"]).loc[(f"{variant} - baseline", metric)]
        assert np.isclose(t["difference"], np.mean(per_seed)), (variant, metric)
        assert t["n"] == f"{len(both)} x 32"
        checked += 1
    if not checked: pytest.skip("no study variant has a paired seed yet")


def test_old_protocol_rows(old_records):
    t = stats.verdict_table(old_records)
    assert set(t[t.metric.isin(["shape_leak", "expr_sim_carried", "id_face_driver"])].verdict) == {"not measured"}
    assert set(t[t.question.str.startswith("Q5")].verdict) == {"dropped"}
    one = t[t.contrast == "motion=landmarks - baseline"].dropna(subset=["ci_low"])
    assert len(one) and (one.note == "one seed: training noise not covered").all()
    # the long-video axis of the committed runs changed nothing: strategies agree per clip to 5 decimals
    assert stats.strategies_identical(old_records) < 1e-5


def test_clear_output_dirty(tmp_path):
    "tools/clear_output_dirty.py clears a +dirty that only outputs caused, keeps the evidence, refuses code changes."
    import json, sys
    sys.path.insert(0, str(ROOT/"tools")); import clear_output_dirty as cod
    run = tmp_path/"a"/"seed0"; run.mkdir(parents=True)
    rec = {"git_sha": "abc+dirty", "metrics": {"psnr": 20.0},
           "commits": {"training": {"commit": "abc", "dirty": True}, "evaluation": {"commit": "abc", "dirty": True}}}
    (run/"results.json").write_text(json.dumps(rec))
    (tmp_path/"code.txt").write_text("# header\n M results/grid/grid_status.json\n M vividportraits/core.py\n")
    with pytest.raises(SystemExit, match="outside"): cod.clear(tmp_path, "abc", tmp_path/"code.txt")
    assert json.loads((run/"results.json").read_text()) == rec          # refused: nothing written
    (tmp_path/"out.txt").write_text("# header\n M results/grid/grid_status.json\n")
    assert cod.clear(tmp_path, "other", tmp_path/"out.txt") == []        # another commit's runs are left alone
    assert cod.clear(tmp_path, "abc", tmp_path/"out.txt") == [run/"results.json"]
    r = json.loads((run/"results.json").read_text())
    assert r["git_sha"] == "abc" and not r["commits"]["training"]["dirty"] and not r["commits"]["evaluation"]["dirty"]
    assert r["dirty_cleared"]["recorded_git_sha"] == "abc+dirty" and r["metrics"] == rec["metrics"]
    assert r["dirty_cleared"]["modified_paths"] == ["results/grid/grid_status.json"]
    assert cod.clear(tmp_path, "abc", tmp_path/"out.txt") == []          # idempotent
