"""The notebook-outputs gate: each library notebook carries the outputs of a full `make notebooks` run of the
current library (tools/run_notebooks.py, stamp in tools/nbstamp.py), so stale or hand-made outputs fail.

Switch: while `nbs/.outputs-required` is absent (outputs not yet committed) the checks on real notebooks are skipped.
The checker itself is tested on synthetic notebooks either way, so it cannot pass vacuously."""
import base64, copy, json, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/"tools"))
import nbstamp  # noqa: E402

SWITCH = ROOT/"nbs"/".outputs-required"
MAX_OUTPUT_BYTES = 1_000_000  # one output (all its mime types) in the .ipynb JSON
VIDEO_MARKERS = ("data:video/", "video/mp4", "video/webm")


def _src(c): return c["source"] if isinstance(c["source"], str) else "".join(c["source"])


def gate_problems(nb: dict, expected_ids: list[str], library: str) -> list[str]:
    "What is wrong with the outputs of notebook `nb`, given the cells nbdev-test would run and the library hash."
    probs = []
    st = nb.get("metadata", {}).get(nbstamp.KEY)
    if not st: return ["no execution stamp (metadata.vividportraits): run `make notebooks`"]
    ew = st.get("executed_with", {})
    if ew.get("library") != library:
        probs.append("stale: executed with another version of the library (vividportraits/*.py or weights)")
    if ew.get("code") != nbstamp.code_hash(nb):
        probs.append("stale: code cells changed since the notebook was executed")
    if st.get("executed_cells") != expected_ids:
        probs.append(f"executed cells {st.get('executed_cells')} are not the cells nbdev-test runs, in order: "
                     f"{expected_ids}")
    want = set(expected_ids)
    for c in nb["cells"]:
        if c["cell_type"] != "code": continue
        outs = c.get("outputs", [])
        if c["id"] not in want and outs:
            probs.append(f"cell {c['id']}: not run by `make notebooks` (flagged/eval: false) but has outputs")
        for o in outs:
            if o.get("output_type") == "error":
                probs.append(f"cell {c['id']}: error output {o.get('ename')}: {o.get('evalue')}")
            size = len(json.dumps(o, ensure_ascii=False).encode())
            if size > MAX_OUTPUT_BYTES:
                probs.append(f"cell {c['id']}: one output is {size/1e6:.1f} MB (limit {MAX_OUTPUT_BYTES/1e6:.0f} MB)")
            blob = json.dumps(o.get("data", {}))
            if any(m in blob for m in VIDEO_MARKERS):
                probs.append(f"cell {c['id']}: embeds a video; notebooks keep only poster frames / small strips")
    return probs


# ---- the checker on synthetic notebooks (always runs) ----

def _toy(tmp_path):
    nb = {"cells": [
        {"cell_type": "markdown", "id": "m1", "metadata": {}, "source": "# toy"},
        {"cell_type": "code", "id": "c1", "metadata": {}, "execution_count": None, "source": "print(1)",
         "outputs": [{"output_type": "stream", "name": "stdout", "text": "1\n"}]},
        {"cell_type": "code", "id": "c2", "metadata": {}, "execution_count": None, "source": "#| slow\nx = 2",
         "outputs": []}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    nb["metadata"][nbstamp.KEY] = {"executed_with": {"library": "L", "code": nbstamp.code_hash(nb)},
                                   "executed_cells": ["c1"], "executor": "execnb"}
    return nb


def test_gate_checker_accepts_fresh_and_catches_each_problem(tmp_path):
    nb = _toy(tmp_path)
    assert gate_problems(nb, ["c1"], "L") == []
    assert "stale: executed with another version" in gate_problems(nb, ["c1"], "L2")[0]
    b = copy.deepcopy(nb); b["cells"][1]["source"] = "print(2)"
    assert any("code cells changed" in p for p in gate_problems(b, ["c1"], "L"))
    b = copy.deepcopy(nb); del b["metadata"][nbstamp.KEY]
    assert "no execution stamp" in gate_problems(b, ["c1"], "L")[0]
    assert any("not the cells nbdev-test runs" in p for p in gate_problems(nb, ["c1", "c2"], "L"))
    b = copy.deepcopy(nb); b["cells"][2]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x"}]
    assert any("flagged" in p for p in gate_problems(b, ["c1"], "L"))
    b = copy.deepcopy(nb); b["cells"][1]["outputs"].append(
        {"output_type": "error", "ename": "ValueError", "evalue": "boom", "traceback": []})
    assert any("ValueError: boom" in p for p in gate_problems(b, ["c1"], "L"))
    b = copy.deepcopy(nb); b["cells"][1]["outputs"] = [{"output_type": "display_data", "metadata": {}, "data": {
        "image/png": base64.b64encode(bytes(900_000)).decode()}}]
    assert any("MB (limit" in p for p in gate_problems(b, ["c1"], "L"))
    b = copy.deepcopy(nb); b["cells"][1]["outputs"] = [{"output_type": "display_data", "metadata": {}, "data": {
        "text/html": '<video><source src="data:video/mp4;base64,AAAA"></video>'}}]
    assert any("embeds a video" in p for p in gate_problems(b, ["c1"], "L"))


def test_stamp_ignores_non_library_files_and_markdown(tmp_path):
    (tmp_path/"vividportraits"/"weights").mkdir(parents=True)
    (tmp_path/"vividportraits"/"core.py").write_text("x = 1\n")
    (tmp_path/"vividportraits"/"_modidx.py").write_text("d = {}\n")
    h = nbstamp.library_hash(tmp_path)
    (tmp_path/"vividportraits"/"_modidx.py").write_text("d = {1: 2}\n"); (tmp_path/"README.md").write_text("new")
    assert nbstamp.library_hash(tmp_path) == h
    (tmp_path/"vividportraits"/"weights"/"w.json").write_text("{}")
    h2 = nbstamp.library_hash(tmp_path); assert h2 != h
    (tmp_path/"vividportraits"/"core.py").write_text("x = 2\n")
    assert nbstamp.library_hash(tmp_path) != h2
    nb = _toy(tmp_path); c = nbstamp.code_hash(nb)
    nb["cells"][0]["source"] = "# another title"; assert nbstamp.code_hash(nb) == c


def test_nbdev_clean_keeps_the_stamp():
    from nbdev.clean import clean_nb
    from nbdev.config import get_config
    nb = _toy(None); nb["metadata"]["kernelspec"] = dict(nbstamp.KERNEL)
    keys = get_config(path=ROOT).get("allowed_metadata_keys") or []
    assert nbstamp.KEY in keys, "[tool.nbdev] allowed_metadata_keys must list the stamp key"
    clean_nb(nb, allowed_metadata_keys=keys)
    assert nb["metadata"][nbstamp.KEY]["executed_cells"] == ["c1"]
    assert nb["metadata"]["kernelspec"]["name"] == "vividportraits"


# ---- the real notebooks ----

@pytest.mark.parametrize("path", nbstamp.library_notebooks(), ids=lambda p: p.stem)
def test_notebook_outputs_are_from_a_full_run_of_the_current_library(path):
    if not SWITCH.exists(): pytest.skip("notebook outputs not yet committed (run make notebooks)")
    ids, _ = nbstamp.cells_to_run(path)
    probs = gate_problems(nbstamp.read(path), ids, nbstamp.library_hash())
    assert not probs, f"{path.name} (fix: `make notebooks`, commit the notebooks):\n  " + "\n  ".join(probs)
