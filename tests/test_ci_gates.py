"""The CI gates (tools/check_notebooks.sh) fail on an unclean notebook and on an out-of-sync library, and pass on a
clean clone. Each case works on a throw-away `git clone` of this repository's HEAD."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _clone(tmp_path) -> Path:
    if shutil.which("git") is None or not (ROOT/".git").exists(): pytest.skip("needs a git checkout")
    dst = tmp_path/"repo"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(dst)], check=True)
    return dst


def _gate(repo: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "tools/check_notebooks.sh", str(BIN)], cwd=repo, capture_output=True, text=True,
                          timeout=300)


def test_gates_pass_on_clean_clone(tmp_path):
    repo = _clone(tmp_path)
    r = _gate(repo)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "notebooks clean, library in sync" in r.stdout


def test_gate_fails_on_unclean_notebook(tmp_path):
    repo = _clone(tmp_path)
    nb_path = repo/"nbs"/"00_core.ipynb"
    nb = json.loads(nb_path.read_text())
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code["execution_count"] = 7
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["left-over output\n"]}]
    nb_path.write_text(json.dumps(nb, indent=1))
    subprocess.run(["git", "commit", "-qam", "dirty notebook"], cwd=repo, check=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"})
    r = _gate(repo)
    assert r.returncode != 0
    assert "notebooks are not clean" in r.stderr


def test_gate_fails_on_out_of_sync_library(tmp_path):
    repo = _clone(tmp_path)
    lib = repo/"vividportraits"/"core.py"
    lib.write_text(lib.read_text() + "\n# edited by hand\n")
    r = _gate(repo)
    assert r.returncode != 0
    assert "out of sync" in r.stderr
