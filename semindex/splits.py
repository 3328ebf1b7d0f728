"""Deterministic, group-disjoint splits (pure).

A group (a normalised query, or a site) always lands in one split, chosen by a hash of
the group and a seed, so train, calibration and evaluation never share a text and a
rerun on the same data gives the same split.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def bucket(group: str, seed: int = 0) -> float:
    """A stable number in [0, 1) for ``group``."""
    digest = hashlib.sha256(f"{seed}:{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_by_group(items: Sequence[T], group: Callable[[T], str], fractions: Sequence[float],
                   seed: int = 0) -> list[list[T]]:
    """Split ``items`` into ``len(fractions) + 1`` parts; the last takes the remainder.

    ``fractions=(0.5, 0.25)`` -> parts of about 50%, 25% and 25% of the groups.
    """
    if sum(fractions) > 1:
        raise ValueError("fractions add up to more than 1")
    edges = []
    acc = 0.0
    for f in fractions:
        acc += f
        edges.append(acc)
    parts: list[list[T]] = [[] for _ in range(len(fractions) + 1)]
    for item in items:
        b = bucket(group(item), seed)
        idx = next((i for i, e in enumerate(edges) if b < e), len(fractions))
        parts[idx].append(item)
    return parts
