"""Clean-import tests: every exported module imports in a fresh interpreter (so exported code cannot lean on a global
that only its notebook defined), and the console script answers --help."""
import pkgutil
import subprocess
import sys

import pytest

import vividportraits

MODULES = sorted(m.name for m in pkgutil.iter_modules(vividportraits.__path__) if not m.name.startswith("_"))


def test_modules_found():
    assert {"core", "cli"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_clean_import(name):
    r = subprocess.run([sys.executable, "-c", f"import vividportraits.{name} as m; print(len(m.__all__))"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert int(r.stdout.strip().splitlines()[-1]) > 0, f"vividportraits.{name} exports nothing"


def test_cli_help():
    r = subprocess.run([sys.executable, "-m", "vividportraits.cli", "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "usage: vividportraits" in r.stdout, r.stderr
