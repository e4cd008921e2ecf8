#!/usr/bin/env python
"""`make docs`: a static HTML site of the notebooks, the README and the pages under docs/, without Quarto.

Renderer: nbconvert's HTMLExporter (the `lab` template). It is a Jupyter project package already installed with
jupyterlab, works offline (the JupyterLab CSS is inlined into each page; figures are the notebooks' own base64 PNG
outputs), and renders the notebooks exactly as JupyterLab shows them. Only MathJax (for the $...$ formulas) and
require.js are linked from a CDN: offline, formulas show as their TeX source.

Pages, laid out as the repository is so that relative links keep working: index.html (the "Notebook map" of
docs/notebooks.md, each notebook linked to its page), readme.html (README.md), docs/NAME.html for every docs/NAME.md,
and one NAME.html per nbs/*.ipynb. In the markdown pages a link to README.md, docs/NAME.md or nbs/NAME.ipynb becomes a
link to its page, and every local file they link or show (figures under results/ and docs/figures/) is copied to the
same relative path; a link to a heading (GitHub's anchor) is pointed at the id nbconvert gives that heading. A local
link of those pages that resolves to nothing in the site, or to a missing anchor, is reported (`broken_links`).

Usage: python tools/build_docs.py [--out _docs]
"""
from __future__ import annotations
import argparse, posixpath, re, shutil, sys
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAP_PAGE = "docs/notebooks.md"
"The markdown page whose \"Notebook map\" section is the site's index."


def _md_notebook(md: str):
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell(md))
    return nb


def _section(md: str, title: str, where: str = MAP_PAGE) -> str:
    "The markdown of the `## title` section of `md` (up to the next `## ` heading)."
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", md, flags=re.M | re.S)
    if not m: raise ValueError(f"{where}: no '## {title}' section found")
    return m.group(1)


def _link_notebooks(md: str, names: set[str], prefix: str = "") -> str:
    "Turn `NN_name` table entries into links to the notebooks' pages (`prefix`: the way from the page to the site root)."
    return re.sub(r"^\| `([\w-]+)` \|", lambda m: f"| [`{m.group(1)}`]({prefix}{m.group(1)}.html) |" if m.group(1) in names
                  else m.group(0), md, flags=re.M)


def _site_path(repo_path: str, names: set[str]) -> str:
    "Where a repository file lives in the site: README.md, docs/*.md and nbs/*.ipynb become pages, the rest stays."
    if repo_path == "README.md": return "readme.html"
    if repo_path.startswith("docs/") and repo_path.endswith(".md"): return repo_path[:-3] + ".html"
    m = re.fullmatch(r"nbs/([\w-]+)\.ipynb", repo_path)
    if m and m.group(1) in names: return f"{m.group(1)}.html"
    return repo_path


def _heading_ids(md: str) -> dict[str, str]:
    "A markdown page's headings: GitHub's anchor (what links in the repository use) -> the id nbconvert gives it."
    out = {}
    for h in re.findall(r"^#+ (.+?)\s*$", md, flags=re.M):
        text = re.sub(r"[`*]", "", h)
        out.setdefault(re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-"), text.replace(" ", "-"))
    return out


def _rewrite_links(md: str, page: str, names: set[str], root: Path, out: Path) -> str:
    """The markdown of the repository file `page` (e.g. "docs/study.md") with its local link and image targets
    pointed at their places in the site; the local files they name are copied there."""
    here = posixpath.dirname(page)
    site_here = posixpath.dirname(_site_path(page, names))

    def fix(m):
        target = m.group(2)
        if "://" in target or target.startswith(("#", "mailto:", "data:")): return m.group(0)
        path, hash_, frag = target.partition("#")
        repo_path = posixpath.normpath(posixpath.join(here, path)) if path else page
        if repo_path.startswith("../"): return m.group(0)   # outside the repository
        site = _site_path(repo_path, names)
        if frag and site.endswith(".html") and repo_path.endswith(".md") and (root/repo_path).is_file():
            frag = _heading_ids((root/repo_path).read_text(encoding="utf-8")).get(frag, frag)
        if site == repo_path and (root/repo_path).is_file():  # a figure or other file: copied beside the pages
            (out/site).parent.mkdir(parents=True, exist_ok=True); shutil.copy2(root/repo_path, out/site)
        return f"{m.group(1)}({posixpath.relpath(site, site_here or '.')}{hash_}{frag})"
    return re.sub(r"(!?\[[^\]]*\])\(([^)\s]+)\)", fix, md)


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__(); self.refs = []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"): self.refs.append(a["href"])
        if tag == "img" and a.get("src"): self.refs.append(a["src"])


def broken_links(out: Path, pages: list[Path]) -> dict[str, list[str]]:
    """For each page: its local links and images that resolve to no file in the site, or to a page without the
    linked anchor (`id="..."`; links within a page, `#...`, are not checked)."""
    def ok(page, ref):
        path, _, frag = ref.partition("#")
        target = (page.parent/path).resolve()
        return target.is_file() and (not frag or f'id="{frag}"' in target.read_text(encoding="utf-8", errors="replace"))
    bad = {}
    for page in pages:
        p = _Refs(); p.feed(page.read_text(encoding="utf-8"))
        local = [r for r in p.refs if "://" not in r and not r.startswith(("#", "mailto:", "data:"))]
        miss = [r for r in local if not ok(page, r)]
        if miss: bad[str(page.relative_to(out))] = miss
    return bad


def build(out: Path, root: Path = ROOT) -> list[Path]:
    "Render the site into `out`; returns the pages written (the markdown pages first: index, readme, docs/*)."
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
        up = "../" * name.count("/")
        nav = (f'<p style="margin:1em 2em"><a href="{up}index.html">vividportraits: notebook map</a> | '
               f'<a href="{up}readme.html">README</a></p>')
        body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + nav, body, count=1)
        (out/name).parent.mkdir(parents=True, exist_ok=True)
        (out/name).write_text(body, encoding="utf-8"); pages.append(out/name)

    nbmap = (root/MAP_PAGE).read_text(encoding="utf-8")
    index_md = ("# vividportraits: notebook map\n\nThe library notebooks in order, executed (`make notebooks`); "
                "the [README](readme.html) explains the kit, and [docs/notebooks.html](docs/notebooks.html) says how to "
                "read, run and re-execute them.\n\n" + _section(nbmap, "Notebook map"))
    write("index.html", _md_notebook(_link_notebooks(index_md, names)), "vividportraits")
    readme = (root/"README.md").read_text(encoding="utf-8")
    write("readme.html", _md_notebook(_rewrite_links(readme, "README.md", names, root, out)), "vividportraits README")
    for p in sorted((root/"docs").glob("*.md")):
        md = _rewrite_links(p.read_text(encoding="utf-8"), f"docs/{p.name}", names, root, out)
        write(f"docs/{p.stem}.html", _md_notebook(_link_notebooks(md, names, prefix="../")), f"vividportraits: {p.stem}")
    for p in nbs:
        write(f"{p.stem}.html", nbformat.read(p, as_version=4), p.stem)
    return pages


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--out", default=str(ROOT/"_docs"), help="output folder")
    a = ap.parse_args(argv)
    out = Path(a.out)
    pages = build(out)
    print(f"{len(pages)} pages in {a.out}; open {out/'index.html'}")
    bad = broken_links(out, [p for p in pages if p.suffix == ".html" and not (ROOT/"nbs"/f"{p.stem}.ipynb").exists()])
    for page, refs in bad.items():
        print(f"{page}: broken links: {', '.join(refs)}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
