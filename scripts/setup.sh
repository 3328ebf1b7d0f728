#!/usr/bin/env bash
# Create .venv in the repository and install semindex with its dev tools.
# CPU torch is installed first (torch==2.13.0, a local CPU build on this kind of machine);
# a GPU user who already has CUDA torch in the venv keeps it (set SEMINDEX_KEEP_TORCH=1).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ "${SEMINDEX_KEEP_TORCH:-0}" != "1" ] && ! .venv/bin/python -c "import torch" 2>/dev/null; then
  .venv/bin/python -m pip install -q "torch==${SEMINDEX_TORCH_VERSION:-2.13.0}"
fi
.venv/bin/python -m pip install -q -e ".[dev]"
echo "semindex installed in .venv"
