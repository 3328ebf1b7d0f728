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


def _flags(examples: list[Example]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per example, as arrays: score, and whether it counts as a true positive / a false
    positive when accepted / a positive at all (the rules of :func:`confusion_at`)."""
    n = len(examples)
    scores, tp, fp, pos = (np.asarray([e.score for e in examples], dtype=np.float64),
                           np.zeros(n), np.zeros(n), np.zeros(n))
    for i, e in enumerate(examples):
        if e.not_key is not None and e.expected is None:
            fp[i] = e.predicted == e.not_key
            continue
        pos[i] = e.expected is not None
        tp[i] = e.predicted == e.expected
        fp[i] = not tp[i]
    return scores, tp, fp, pos


def _fit(scores: np.ndarray, tp: np.ndarray, fp: np.ndarray, pos: float,
         precision_floor: float, default: float) -> tuple[float, float, float, float]:
    """(threshold, precision, recall, F1) of the best cut, every candidate at once."""
    cuts = np.unique(np.concatenate([np.round(scores, 4), [default]]))
    order = np.argsort(-scores, kind="stable")
    ctp = np.concatenate([[0.0], np.cumsum(tp[order])])
    cfp = np.concatenate([[0.0], np.cumsum(fp[order])])
    taken = np.searchsorted(-scores[order], -cuts, side="right")  # examples with score >= cut
    t_p, f_p = ctp[taken], cfp[taken]
    precision = np.where(t_p + f_p > 0, t_p / np.maximum(t_p + f_p, 1), 1.0)
    recall = t_p / pos if pos else np.zeros_like(precision)
    f1 = np.where(precision + recall > 0,
                  2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    ok = np.flatnonzero((precision >= precision_floor) & (recall > 0))
    if ok.size:  # best F1, ties: the lower cut
        i = ok[np.lexsort((cuts[ok], -f1[ok]))[0]]
    else:  # best precision, ties: higher recall, then the lower cut
        i = int(np.lexsort((-recall, -precision))[0])
    return float(cuts[i]), float(precision[i]), float(recall[i]), float(f1[i])


def _figures(t: float, p: float, r: float, f: float, n: int) -> dict[str, float]:
    return {"threshold": t, "precision": p, "recall": r, "f1": f, "n": n}


def best_threshold(examples: list[Example], precision_floor: float = 0.9,
                   default: float = 0.55) -> dict[str, float]:
    """The threshold that maximises F1 with precision >= ``precision_floor``.

    Candidates are the observed scores (the only places the counts change). When no
    threshold reaches the floor, the one with the best precision wins (ties: higher
    recall); with no examples the ``default`` is returned.
    """
    if not examples:
        return _figures(default, float("nan"), float("nan"), float("nan"), 0)
    scores, tp, fp, pos = _flags(examples)
    return _figures(*_fit(scores, tp, fp, float(pos.sum()), precision_floor, default),
                    len(examples))


def bagged_threshold(examples: list[Example], precision_floor: float = 0.9,
                     default: float = 0.55, *, resamples: int = 2000,
                     seed: int = 0) -> dict[str, float]:
    """:func:`best_threshold` averaged over bootstrap resamples of the examples (bagging).

    Where precision hovers at the floor over a range of cuts, the single best cut jumps
    with one example: one more rejected text moved the titles loop's cut from 0.73 to
    0.77 (fold-B accuracy 0.774 -> 0.725). The mean over resamples moves with the
    evidence, not with one example. Figures are those of all examples at the mean cut
    (its precision may sit a little under the floor: the floor is an estimate too).
    Deterministic for a given ``seed``; ``resamples=0`` is :func:`best_threshold`.
    """
    if not examples or resamples <= 0:
        return best_threshold(examples, precision_floor, default)
    scores, tp, fp, pos = _flags(examples)
    rng = np.random.default_rng(seed)
    n = len(examples)
    cuts = []
    for _ in range(resamples):
        i = rng.integers(0, n, n)
        cuts.append(_fit(scores[i], tp[i], fp[i], float(pos[i].sum()), precision_floor, default)[0])
    t = round(float(np.mean(cuts)), 4)
    t_p, f_p, positives = confusion_at(examples, t)
    p = t_p / (t_p + f_p) if t_p + f_p else 1.0
    r = t_p / positives if positives else 0.0
    return {**_figures(t, p, r, 2 * p * r / (p + r) if p + r else 0.0, n),
            "resamples": resamples}


def calibrate(examples: list[Example], *, precision_floor: float = 0.9,
              min_key_examples: int = 5, prior_weight: float = 30.0, default: float = 0.55,
              lexical: float = 0.92, resamples: int = 2000, seed: int = 0) -> Thresholds:
    """A global threshold (bagged over ``resamples`` bootstrap resamples, see
    :func:`bagged_threshold`) plus per-key thresholds shrunk towards it.

    A key with ``min_key_examples`` examples whose own best threshold meets the precision
    floor gets ``(n * own + prior_weight * global) / (n + prior_weight)``: the global
    threshold counts as ``prior_weight`` examples of every key, so a threshold fitted to a
    handful of examples moves only a little (unshrunk, 10-12 examples had swung to 0.41
    and 0.98 on the forms data) and one backed by hundreds is nearly its own.
    """
    glob = bagged_threshold(examples, precision_floor, default, resamples=resamples, seed=seed)
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
