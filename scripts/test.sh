#!/usr/bin/env bash
# The whole test suite: install, lint (ruff), type-check (mypy) and pytest (unit + real Ray).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 RAY_AUTH_MODE=disabled RAY_USAGE_STATS_ENABLED=0
.venv/bin/ruff check semindex serve_app.py train_job.py bench tests
.venv/bin/mypy semindex
.venv/bin/python -m pytest "$@"
