"""The ``semindex`` command line: manage versions, evaluate them.

    semindex versions list [--store model_store] [--json]
    semindex versions promote NAME | rollback [NAME] | prune --keep N
    semindex evaluate --version latest --eval rows.jsonl [--canonical c.json] [--json]
    semindex evaluate loop --eval rows.jsonl --canonical c.json [--hints h.json] [--folds 2] [--cross]
    semindex classify "SWE" "E-mail" [--version latest] [--json]
    semindex classify --fields form.json     # a /ml/classify body: {"fields": [...], "form": {...}}
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
        served = ", ".join(f"{v} ({s})" for s, v in sorted(store.served_names().items()))
        print(f"removed {len(removed)} version(s): {', '.join(removed) or '-'} (kept latest "
              f"{store.latest_name()} and served {served or None})")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from semindex.evaluation import format_report
    from semindex.quality import evaluate_version, feedback_loop

    if args.what == "loop":
        if not args.canonical:
            raise SemindexError("evaluate loop: --canonical is required")
        result = feedback_loop(args.eval, args.canonical, hints=args.hints, store_root=args.store,
                               base_model=args.base_model, folds=args.folds, epochs=args.epochs,
                               text_mode=args.text_mode, seed=args.seed, cross=args.cross,
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


def _classify(args: argparse.Namespace) -> int:
    """Classify texts (each alone, as a label) and a form, with a version of the store:
    what ``POST /ml/classify`` would answer, without a running service."""
    from pathlib import Path

    from pydantic import ValidationError

    from semindex.data import decode_json, read_text
    from semindex.errors import DataError
    from semindex.remote_store import open_store
    from semindex.serving.schemas import ClassifyIn, problems
    from semindex.serving.state import load_served

    requests: list[tuple[list[dict[str, Any]], dict[str, Any] | None]] = [
        ([{"label": t}], None) for t in args.texts]
    if args.fields:
        where = Path("<stdin>" if args.fields == "-" else args.fields)
        raw = sys.stdin.read() if args.fields == "-" else read_text(where, "fields file")
        try:
            body = ClassifyIn.model_validate(decode_json(raw, where))
        except ValidationError as exc:  # named as the service names it in a 422
            first = problems(exc.errors())[0]
            raise DataError(f"{where}: {first['field']}: {first['message']}") from None
        requests.append(([f.model_dump(exclude_none=True) for f in body.fields],
                         body.form.model_dump(exclude_none=True) if body.form else None))
    if not requests:
        raise SemindexError("classify: give one or more texts, or --fields FILE ('-': stdin)")
    served = load_served(open_store(args.store), args.version, args.encoder)
    decisions = [d for ds in served.matcher.classify_many(requests) for d in ds]
    if args.json:
        print(json.dumps({"model_version": served.version,
                          "decisions": [d.to_json() for d in decisions]}, indent=2, ensure_ascii=False))
        return 0
    print(f"version {served.version}")
    for d in decisions:
        what = d.selector or d.text
        key = (d.key or "-") if d.accepted else f"({d.key or '-'})"
        if d.alternatives:  # what the label offers: any one of them, or all
            key = f"({(' | ' if d.either else ' + ').join(d.alternatives)})"
        if d.listed:  # the parts the label lists: their values make the field's
            key = f"{key} = {' + '.join(d.listed)}"
        print(f"{what[:40]:40} {key:20} {d.reason:16} {d.score:.3f} / {d.threshold:.3f}")
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
    e.add_argument("--cross", action="store_true",
                   help="loop: hold out every fold in turn and pool the scores (cross-validation)")
    e.add_argument("--epochs", type=int, default=3)
    e.add_argument("--text-mode", choices=["rich", "precedence"], default="rich")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="loop: override a training config field, e.g. --set calibration.precision_floor=0.95")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=_evaluate)
    c = sub.add_parser("classify", help="classify texts or a form's fields with a version (no service)")
    c.add_argument("texts", nargs="*", help="texts to classify, each alone as a field's label")
    c.add_argument("--fields", metavar="FILE",
                   help="a /ml/classify body as JSON ({\"fields\": [...], \"form\": {...}}); '-': stdin")
    c.add_argument("--version", default="latest")
    c.add_argument("--encoder", choices=["torch", "onnx-int8"], default="torch")
    c.add_argument("--json", action="store_true", help="every decision with its evidence, as JSON")
    c.set_defaults(func=_classify)
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
