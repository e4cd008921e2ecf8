#!/usr/bin/env python
"""Clear a `+dirty` flag that only a run's own outputs caused, keeping the evidence in the record.

Before `core.OUTPUT_DIRS`, `core.git_sha` called a tree dirty when any tracked file was modified, so a grid run in a
checkout whose `results/<grid>/grid_status.json` is committed was recorded `<sha>+dirty` by the grid's own status file.
Given the `git status --porcelain --untracked-files=no` of the tree the runs were made in (captured after them: a
tracked file, once modified, stays modified, so a later capture lists every path modified earlier), this rewrites
each results.json under RESULTS recorded `<COMMIT>+dirty` to `<COMMIT>` **only if** every modified path lies under
`core.OUTPUT_DIRS`, and records what it did under `dirty_cleared` (the recorded sha, the modified paths, the status
file). Metrics are never touched.

    python tools/clear_output_dirty.py results/study --commit 0d63fef... --status results/study/tree_status_0d63fef.txt
"""
from __future__ import annotations
import argparse, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from vividportraits.core import OUTPUT_DIRS, load_json, save_json  # noqa: E402


def modified_paths(status_text: str) -> list[str]:
    "The paths of a `git status --porcelain` text (comment lines starting with # skipped)."
    out = []
    for line in status_text.splitlines():
        if not line.strip() or line.startswith("#"): continue
        if len(line) < 4 or line[2] != " ": raise ValueError(f"status: not a `git status --porcelain` line: {line!r}")
        out.append(line[3:].split(" -> ")[-1].strip('"'))
    return out


def clear(results: Path, commit: str, status: Path) -> list[Path]:
    "Clear the output-only dirty flag of the runs under `results` made at `commit`; the results.json files changed."
    paths = modified_paths(status.read_text())
    code = [p for p in paths if not any(p == o or p.startswith(o + "/") for o in OUTPUT_DIRS)]
    if code: raise SystemExit(f"{status}: modified paths outside {OUTPUT_DIRS}: {code}; the runs stay dirty")
    changed = []
    for f in sorted(results.rglob("results.json")):
        r = load_json(f)
        if r.get("git_sha") != commit + "+dirty" or "dirty_cleared" in r: continue
        r["dirty_cleared"] = {"recorded_git_sha": r["git_sha"], "modified_paths": paths,
                              "status_file": status.name, "tool": "tools/clear_output_dirty.py"}
        r["git_sha"] = commit
        for k in ("training", "evaluation"):
            c = (r.get("commits") or {}).get(k)
            if c and c.get("commit") == commit and c.get("dirty"): c["dirty"] = False
        save_json(r, f); changed.append(f)
    return changed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path, help="folder searched for results.json")
    ap.add_argument("--commit", required=True, help="the full commit the runs recorded (without +dirty)")
    ap.add_argument("--status", type=Path, required=True, help="git status --porcelain of the runs' tree")
    a = ap.parse_args(argv)
    changed = clear(a.results, a.commit, a.status)
    print(f"cleared {len(changed)} run(s)" + "".join(f"\n  {p}" for p in changed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
