#!/usr/bin/env bash
# Set up (scripts/bootstrap.sh --test) and run the whole test suite, then the linters.
# Extra arguments go to pytest:  ./test.sh -k sm2 -x
# Exits non-zero when a test fails or ruff finds something.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
scripts/bootstrap.sh --test
export PATH="$PWD/.venv/bin:$PATH"

status=0
python -m pytest -q "$@" || status=$?
ruff check . || status=1
ruff format --check . || status=1
exit "$status"
