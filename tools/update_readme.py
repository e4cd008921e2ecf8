#!/usr/bin/env python
"""Rewrite the study's generated markdown from `vividportraits.stats` and the committed results.

Three blocks of docs/study.md, each between its marker comments (`MARKERS`): the pre-registered questions
(`stats.protocol_markdown`), the baseline against its rendered references (`stats.anchors_markdown`) and the findings
(`stats.findings_markdown`); and the whole of docs/study_protocol.md (`stats.study_protocol_doc`). The library makes the
markdown; this script only puts it in place. `tests/test_stats.py` fails when a block is stale and names this command.

(The name is historical: the blocks lived in README.md until the README was shortened; they are in docs/study.md now.)

Usage: python tools/update_readme.py [--results results/study]
"""
from __future__ import annotations
import argparse, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = "docs/study.md"
"The page that holds the generated blocks, relative to the repository root."
PROTOCOL = "docs/study_protocol.md"
"The pre-registration page, generated whole."
MARKERS = {"questions": ("<!-- questions:start -->", "<!-- questions:end -->"),
           "anchors": ("<!-- anchors:start -->", "<!-- anchors:end -->"),
           "findings": ("<!-- findings:start -->", "<!-- findings:end -->")}
"The comment pairs around the generated blocks, in the order the page holds them."


def block(text: str, name: str) -> str:
    "The text between a block's markers (stripped)."
    start, end = MARKERS[name]
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise ValueError(f"text: expected one {start} ... {end} block, found {text.count(start)} start and "
                         f"{text.count(end)} end markers")
    return text[text.index(start) + len(start):text.index(end)].strip()


def replace_block(text: str, name: str, new: str) -> str:
    "`text` with the block `name` replaced by `new`."
    block(text, name)
    start, end = MARKERS[name]
    return text[:text.index(start) + len(start)] + "\n" + new.strip() + "\n" + text[text.index(end):]


def update(root: str | Path = ROOT,           # the repository root
           results: str = "results/study"     # results folder the blocks come from (relative to root)
           ) -> list[Path]:                   # the files that changed
    "Rewrite PAGE's generated blocks and PROTOCOL from `stats.QUESTIONS` and the committed results under `results`."
    from vividportraits import stats
    from vividportraits.core import atomic_write
    root = Path(root); page, doc = root/PAGE, root/PROTOCOL
    old = page.read_text()
    recs, refs = stats.clip_records(root/results), stats.reference_records(root/results)
    new = replace_block(old, "questions", stats.protocol_markdown())
    new = replace_block(new, "anchors", stats.anchors_markdown(recs, refs, source=results))
    new = replace_block(new, "findings", stats.findings_markdown(recs, source=results, references=refs))
    changed = []
    for path, text in [(page, new), (doc, stats.study_protocol_doc())]:
        if path.exists() and path.read_text() == text: continue
        with atomic_write(path, "w") as f: f.write(text)
        changed.append(path)
    return changed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--results", default="results/study", help="results folder, relative to the repository root")
    a = ap.parse_args(argv)
    changed = update(ROOT, a.results)
    print("rewrote " + ", ".join(str(p.relative_to(ROOT)) for p in changed) if changed else
          f"{PAGE} and {PROTOCOL} are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
