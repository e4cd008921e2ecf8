"""The v2 study's pre-registration (issue 24): the draft text on disk is the one the code generates, v1's analysis is
untouched (stats never imports prereg), and the v1/v2 table reads results written before the uninformative references
existed without inventing verdicts."""
from pathlib import Path

import pytest

from vividportraits import prereg, stats

ROOT = Path(__file__).resolve().parents[1]


def test_draft_protocol_is_generated():
    doc = ROOT/"docs"/"study2_protocol.md"
    assert doc.read_text() == prereg.study2_protocol_doc(), "docs/study2_protocol.md is stale: run prereg.write_protocol_draft()"
    assert "(DRAFT)" in doc.read_text().splitlines()[0]


def test_v1_analysis_untouched():
    src = Path(stats.__file__).read_text()
    assert "prereg" not in src                                            # no back edge
    assert len(stats.QUESTIONS) == 22 and "shape_leak" in stats.METRICS   # v1's questions as pre-registered
    assert [c.metric for c in prereg.QUESTIONS2 if c.qid == "Q3" and c.primary] == ["id_face_driver"] * 3


@pytest.mark.skipif(not (ROOT/"results"/"study").exists(), reason="no committed v1 study")
def test_v1_beside_itself_tolerates_old_results():
    "v1's results read under the v2 rule: no uninformative references there, so no v2 verdict is taken silently."
    c = prereg.compare_studies(ROOT/"results"/"study", ROOT/"results"/"study", B=200)
    old = c[~c.new]
    assert len(old) == len(stats.QUESTIONS)
    from vividportraits.counterfactuals import UNINFORMATIVE
    blind = {m for m, fs in prereg.FLOORS.items() if any(f.against in UNINFORMATIVE for f in fs)}
    rows = c[c.metric_v2.isin(blind)]
    assert len(rows) and set(rows.verdict_v2) <= {"floor not checked", "not measured"}, set(rows.verdict_v2)
    assert set(c.loc[c.metric_v2 == "expr_corr_carried", "verdict_v2"]) == {"not measured"}
    md = prereg.changes_markdown(c)
    assert "**What changed:**" in md and md.count("\n| ") >= len(c)
