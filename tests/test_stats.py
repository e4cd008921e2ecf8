"""The study's pre-registration and the generated blocks of its page (docs/study.md, written by tools/update_readme.py)
stay in step with `vividportraits.stats`, and the analysis of the committed results checks out against an independent
recomputation."""
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vividportraits import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/"tools"))
import update_readme  # noqa: E402

RESULTS = "results/study"
PAGE = ROOT/update_readme.PAGE   # docs/study.md: the page that holds the generated blocks
FIX = "run python tools/update_readme.py"
OLD = "results/cpu"   # the old-protocol grid (superseded; kept with its regenerated tables)


@pytest.fixture(scope="module")
def records():
    return stats.clip_records(ROOT/RESULTS)


@pytest.fixture(scope="module")
def old_records():
    return stats.clip_records(ROOT/OLD)


def test_study_page_questions_block_is_generated():
    assert update_readme.block(PAGE.read_text(), "questions") == stats.protocol_markdown().strip(), \
        f"docs/study.md's pre-registered questions differ from stats.protocol_markdown(): {FIX}"


def test_study_protocol_doc_is_generated():
    assert (ROOT/"docs"/"study_protocol.md").read_text() == stats.study_protocol_doc(), \
        f"docs/study_protocol.md differs from stats.study_protocol_doc(): {FIX}"


def test_study_page_findings_block_is_generated(records):
    refs = {a: stats.clip_records(ROOT/RESULTS, system=a) for a in set(stats.ANCHORS.values())}
    want = stats.findings_markdown(records, source=RESULTS, references=refs).strip()
    assert update_readme.block(PAGE.read_text(), "findings") == want, \
        f"docs/study.md's findings differ from what stats.findings_markdown generates from results/study: {FIX}"


@pytest.fixture(scope="module")
def references():
    return stats.reference_records(ROOT/RESULTS)


def test_study_page_anchors_block_is_generated(records, references):
    want = stats.anchors_markdown(records, references, source=RESULTS).strip()
    assert update_readme.block(PAGE.read_text(), "anchors") == want, \
        f"docs/study.md's baseline-against-references block differs from stats.anchors_markdown on results/study: {FIX}"
    assert (ROOT/RESULTS/"anchors.md").read_text().strip() == want, \
        "results/study/anchors.md is stale: re-run nbs/report.ipynb on results/study (papermill)"


def test_study_page_blocks_above_the_verdicts():
    "The questions come first; the anchors block sits in the study's results section, before its figures and the verdicts."
    text = PAGE.read_text()
    sec = text.index("## The decisive study: results")
    assert text.index(update_readme.MARKERS["questions"][1]) < sec < text.index(update_readme.MARKERS["anchors"][0]) \
        < text.index("results/study/forest.png") < text.index(update_readme.MARKERS["findings"][0])


def test_readme_links_the_study_page():
    "The README keeps the plain-words summary and sends the reader to the study page (which links back)."
    readme = (ROOT/"README.md").read_text()
    assert readme.index("## What was found so far, in plain words") < readme.index("](docs/study.md)")
    assert "](../README.md)" in PAGE.read_text()
    assert "<!-- anchors:start -->" not in readme and "<!-- findings:start -->" not in readme, \
        "the generated blocks live in docs/study.md, not in README.md"


def test_update_readme_rewrites_a_stale_anchors_block(tmp_path):
    "A stale anchors block is rewritten by tools/update_readme.py (and the test above fails on it until then)."
    stale = update_readme.replace_block(PAGE.read_text(), "anchors", "the baseline animates (stale)")
    (tmp_path/"docs").mkdir(); (tmp_path/update_readme.PAGE).write_text(stale)
    (tmp_path/update_readme.PROTOCOL).write_text((ROOT/update_readme.PROTOCOL).read_text())
    (tmp_path/"results").symlink_to(ROOT/"results", target_is_directory=True)
    assert update_readme.update(tmp_path, RESULTS) == [tmp_path/update_readme.PAGE]
    assert (tmp_path/update_readme.PAGE).read_text() == PAGE.read_text()
    assert update_readme.update(tmp_path, RESULTS) == []   # a second run changes nothing


def test_blocks_found_and_replaced_by_name():
    "The marker helpers: one block per name, a stale one replaced without touching the others."
    text = "intro\n<!-- findings:start -->\nold\n<!-- findings:end -->\nrest\n"
    assert update_readme.block(text, "findings") == "old"
    r = update_readme.replace_block(text, "findings", "new text")
    assert r.startswith("intro\n<!-- findings:start -->\nnew text\n") and r.endswith("rest\n")
    with pytest.raises(ValueError, match="expected one"): update_readme.block("no markers", "findings")
    text3 = "\n".join(f"{a}\nold {k}\n{b}" for k, (a, b) in update_readme.MARKERS.items())
    assert list(update_readme.MARKERS) == ["questions", "anchors", "findings"]
    r3 = update_readme.replace_block(text3, "anchors", "new")
    assert [update_readme.block(r3, k) for k in update_readme.MARKERS] == ["old questions", "new", "old findings"]


