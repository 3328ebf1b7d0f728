"""Train a semindex version on Ray.

    ray job submit --working-dir . -- python train_job.py --config configs/train.yaml --mode full-train
    python train_job.py --config configs/train.yaml --mode full-train     # starts a local Ray

Overrides: ``--set section.field=value`` (repeatable) and the environment variables listed
in :mod:`semindex.config` (MIN_ACCURACY, BASE_MODEL, SEMINDEX_RELOAD_URL,
SEMINDEX_ADMIN_TOKEN, SEMINDEX_MODEL_STORE). Exit status: 0 promoted (or smoke test
passed), 3 built but not promoted by the gate, 2 bad input, 1 failure.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never call the hub from model-card code

from semindex.config import load_job_config, parse_overrides
from semindex.errors import SemindexError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="configs/train.yaml")
    parser.add_argument("--mode", choices=["smoke-test", "build-index", "build-index-feedback",
                                           "full-train"])
    parser.add_argument("--model-store")
    parser.add_argument("--base-model")
    parser.add_argument("--min-accuracy", help="gate: accuracy floor (gate.min_accuracy)")
    parser.add_argument("--min-precision", help="gate: precision floor (gate.min_precision)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override any config field, e.g. --set train.epochs=2")
    parser.add_argument("--json", help="also write the run summary as JSON to this file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    overrides: dict[str, str] = {"mode": args.mode, "model_store": args.model_store,
                                 "base_model": args.base_model, "gate.min_accuracy": args.min_accuracy,
                                 "gate.min_precision": args.min_precision}
    try:
        overrides.update(parse_overrides(args.set))
        cfg = load_job_config(args.config, overrides=overrides, environ=os.environ)
        from semindex.training.pipeline import run

        summary = run(cfg, ray_address=os.environ.get("RAY_ADDRESS"))
    except SemindexError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary.table())
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(summary.__dict__, fh, indent=2, default=str)
    if cfg.mode == "smoke-test" or summary.promoted:
        return 0
    return 3


if __name__ == "__main__":
    sys.exit(main())
