"""Wall time of each training step for the sample data and 10x / 100x larger canonical sets.

    python bench/train.py --scales 1 10 100 --mode build-index-feedback
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench._common import record, table

ROOT = Path(__file__).resolve().parents[1]


def scaled_canonical(scale: int, dest: Path) -> Path:
    """The sample keys repeated ``scale`` times as distinct keys (``email~3``)."""
    base = json.loads((ROOT / "data/sample/canonical.json").read_text())
    out = {}
    for i in range(scale):
        for k, syns in base.items():
            out[k if i == 0 else f"{k}~{i}"] = syns if i == 0 else [f"{s} {i}" for s in syns]
    dest.write_text(json.dumps(out))
    return dest


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--scales", type=int, nargs="+", default=[1, 10, 100])
    p.add_argument("--mode", default="full-train")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--name", default=None, help="results file name (default train_MODE)")
    a = p.parse_args()
    from semindex.config import load_job_config
    from semindex.training.pipeline import run

    rows = []
    for scale in a.scales:
        with tempfile.TemporaryDirectory() as tmp:
            canonical = scaled_canonical(scale, Path(tmp) / "c.json")
            cfg = load_job_config(ROOT / "configs/train.yaml", environ={}, overrides={
                "mode": a.mode, "model_store": f"{tmp}/ms", "train.epochs": str(a.epochs),
                "data.canonical": str(canonical), "gate.min_accuracy": "0",
                "data.hints": str(ROOT / "data/sample/canonical.hints.json"),
                "data.feedback": str(ROOT / "data/sample/feedback.csv"),
                "data.unknowns": str(ROOT / "data/sample/unknowns.txt")})
            s = run(cfg)
            row = {"scale": scale, "synonyms": s.counts["synonyms"], **{k: round(v, 2) for k, v in
                                                                         s.timings.items()}}
            rows.append(row)
            print(table([row], list(row)), flush=True)
    cols = sorted({c for r in rows for c in r}, key=lambda c: (c not in ("scale", "synonyms"), c))
    print()
    print(table(rows, cols))
    record(a.name or f"train_{a.mode}", {"rows": rows, "args": vars(a)})


if __name__ == "__main__":
    main()
