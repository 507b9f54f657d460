#!/usr/bin/env bash
# Create .venv if missing, install the project with its dev extras, lint, and run the whole test suite.
# Exit code: ruff's if it finds problems, else pytest's.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
echo "[test] ruff check"
ruff check .
echo "[test] pytest"
exec python -m pytest "$@"
