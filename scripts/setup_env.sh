# Sourced by scripts/test.sh and scripts/demo.sh: make .venv (if missing) and install the project.
# Torch is asked for at the versions that this project's CI machines keep on local disk, which also
# exist on PyPI; if a platform has no such wheel, the ranges in pyproject.toml decide instead.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "[setup] this project needs Python 3.10 or newer; $PYTHON is $($PYTHON --version 2>&1): set PYTHON=python3.10 (or newer)" >&2
    exit 2
  fi
  echo "[setup] creating .venv with $($PYTHON --version 2>&1)"
  "$PYTHON" -m venv .venv
fi
VPY="$REPO_ROOT/.venv/bin/python"
quiet_pip() { "$VPY" -m pip install -q --disable-pip-version-check "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
if ! "$VPY" -c "import torch, torchvision" >/dev/null 2>&1; then
  echo "[setup] installing torch and torchvision (first run only)"
  free_gb=$(df -Pk .venv | awk 'NR == 2 {print int($4 / 1048576)}')
  if [ "${free_gb:-0}" -lt 8 ]; then
    # a full disk otherwise shows up later as pip's or pytest's errors deep inside, far from the cause
    echo "[setup] WARNING: ${free_gb} GB free beside .venv; torch and torchvision take about 6.5 GB and the test suite" \
      "up to 0.5 GB more in the temporary folder" >&2
  fi
  quiet_pip "torch==2.14.1" "torchvision==0.29.1" || quiet_pip "torch>=2.1" "torchvision>=0.16"
fi
stamp=".venv/.stark-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "[setup] installing the project and its dev + vot + deploy extras into .venv"
  if ! quiet_pip -e ".[dev,vot,deploy]"; then
    # onnx/onnxruntime have no wheel for some platforms: the suite then skips the onnxruntime backend tests
    echo "[setup] WARNING: the [deploy] extra (onnx, onnxruntime) could not be installed; installing .[dev,vot] only," \
      "the ONNX export and onnxruntime backend tests will be skipped"
    quiet_pip -e ".[dev,vot]"
  fi
  touch "$stamp"
fi
export PATH="$REPO_ROOT/.venv/bin:$PATH"
