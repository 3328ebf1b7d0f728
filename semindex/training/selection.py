"""Step 4b: keep the fine-tuned weights only when they retrieve better than the base model.

A triplet fine-tune on a few hundred feedback rows can also make the space worse (measured
on the ESCO titles: 400 keys, top-1 0.79 -> 0.70 at lr 1e-4 and 0.71 at 2e-5). The job
therefore scores both models on feedback that training never saw (the calibration split),
with the same index content, and keeps the better one. Pure apart from the encoders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from semindex.data import UNKNOWN, SynonymRecord
from semindex.index import KeyIndex
from semindex.text import normalize


@dataclass(frozen=True)
class Selection:
    kept: str  # "fine-tuned" (or "mixed": its average with the base weights) | "base"
    base_top1: float
    finetuned_top1: float
    n: int

    def to_json(self) -> dict[str, object]:
        return {"kept": self.kept, "base_top1": self.base_top1,
                "finetuned_top1": self.finetuned_top1, "n": self.n}


def top1_accuracy(records: Sequence[SynonymRecord], vectors: np.ndarray, query_vecs: np.ndarray,
                  expected: Sequence[str]) -> float:
    """Share of queries whose best key (known-unknown examples included) is the expected one."""
    if not expected:
        return 0.0
    hits = KeyIndex.build(list(records), vectors).search(query_vecs, 1)
    return float(np.mean([bool(h) and h[0].key == k for h, k in zip(hits, expected, strict=True)]))


def choose(records: Sequence[SynonymRecord], expected: Sequence[str], *, base_vecs: np.ndarray,
           base_queries: np.ndarray, tuned_vecs: np.ndarray, tuned_queries: np.ndarray,
           tuned_name: str = "fine-tuned") -> Selection:
    """The trained model (``tuned_name``: "fine-tuned", or "mixed" when its weights were
    averaged with the base model's) unless the base model retrieves the held-out queries
    better."""
    base = top1_accuracy(records, base_vecs, base_queries, expected)
    tuned = top1_accuracy(records, tuned_vecs, tuned_queries, expected)
    return Selection(tuned_name if tuned >= base else "base", base, tuned, len(expected))


@dataclass(frozen=True)
class RetrievalSet:
    """Held-out anchors as retrieval queries for the fine-tune's per-epoch check (the shape of
    sentence-transformers' ``InformationRetrievalEvaluator``): ids -> texts, and per query
    the ids of the corpus texts of its key."""

    queries: dict[str, str]
    corpus: dict[str, str]
    relevant: dict[str, set[str]]


def retrieval_set(queries: Sequence[tuple[str, str]], corpus: Sequence[tuple[str, str]],
                  ) -> RetrievalSet | None:
    """Queries ``(text, key)`` against corpus records ``(text, key)``, the queries' own texts
    left out of the corpus (a query must not find itself); known-unknown records stay in as
    distractors. None when no query has a corpus text of its key."""
    asked = {normalize(t) for t, _ in queries}
    docs = [(t, k) for t, k in corpus if normalize(t) not in asked]
    by_key: dict[str, set[str]] = {}
    for i, (_, k) in enumerate(docs):
        by_key.setdefault(k, set()).add(f"d{i}")
    qs: dict[str, str] = {}
    relevant: dict[str, set[str]] = {}
    for i, (t, k) in enumerate(dict(queries).items()):
        if k != UNKNOWN and by_key.get(k):
            qs[f"q{i}"], relevant[f"q{i}"] = t, by_key[k]
    if not qs:
        return None
    return RetrievalSet(qs, {f"d{i}": t for i, (t, _) in enumerate(docs)}, relevant)