def _clips(path):
    "A run's per-clip records, read with plain json and pandas (not through stats)."
    import json
    r = json.loads(path.read_text())
    return pd.DataFrame(r["clips"]).assign(seed=r["params"]["seed"])


def test_anchor_table_recomputed(references, records):
    """The anchors table's means and paired differences equal a plain recomputation from the committed results.json,
    and reproduce the numbers issue 23 quotes: the baseline beats copying its source on no metric."""
    c = pd.concat([_clips(p) for p in sorted((ROOT/RESULTS/"baseline").glob("seed*/results.json"))])
    assert c.seed.nunique() == 10
    quoted = {("cross", "psnr"): (20.65, 21.52), ("cross", "lpips"): (0.270, 0.194), ("cross", "id_app"): (0.434, 0.960),
              ("cross", "id_face"): (0.247, 0.957), ("cross", "expr_sim_carried"): (0.345, 0.438),
              ("self", "psnr"): (23.5, 27.2)}
    for protocol in ("cross", "self"):
        t = stats.reference_anchors(records, references, protocol).set_index("metric")
        k = c[c.kind == protocol]
        model, copy = (k[k.system == s].set_index(["seed", "clip"]) for s in ("model", "copied_source"))
        for m in t.index:
            seedmean = lambda d: d[m].astype(float).groupby(level="seed").mean().mean()
            assert np.isclose(t.loc[m, "baseline"], seedmean(model)), (protocol, m)
            assert np.isclose(t.loc[m, "copied_source"], seedmean(copy)), (protocol, m)
            assert np.isclose(t.loc[m, "difference"], seedmean(model[[m]] - copy.loc[model.index, [m]])), (protocol, m)
            assert t.loc[m, "ci_low"] <= t.loc[m, "difference"] <= t.loc[m, "ci_high"]
        scored = {m for m in copy.columns if m not in ("kind", "source", "driver", "system")
                  and pd.to_numeric(copy[m], errors="coerce").notna().any()}
        assert set(t.index) == scored, (protocol, scored ^ set(t.index))   # every metric the copied source is scored on
        assert "wins" not in set(t.outcome), (protocol, t.outcome.to_dict())
        for (pr, m), (b, r) in quoted.items():
            if pr != protocol: continue
            digits = 1 if m == "psnr" and pr == "self" else 2 if m == "psnr" else 3
            assert (round(t.loc[m, "baseline"], digits), round(t.loc[m, "copied_source"], digits)) == (b, r), (pr, m)
    gt = stats.reference_anchors(records, references, "cross").set_index("metric")
    assert set(gt.index[gt.truth == "wins"]) == {"psnr", "ssim", "lpips", "expr_sim_carried", "gaze_sim"}


def test_readme_prose_agrees_with_the_anchors_block():
    "The README's hand-written lead and the study page's prose say only what the generated anchors block says."
    text = (ROOT/"README.md").read_text() + PAGE.read_text(); block = update_readme.block(PAGE.read_text(), "anchors")
    if "the study's baseline does not yet animate" in text:
        assert "does not beat copying its source on any metric" in block
    assert "protects the face shape" not in text and "protects the source" not in text


def test_q3_expression_cost_recomputed(records):
    "The findings' descriptive Q3 line: [0.6,1.4] - baseline on expr_sim_carried equals a plain recomputation."
    per_seed = []
    for seed in range(10):
        a, b = [_clips(ROOT/RESULTS/f/f"seed{seed}"/"results.json") for f in ("scale-_0.6,1.4_", "baseline")]
        a, b = [x[(x.system == "model") & (x.kind == "cross")].set_index(["source", "driver"]) for x in (a, b)]
        per_seed.append((a.expr_sim_carried - b.loc[a.index, "expr_sim_carried"]).mean())
    f = update_readme.block(PAGE.read_text(), "findings")
    line = next(l for l in f.splitlines() if l.startswith("- **Q3 the scaling range, descriptive (not pre-registered"))
    assert f"scale=[0.6,1.4] {np.mean(per_seed):+.3f} [" in line, line
    assert "worse than the baseline (interval excludes 0): scale=[0.6,1.4]" in line, line
    assert round(np.mean(per_seed), 3) == -0.243


def test_study_page_sections_in_order():
    text = PAGE.read_text()
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
