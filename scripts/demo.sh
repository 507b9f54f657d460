#!/usr/bin/env bash
# Quick start: create .venv if missing, install, and run the main job on the embedded default.
# Arguments are passed to tracking/demo.py (e.g. --fast, --epochs 30).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
exec python tracking/demo.py "$@"
