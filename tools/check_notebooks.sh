#!/usr/bin/env bash
# CI gates 1 and 2: notebooks are clean (nbdev-clean changes nothing) and the library is in sync with them
# (nbdev-export changes nothing). Usage: tools/check_notebooks.sh BIN_DIR   (run from the repository root)
set -euo pipefail
bin=${1:-.venv/bin}
state() { (git status --porcelain -- nbs vividportraits; git diff -- nbs vividportraits) | sha1sum; }
before=$(state)
"$bin/nbdev-clean"
if [ "$(state)" != "$before" ]; then
  echo "FAIL: notebooks are not clean. Run 'make sync' (nbdev-clean) and commit the result:" >&2
  git status --short -- nbs >&2
  exit 1
fi
"$bin/nbdev-export"
if [ "$(state)" != "$before" ]; then
  echo "FAIL: the library is out of sync with the notebooks. Run 'make sync' (nbdev-export) and commit both:" >&2
  git status --short -- vividportraits >&2
  exit 1
fi
echo "notebooks clean, library in sync"
