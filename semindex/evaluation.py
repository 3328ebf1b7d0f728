"""Scoring: accuracy (correct abstentions count), precision, recall, per-key table.

Pure functions over (predicted, expected) pairs, where ``predicted`` is the accepted key
or None (abstained) and ``expected`` the right key or None (the text is none of them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any


def score(predicted: Sequence[str | None], expected: Sequence[str | None]) -> dict[str, Any]:
    if len(predicted) != len(expected):
        raise ValueError("predicted and expected differ in length")
    n = len(expected)
    correct = sum(p == e for p, e in zip(predicted, expected, strict=True))
    accepted = [(p, e) for p, e in zip(predicted, expected, strict=True) if p is not None]
    tp = sum(p == e for p, e in accepted)
    positives = sum(e is not None for e in expected)
    keys = sorted({k for k in list(predicted) + list(expected) if k is not None})
    per_key: dict[str, dict[str, float]] = {}
    for k in keys:
        ktp = sum(p == k and e == k for p, e in zip(predicted, expected, strict=True))
        kfp = sum(p == k and e != k for p, e in zip(predicted, expected, strict=True))
        kfn = sum(e == k and p != k for p, e in zip(predicted, expected, strict=True))
        prec = ktp / (ktp + kfp) if ktp + kfp else 0.0
        rec = ktp / (ktp + kfn) if ktp + kfn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per_key[k] = {"support": ktp + kfn, "precision": round(prec, 4), "recall": round(rec, 4),
                      "f1": round(f1, 4)}
    confusions = Counter(f"{e or '∅'} -> {p or '∅'}"
                         for p, e in zip(predicted, expected, strict=True) if p != e)
    return {
        "n": n,
        "accuracy": correct / n if n else 0.0,
        "precision": tp / len(accepted) if accepted else 0.0,
        "recall": tp / positives if positives else 0.0,
        "abstain_rate": (n - len(accepted)) / n if n else 0.0,
        "per_key": per_key,
        "confusions": confusions.most_common(10),
    }


def format_report(name: str, m: dict[str, Any]) -> str:
    """A plain-text table of one evaluation."""
    lines = [f"{name}: n={m['n']} accuracy={m['accuracy']:.3f} precision={m['precision']:.3f} "
             f"recall={m['recall']:.3f} abstain={m['abstain_rate']:.3f}",
             f"{'key':28} {'support':>7} {'prec':>6} {'rec':>6} {'f1':>6}"]
    for k, row in m["per_key"].items():
        lines.append(f"{k[:28]:28} {row['support']:>7} {row['precision']:>6.2f} "
                     f"{row['recall']:>6.2f} {row['f1']:>6.2f}")
    if m["confusions"]:
        lines.append("most frequent confusions (expected -> predicted):")
        lines += [f"  {c}: {n}" for c, n in m["confusions"]]
    return "\n".join(lines)
