"""What `tools/run_notebooks.py` writes into each executed notebook and `tests/test_notebooks_gate.py` checks.

A library notebook executed by `make notebooks` carries, in its notebook metadata (kept by nbdev-clean through
`allowed_metadata_keys` in pyproject's [tool.nbdev]):

    "vividportraits": {"executed_with": {"library": <sha256>, "code": <sha256>},
                       "executed_cells": [<cell id>, ...],    # in the order they ran
                       "executor": "execnb"}

`library` hashes the exported package (vividportraits/*.py except the generated _modidx.py, plus the shipped
weights in vividportraits/weights/, which the metrics notebooks load); `code` hashes the notebook's own code cells.
A commit that touches only README, results/ or markdown cells changes neither, so it does not make outputs stale.
"""
from __future__ import annotations
import hashlib, json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEY = "vividportraits"  # the notebook metadata key (listed in [tool.nbdev] allowed_metadata_keys)
KERNEL = {"name": "vividportraits", "display_name": "vividportraits", "language": "python"}  # nbdev-clean sets display_name=name
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = ("[interactive widget: open this notebook in JupyterLab and run it to use it; "
               "the static figure beside it shows what it explores]")


def library_notebooks(root: Path = ROOT) -> list[Path]:
    "The library notebooks nbs/NN_*.ipynb and nbs/NNa_*.ipynb (inserted rooms) in order (not ablate/report)."
    return sorted(p for p in (Path(root)/"nbs").glob("[0-9][0-9]*_*.ipynb") if re.match(r"^\d\d[a-z]?_", p.name))


def library_files(root: Path = ROOT) -> list[Path]:
    "The files whose content the outputs depend on: exported modules (no _modidx.py) and shipped weights."
    pkg = Path(root)/"vividportraits"
    mods = [p for p in pkg.glob("*.py") if p.name != "_modidx.py"]
    weights = [p for p in (pkg/"weights").glob("*") if p.is_file()]
    return sorted(mods + weights)


def library_hash(root: Path = ROOT) -> str:
    "sha256 over the relative path and bytes of each of `library_files`."
    h = hashlib.sha256()
    for p in library_files(root):
        h.update(p.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def _src(cell) -> str:
    s = cell.get("source", "")
    return s if isinstance(s, str) else "".join(s)


def code_hash(nb: dict) -> str:
    "sha256 over the sources of the notebook's code cells, in order (markdown edits do not count)."
    h = hashlib.sha256()
    for c in nb["cells"]:
        if c["cell_type"] == "code": h.update(_src(c).encode() + b"\0\0")
    return h.hexdigest()


def cells_to_run(path: Path) -> tuple[list[str], object]:
    """Ids of the code cells nbdev-test would run in the notebook at `path`, in order, and the processed notebook.

    Same rule as nbdev-test (its own predicate): cells flagged with one of [tool.nbdev] tst_flags (notest, slow, gpu)
    and `#| eval: false` cells are left out."""
    from nbdev.config import get_config
    from nbdev.process import NBProcessor
    from nbdev.test import _skip_cell
    flags = get_config(path=Path(path).parent).tst_flags
    if isinstance(flags, str): flags = flags.split()
    nb = NBProcessor(path, rm_directives=False, process=True).nb
    skip = _skip_cell(nb, flags, None)
    return [c.id for c in nb.cells if not skip(c)], nb


def read(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write(nb: dict, path: Path):
    Path(path).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
