"""`make docs` (tools/build_docs.py): the site builds, its index is the notebook map (docs/notebooks.md) with links that
resolve, the README and every docs/*.md page are rendered with working links and figures, and a notebook's figure
appears on its page (once the notebooks carry outputs: nbs/.outputs-required)."""
import json, sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/"tools"))
import build_docs, nbstamp  # noqa: E402


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__(); self.links, self.imgs = [], []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"): self.links.append(a["href"])
        if tag == "img": self.imgs.append(a.get("src") or "")


def _refs(path):
    p = _Refs(); p.feed(path.read_text(encoding="utf-8")); return p


def _local(ref): return not ref.startswith(("http://", "https://", "#", "mailto:", "data:"))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs")
    build_docs.build(out)
    return out


def test_index_is_the_notebook_map_and_its_links_resolve(site):
    refs = _refs(site/"index.html")
    local = [h for h in refs.links if _local(h)]
    for p in nbstamp.library_notebooks():  # every library notebook is linked from the index
        assert f"{p.stem}.html" in local, f"index.html does not link {p.stem}.html"
    assert "readme.html" in local
    missing = [h for h in local if not (site/h.split("#")[0]).is_file()]
    assert not missing, f"index.html links to pages that were not built: {missing}"


def test_notebook_map_lists_every_notebook():
    "docs/notebooks.md's map (the site's index) names every notebook in nbs/, templates included."
    table = build_docs._section((ROOT/build_docs.MAP_PAGE).read_text(), "Notebook map")
    for p in sorted((ROOT/"nbs").glob("*.ipynb")):
        assert f"| `{p.stem}` |" in table, f"{build_docs.MAP_PAGE}: the notebook map does not list {p.stem}"


def test_docs_pages_built_and_linked(site):
    "Every docs/*.md page is rendered, the README links each one, and no markdown page has a broken local link."
    readme = (ROOT/"README.md").read_text()
    for p in sorted((ROOT/"docs").glob("*.md")):
        assert (site/"docs"/f"{p.stem}.html").is_file(), f"docs/{p.stem}.html not built"
        assert f"](docs/{p.name}" in readme, f"README.md does not link docs/{p.name}"
        assert f"docs/{p.stem}.html" in _refs(site/"readme.html").links
    pages = [site/"index.html", site/"readme.html", *sorted((site/"docs").glob("*.html"))]
    assert not build_docs.broken_links(site, pages), build_docs.broken_links(site, pages)


def test_readme_figures_resolve(site):
    imgs = [s for s in _refs(site/"readme.html").imgs if _local(s)]
    assert imgs, "readme.html shows no figure"
    missing = [s for s in imgs if not (site/s).is_file()]
    assert not missing, f"readme.html: figures not copied into the site: {missing}"


def _has_figure(nb_path):
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    return any(k.startswith("image/") for c in nb["cells"] if c["cell_type"] == "code"
               for o in c.get("outputs", []) for k in (o.get("data") or {}))


@pytest.mark.parametrize("path", nbstamp.library_notebooks(), ids=lambda p: p.stem)
def test_notebook_figures_appear_on_their_pages(site, path):
    if not (ROOT/"nbs"/".outputs-required").exists():
        pytest.skip("notebook outputs not yet committed (run make notebooks)")
    if not _has_figure(path): pytest.skip(f"{path.name} has no figure output")
    imgs = _refs(site/f"{path.stem}.html").imgs
    assert any(s.startswith("data:image/") for s in imgs), f"{path.stem}.html: the notebook's figure is not shown"
