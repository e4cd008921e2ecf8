#!/usr/bin/env python
"""`make notebooks`: execute every library notebook (nbs/NN_*.ipynb, not ablate/report) in order, on CPU, in place,
so that the committed notebooks carry their outputs; then nbdev-clean them.

Executor: execnb's CaptureShell, the one nbdev-test uses, with nbdev-test's own skip predicate, so exactly the cells
`nbdev-test` runs are run (cells flagged notest/slow/gpu and `#| eval: false` cells are not, and keep no output).
Each notebook runs in its own Python process (a fresh "kernel"), with its folder as working directory.
Figures are stored as plain PNG (not retina, which doubles each side). Widget outputs are replaced by a short note
(their state is not saved; the static figure beside each widget is what a reader without a kernel sees).
Each notebook gets the stamp of `tools/nbstamp.py` that tests/test_notebooks_gate.py compares.

Usage: python tools/run_notebooks.py [NAME ...]   (NAME: e.g. 02_synth; default: all library notebooks)
"""
from __future__ import annotations
import argparse, os, re, subprocess, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nbstamp  # noqa: E402

CELL_TIMEOUT = 600  # nbdev-test's default per-cell limit


def _tidy(outputs: list) -> list:
    "Widget views -> a short note (no saved widget state); drop streams that only hold terminal clear codes."
    res = []
    for o in outputs:
        o = dict(o)
        if nbstamp.WIDGET_MIME in (o.get("data") or {}): o["data"] = {"text/plain": nbstamp.WIDGET_NOTE}
        if o.get("output_type") == "stream":
            text = o.get("text", "")
            text = text if isinstance(text, str) else "".join(text)
            if not re.sub(r"\x1b\[[0-9;]*[A-Za-z]|\r", "", text).strip(): continue
        res.append(o)
    return res


def run_one(path: Path) -> int:
    "Execute the notebook at `path` in this process and write it back with outputs and stamp; 1 on error."
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    path = Path(path).resolve()
    root = path.parents[1]
    ids, pnb = nbstamp.cells_to_run(path)
    want = set(ids)
    k = CaptureShell(path, mpl_format="png")
    t0 = time.time()
    with working_directory(path.parent):
        k.run_all(pnb, exc_stop=False, preproc=lambda c: c.get("id") not in want or c.cell_type != "code",
                  cell_timeout=CELL_TIMEOUT)
    dt = time.time() - t0
    ran = {c.id: c for c in pnb.cells if c.cell_type == "code" and c.id in want}
    nb = nbstamp.read(path)  # the file as committed; only outputs and notebook metadata change
    errors = []
    for c in nb["cells"]:
        if c["cell_type"] != "code": continue
        c["execution_count"] = None
        c["outputs"] = _tidy(ran[c["id"]].get("outputs", [])) if c["id"] in ran else []
        if any(o.get("output_type") == "error" for o in c["outputs"]): errors.append(c["id"])
    nb["metadata"]["kernelspec"] = dict(nbstamp.KERNEL)
    nb["metadata"][nbstamp.KEY] = {
        "executed_with": {"library": nbstamp.library_hash(root), "code": nbstamp.code_hash(nb)},
        "executed_cells": ids, "executor": "execnb"}
    nbstamp.write(nb, path)
    print(f"{path.name}: {len(ids)} cells in {dt:.1f} s" + (f"; ERRORS in cells {errors}" if errors else ""),
          flush=True)
    return 1 if errors else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("names", nargs="*", help="notebooks to run, e.g. 02_synth (default: all library notebooks)")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one notebook in this process
    ap.add_argument("--no-export", action="store_true", help="skip nbdev-export before running")
    a = ap.parse_args(argv)
    if a.one: return run_one(Path(a.one))
    root = nbstamp.ROOT
    bin_ = Path(sys.executable).parent
    nbs = nbstamp.library_notebooks(root)
    if a.names:
        unknown = [n for n in a.names if not any(p.stem == n or p.name == n for p in nbs)]
        if unknown: ap.error(f"unknown notebook(s) {unknown}; library notebooks: {[p.stem for p in nbs]}")
        nbs = [p for p in nbs if p.stem in a.names or p.name in a.names]
    if not a.no_export: subprocess.run([str(bin_/"nbdev-export")], cwd=root, check=True)
    failed, t0 = [], time.time()
    for p in nbs:
        # posters, not video blobs, in committed notebooks (core.show_video reads this)
        r = subprocess.run([sys.executable, __file__, "--one", str(p)], cwd=root,
                           env={**os.environ, "VIVIDPORTRAITS_POSTER": "1"})
        if r.returncode: failed.append(p.name)
    subprocess.run([str(bin_/"nbdev-clean")], cwd=root, check=True)
    print(f"{len(nbs)} notebooks in {time.time()-t0:.0f} s" + (f"; FAILED: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
