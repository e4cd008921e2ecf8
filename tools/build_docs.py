#!/usr/bin/env python
"""`make docs`: a static HTML site of the notebooks and the README, without Quarto.

Renderer: nbconvert's HTMLExporter (the `lab` template). It is a Jupyter project package already installed with
jupyterlab, works offline (the JupyterLab CSS is inlined into each page; figures are the notebooks' own base64 PNG
outputs), and renders the notebooks exactly as JupyterLab shows them. Only MathJax (for the $...$ formulas) and
require.js are linked from a CDN: offline, formulas show as their TeX source.

Pages: index.html (the README's "Notebook map", each notebook linked to its page), readme.html (the README, with
links to notebooks rewritten to their pages and its figures copied beside it), and one NAME.html per nbs/*.ipynb.

Usage: python tools/build_docs.py [--out _docs]
"""
from __future__ import annotations
import argparse, re, shutil, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _md_notebook(md: str):
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell(md))
    return nb


def _section(md: str, title: str) -> str:
    "The markdown of the `## title` section of `md` (up to the next `## ` heading)."
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", md, flags=re.M | re.S)
    if not m: raise ValueError(f"README.md: no '## {title}' section found")
    return m.group(1)


def _link_notebooks(md: str, names: set[str]) -> str:
    "Turn `NN_name` table entries and nbs/NN_name.ipynb links into links to the notebooks' pages."
    md = re.sub(r"\(nbs/([\w-]+)\.ipynb\)", lambda m: f"({m.group(1)}.html)" if m.group(1) in names else m.group(0), md)
    return re.sub(r"^\| `([\w-]+)` \|", lambda m: f"| [`{m.group(1)}`]({m.group(1)}.html) |" if m.group(1) in names
                  else m.group(0), md, flags=re.M)


def build(out: Path, root: Path = ROOT) -> list[Path]:
    "Render the site into `out`; returns the pages written."
    import nbformat
    from nbconvert import HTMLExporter
    out = Path(out); out.mkdir(parents=True, exist_ok=True)
    ex = HTMLExporter(template_name="lab")
    nbs = sorted((root/"nbs").glob("*.ipynb"))
    names = {p.stem for p in nbs}
    pages = []

    def write(name, nb, title):
        nb.metadata["title"] = title  # the lab template's <title>
        body, _ = ex.from_notebook_node(nb)
        nav = '<p style="margin:1em 2em"><a href="index.html">vividportraits: notebook map</a> | <a href="readme.html">README</a></p>'
        body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + nav, body, count=1)
        (out/name).write_text(body, encoding="utf-8"); pages.append(out/name)

    readme = (root/"README.md").read_text(encoding="utf-8")
    index_md = ("# vividportraits: notebook map\n\nThe library notebooks in order, executed (`make notebooks`); "
                "the [README](readme.html) explains the kit.\n\n" + _section(readme, "Notebook map"))
    write("index.html", _md_notebook(_link_notebooks(index_md, names)), "vividportraits")
    for rel in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", readme):  # the README's local figures, same relative paths
        src = root/rel
        if "://" not in rel and src.is_file():
            (out/rel).parent.mkdir(parents=True, exist_ok=True); shutil.copy2(src, out/rel)
    write("readme.html", _md_notebook(_link_notebooks(readme, names)), "vividportraits README")
    for p in nbs:
        write(f"{p.stem}.html", nbformat.read(p, as_version=4), p.stem)
    return pages


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--out", default=str(ROOT/"_docs"), help="output folder")
    a = ap.parse_args(argv)
    pages = build(Path(a.out))
    print(f"{len(pages)} pages in {a.out}; open {Path(a.out)/'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
