"""Scoring: accuracy (correct abstentions count), precision, recall, per-key table.

Pure functions over (predicted, expected) pairs, where ``predicted`` is the accepted key
or None (abstained) and ``expected`` the right key or None (the text is none of them);
with each decision's ``reason`` (lexical, semantic, type, known_unknown, ...) the report
also says how often each kind of evidence decided and how often it was right.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``k / n`` (95 % at ``z = 1.96``): how far
    a figure measured on ``n`` rows can be from the one more rows would give."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)


def score(predicted: Sequence[str | None], expected: Sequence[str | None],
          reasons: Sequence[str] | None = None) -> dict[str, Any]:
    if len(predicted) != len(expected) or (reasons is not None and len(reasons) != len(expected)):
        raise ValueError("predicted, expected and reasons differ in length")
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
    extra: dict[str, Any] = {}
    if reasons is not None:
        extra["by_reason"] = by_reason(predicted, expected, reasons)
    return {
        "n": n,
        "accuracy": correct / n if n else 0.0,
        "precision": tp / len(accepted) if accepted else 0.0,
        "recall": tp / positives if positives else 0.0,
        "abstain_rate": (n - len(accepted)) / n if n else 0.0,
        "accuracy_interval": wilson(correct, n),
        "precision_interval": wilson(tp, len(accepted)),
        "per_key": per_key,
        "confusions": confusions.most_common(10),
        **extra,
    }


def by_reason(predicted: Sequence[str | None], expected: Sequence[str | None],
              reasons: Sequence[str]) -> dict[str, dict[str, int | float]]:
    """Per reason: decisions, how many accepted a key, how many were right (a right
    abstention counts) and how many accepted a wrong key, with :func:`step_precision`'s
    figures."""
    out: dict[str, dict[str, int | float]] = {}
    for p, e, r in zip(predicted, expected, reasons, strict=True):
        row = out.setdefault(r, {"n": 0, "accepted": 0, "correct": 0, "wrong": 0})
        row["n"] += 1
        row["correct"] += p == e
        if p is not None:
            row["accepted"] += 1
            row["wrong"] += p != e
    return step_precision(dict(sorted(out.items(), key=lambda kv: -kv[1]["n"])))


def step_precision(rows: dict[str, dict[str, int | float]]) -> dict[str, dict[str, int | float]]:
    """``rows`` (:func:`by_reason`'s) with, per reason, ``precision`` over its accepted
    matches and ``precision_without_wrong``: the precision of *all* accepted matches had
    this step's wrong accepts been abstentions, how far the step alone holds precision
    down."""
    accepted = sum(int(row["accepted"]) for row in rows.values())
    right = accepted - sum(int(row["wrong"]) for row in rows.values())
    for row in rows.values():
        row["precision"] = (round((row["accepted"] - row["wrong"]) / row["accepted"], 4)
                            if row["accepted"] else 0.0)
        rest = accepted - row["wrong"]
        row["precision_without_wrong"] = round(right / rest, 4) if rest else 0.0
    return rows


def intervals_text(m: dict[str, Any]) -> str:
    """"accuracy a–b, precision c–d" from a :func:`score` result ("" for one without them)."""
    if "accuracy_interval" not in m:
        return ""
    (a0, a1), (p0, p1) = m["accuracy_interval"], m["precision_interval"]
    return f"accuracy {a0:.3f}–{a1:.3f}, precision {p0:.3f}–{p1:.3f}"


def format_report(name: str, m: dict[str, Any]) -> str:
    """A plain-text table of one evaluation."""
    lines = [f"{name}: n={m['n']} accuracy={m['accuracy']:.3f} precision={m['precision']:.3f} "
             f"recall={m['recall']:.3f} abstain={m['abstain_rate']:.3f}"
             + (f" (95% intervals: {intervals})" if (intervals := intervals_text(m)) else ""),
             f"{'key':28} {'support':>7} {'prec':>6} {'rec':>6} {'f1':>6}"]
    for k, row in m["per_key"].items():
        lines.append(f"{k[:28]:28} {row['support']:>7} {row['precision']:>6.2f} "
                     f"{row['recall']:>6.2f} {row['f1']:>6.2f}")
    if m.get("by_reason"):
        lines.append(f"{'decided by':28} {'n':>7} {'accept':>6} {'right':>6} {'wrong':>6} "
                     f"{'prec':>6}")
        for r, row in m["by_reason"].items():
            lines.append(f"{r[:28]:28} {row['n']:>7} {row['accepted']:>6} {row['correct']:>6} "
                         f"{row['wrong']:>6} {row['precision']:>6.2f}")
    if m["confusions"]:
        lines.append("most frequent confusions (expected -> predicted):")
        lines += [f"  {c}: {n}" for c, n in m["confusions"]]
    if m.get("unknown_expected"):
        lines.append("rows expecting keys the version does not have (never right): "
                     + ", ".join(f"{k} x{n}" for k, n in m["unknown_expected"].items()))
    return "\n".join(lines)
