"""The study's pre-registration and the README's generated blocks stay in step with `vividportraits.stats`, and the
analysis of the committed results checks out against an independent recomputation."""
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vividportraits import stats

ROOT = Path(__file__).resolve().parents[1]
RESULTS = "results/cpu"


@pytest.fixture(scope="module")
def records():
    return stats.clip_records(ROOT/RESULTS)


def test_readme_questions_block_is_generated():
    assert stats.readme_block((ROOT/"README.md").read_text(), "questions") == stats.protocol_markdown().strip(), \
        "README's pre-registered questions differ from stats.protocol_markdown(): run stats.update_readme()"


def test_study_protocol_doc_is_generated():
    assert (ROOT/"docs"/"study_protocol.md").read_text() == stats.study_protocol_doc(), \
        "docs/study_protocol.md differs from stats.study_protocol_doc(): run stats.update_readme()"


def test_readme_findings_block_is_generated(records):
    want = stats.findings_markdown(records, source=RESULTS).strip()
    assert stats.readme_block((ROOT/"README.md").read_text(), "findings") == want, \
        "README's findings differ from what stats.findings_markdown generates from results/cpu: run stats.update_readme()"


def test_readme_sections_in_order():
    text = (ROOT/"README.md").read_text()
    heads = [l for l in text.splitlines() if l.startswith("## ")]
    i = heads.index("## The decisive study: pre-registered questions")
    assert heads[i + 1].startswith("## Reference results")


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


def test_committed_contrast_recomputed(records):
    "scale=none - baseline on cross LPIPS: the point estimate equals a plain pandas recomputation from clips.csv."
    diffs = []
    for seed in (0, 1):
        a = pd.read_csv(ROOT/RESULTS/"scale-none"/f"seed{seed}"/"clips.csv")
        b = pd.read_csv(ROOT/RESULTS/"baseline"/f"seed{seed}"/"clips.csv")
        assert (a[["source", "driver"]].values == b[["source", "driver"]].values).all()
        diffs.append((a.lpips - b.lpips)[a.kind == "cross"].mean())
    t = stats.verdict_table(records).set_index(["contrast", "metric"]).loc[("scale=none - baseline", "lpips")]
    assert np.isclose(t["difference"], np.mean(diffs))
    assert t["ci_low"] < t["difference"] < t["ci_high"] and t["n"] == "2 x 4"


def test_old_protocol_rows(records):
    t = stats.verdict_table(records)
    assert set(t[t.metric.isin(["shape_leak", "expr_sim_carried", "id_face_driver"])].verdict) == {"not measured"}
    assert set(t[t.question.str.startswith("Q5")].verdict) == {"dropped"}
    one = t[t.contrast == "motion=landmarks - baseline"].dropna(subset=["ci_low"])
    assert len(one) and (one.note == "one seed: training noise not covered").all()
    # the long-video axis of the committed runs changed nothing: strategies agree per clip to 5 decimals
    assert stats.strategies_identical(records) < 1e-5
