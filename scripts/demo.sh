#!/usr/bin/env bash
# The main job on the bundled sample data: install, train a version (full-train on a local
# Ray), start the service, classify and fill the sample form, print the result, stop.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 RAY_AUTH_MODE=disabled RAY_USAGE_STATS_ENABLED=0
.venv/bin/python -m semindex.demo "$@"
