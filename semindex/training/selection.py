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

from semindex.data import SynonymRecord
from semindex.index import KeyIndex


@dataclass(frozen=True)
class Selection:
    kept: str  # "fine-tuned" | "base"
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
           base_queries: np.ndarray, tuned_vecs: np.ndarray, tuned_queries: np.ndarray) -> Selection:
    """The fine-tuned model unless the base model retrieves the held-out queries better."""
    base = top1_accuracy(records, base_vecs, base_queries, expected)
    tuned = top1_accuracy(records, tuned_vecs, tuned_queries, expected)
    return Selection("fine-tuned" if tuned >= base else "base", base, tuned, len(expected))
