"""The ``semindex`` command line: manage versions, evaluate them.

    semindex versions list [--store model_store] [--json]
    semindex versions promote NAME | rollback [NAME] | prune --keep N
    semindex evaluate --version latest --eval rows.jsonl [--canonical c.json] [--json]
    semindex evaluate loop --eval rows.jsonl --canonical c.json [--hints h.json] [--folds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from semindex import __version__
from semindex.config import parse_overrides
from semindex.errors import SemindexError


def _versions(args: argparse.Namespace) -> int:
    from semindex.remote_store import open_store

    store = open_store(args.store)
    if args.action == "list":
        rows = [v.summary() for v in store.versions()]
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            print(f"{'version':22} {'latest':6} {'served':6} {'mode':22} {'accuracy':>8}  created_at")
            for r in rows:
                acc = "-" if r["accuracy"] is None else f"{r['accuracy']:.3f}"
                print(f"{r['name']:22} {'*' if r['latest'] else '':6} {'*' if r['served'] else '':6} "
                      f"{r['mode']!s:22} {acc:>8}  {r['created_at']}")
    elif args.action == "promote":
        if not args.name:
            raise SemindexError("versions promote: give the version name")
        previous = store.promote(args.name, reason="cli promote")
        print(f"latest -> {args.name} (was {previous})")
    elif args.action == "rollback":
        name = store.rollback(args.name)
        print(f"latest -> {name}")
    elif args.action == "prune":
        removed = store.prune(args.keep)
        print(f"removed {len(removed)} version(s): {', '.join(removed) or '-'} (kept latest "
              f"{store.latest_name()} and served {store.served_name()})")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from semindex.evaluation import format_report
    from semindex.quality import evaluate_version, feedback_loop

    if args.what == "loop":
        if not args.canonical:
            raise SemindexError("evaluate loop: --canonical is required")
        result = feedback_loop(args.eval, args.canonical, hints=args.hints, store_root=args.store,
                               base_model=args.base_model, folds=args.folds, epochs=args.epochs,
                               text_mode=args.text_mode, seed=args.seed,
                               overrides=parse_overrides(args.set))
    else:
        result = evaluate_version(args.store, args.version, args.eval, canonical=args.canonical,
                                  hints=args.hints, encoder_kind=args.encoder)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        for name, metrics in result["reports"].items():
            print(format_report(name, metrics))
            print()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="semindex", description="semindex model versions and quality")
    parser.add_argument("--store", default=os.environ.get("SEMINDEX_MODEL_STORE", "model_store"),
                        help="model store location (default: model_store or $SEMINDEX_MODEL_STORE)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("versions", help="list, promote, roll back or prune versions")
    v.add_argument("action", choices=["list", "promote", "rollback", "prune"])
    v.add_argument("name", nargs="?")
    v.add_argument("--keep", type=int, default=5)
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=_versions)
    e = sub.add_parser("evaluate", help="score a version on labelled rows, or run the feedback loop")
    e.add_argument("what", nargs="?", choices=["version", "loop"], default="version")
    e.add_argument("--version", default="latest")
    e.add_argument("--eval", required=True, help="labelled JSONL rows (forms or titles format)")
    e.add_argument("--canonical", help="canonical JSON: score with the version's model over these keys")
    e.add_argument("--hints", help="hints JSON next to the canonical file")
    e.add_argument("--encoder", choices=["torch", "onnx-int8"], default="torch",
                   help="run the version's model with torch or its int8 ONNX graph")
    e.add_argument("--base-model", default="packaged:all-MiniLM-L6-v2")
    e.add_argument("--folds", type=int, default=2)
    e.add_argument("--epochs", type=int, default=3)
    e.add_argument("--text-mode", choices=["rich", "precedence"], default="rich")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="loop: override a training config field, e.g. --set calibration.precision_floor=0.95")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args: Any = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except SemindexError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
