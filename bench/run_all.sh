#!/usr/bin/env bash
# Run every benchmark with the sizes recorded in docs/benchmarks.md (about 20 minutes on
# 2 cores). STORE must hold a promoted `latest` and at least two versions (e.g. the store
# of `semindex evaluate loop` after `semindex versions promote`).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 RAY_AUTH_MODE=disabled RAY_USAGE_STATS_ENABLED=0
STORE="${STORE:-model_store}"
PY=.venv/bin/python
$PY bench/index.py --sizes 1000 100000 1000000
$PY bench/embed.py --sizes 10000 --actors 1 2 4
$PY bench/serve_load.py --store "$STORE" --concurrency 1 8 32 64 --fields 1 20 --max-seconds 12
$PY bench/reload.py --store "$STORE" --reloads 20
$PY bench/train.py --scales 1 10 100 --mode build-index-feedback
$PY bench/train.py --scales 1 --mode full-train --epochs 3
$PY bench/matcher.py --store "$STORE"
