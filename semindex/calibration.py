"""Threshold calibration: pick the score cut-offs from labelled examples (pure functions).

An example is the matcher's top-1 candidate for a text and what a person said about it:
``expected`` is the right key (or None: the text is none of the keys), and ``not_key`` a
key known to be wrong (a rejected feedback row whose right answer is unknown).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Example:
    predicted: str
    score: float
    expected: str | None
    not_key: str | None = None


@dataclass
class Thresholds:
    """What the matcher compares scores with; written to ``thresholds.json``."""

    global_: float = 0.55
    per_key: dict[str, float] = field(default_factory=dict)
    lexical: float = 0.92
    figures: dict[str, Any] = field(default_factory=dict)

    def for_key(self, key: str) -> float:
        return self.per_key.get(key, self.global_)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["global"] = d.pop("global_")
        return d

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Thresholds:
        return cls(float(obj.get("global", 0.55)),
                   {str(k): float(v) for k, v in obj.get("per_key", {}).items()},
                   float(obj.get("lexical", 0.92)), dict(obj.get("figures", {})))


def confusion_at(examples: list[Example], t: float) -> tuple[int, int, int]:
    """(true positives, false positives, positives) when accepting scores >= ``t``.

    Rejected-only examples count as false positives when their wrong key is accepted and
    are otherwise ignored (their right answer is unknown).
    """
    tp = fp = pos = 0
    for e in examples:
        accepted = e.score >= t
        if e.not_key is not None and e.expected is None:
            fp += accepted and e.predicted == e.not_key
            continue
        pos += e.expected is not None
        if accepted:
            if e.predicted == e.expected:
                tp += 1
            else:
                fp += 1
    return tp, fp, pos


def best_threshold(examples: list[Example], precision_floor: float = 0.9,
                   default: float = 0.55) -> dict[str, float]:
    """The threshold that maximises F1 with precision >= ``precision_floor``.

    Candidates are the observed scores (the only places the counts change). When no
    threshold reaches the floor, the one with the best precision wins (ties: higher
    recall); with no examples the ``default`` is returned.
    """
    if not examples:
        return {"threshold": default, "precision": float("nan"), "recall": float("nan"),
                "f1": float("nan"), "n": 0}
    candidates = sorted({round(e.score, 4) for e in examples} | {default})
    rows = []
    for t in candidates:
        tp, fp, pos = confusion_at(examples, t)
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / pos if pos else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append((t, precision, recall, f1))
    ok = [r for r in rows if r[1] >= precision_floor and r[2] > 0]
    if ok:
        t, p, r, f = max(ok, key=lambda r: (r[3], -r[0]))
    else:
        t, p, r, f = max(rows, key=lambda r: (r[1], r[2]))
    return {"threshold": float(t), "precision": p, "recall": r, "f1": f, "n": len(examples)}


def calibrate(examples: list[Example], *, precision_floor: float = 0.9,
              min_key_examples: int = 5, prior_weight: float = 30.0, default: float = 0.55,
              lexical: float = 0.92) -> Thresholds:
    """A global threshold plus per-key thresholds shrunk towards it.

    A key with ``min_key_examples`` examples whose own best threshold meets the precision
    floor gets ``(n * own + prior_weight * global) / (n + prior_weight)``: the global
    threshold counts as ``prior_weight`` examples of every key, so a threshold fitted to a
    handful of examples moves only a little (unshrunk, 10-12 examples had swung to 0.41
    and 0.98 on the forms data) and one backed by hundreds is nearly its own.
    """
    glob = best_threshold(examples, precision_floor, default)
    per_key: dict[str, float] = {}
    key_figures: dict[str, Any] = {}
    by_key: dict[str, list[Example]] = {}
    for e in examples:
        by_key.setdefault(e.predicted, []).append(e)
    for key, exs in sorted(by_key.items()):
        if len(exs) >= min_key_examples and any(e.expected == key for e in exs):
            fig = best_threshold(exs, precision_floor, glob["threshold"])
            key_figures[key] = fig
            if fig["precision"] >= precision_floor:
                n = len(exs)
                per_key[key] = (n * fig["threshold"] + prior_weight * glob["threshold"]) / (n + prior_weight)
    return Thresholds(glob["threshold"], per_key, lexical,
                      {"global": glob, "per_key": key_figures, "precision_floor": precision_floor,
                       "prior_weight": prior_weight})


def calibrate_lexical(pairs: list[tuple[float, bool]], precision_floor: float = 0.99,
                      grid: tuple[float, ...] = tuple(np.round(np.arange(0.86, 1.001, 0.02), 2)),
                      default: float = 0.92) -> tuple[float, dict[str, Any]]:
    """The lowest fuzzy-match ratio whose accepted matches meet ``precision_floor``.

    ``pairs`` are (best lexical ratio, whether that lexical key was right). When no ratio
    meets the floor, only exact matches short-circuit (the grid's top): reviewed texts
    that a near-identical wording got wrong say the fuzzy cut is not to be trusted. With
    no pairs at all the ``default`` stays.
    """
    if not pairs:
        return default, {"threshold": default, "n": 0, "note": "no lexical evidence"}
    for t in grid:
        hits = [ok for ratio, ok in pairs if ratio >= t]
        if hits and sum(hits) / len(hits) >= precision_floor:
            return float(t), {"threshold": float(t), "precision": sum(hits) / len(hits),
                              "accepted": len(hits), "n": len(pairs)}
    top = float(grid[-1])
    hits = [ok for ratio, ok in pairs if ratio >= top]
    return top, {"threshold": top, "precision": sum(hits) / len(hits) if hits else float("nan"),
                 "accepted": len(hits), "n": len(pairs),
                 "note": "no ratio met the floor: exact matches only"}
