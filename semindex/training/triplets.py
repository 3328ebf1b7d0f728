"""Step 2: triplets for the fine-tune (pure functions over texts, keys and vectors).

Anchors are synonyms and confirmed feedback queries; positives are synonyms of the
anchor's key (the least similar first: they teach the most); negatives are the most
similar synonyms of *other* keys (key-aware mining: never a synonym of the anchor's own
key; known-unknown examples count as another key), and rejected feedback pairs give
explicit negatives. Known-unknown examples are pushed away from their nearest key.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from semindex.data import UNKNOWN, Triplet
from semindex.text import normalize


def hard_negatives(anchor_vecs: np.ndarray, anchor_keys: Sequence[str], cand_vecs: np.ndarray,
                   cand_keys: Sequence[str], n: int) -> list[list[int]]:
    """Per anchor, the indices of the ``n`` most similar candidates of another key."""
    sims = anchor_vecs @ cand_vecs.T
    cand = np.asarray(cand_keys)
    out = []
    for i, key in enumerate(anchor_keys):
        row = np.where(cand == key, -np.inf, sims[i])
        order = np.argsort(-row)
        out.append([int(j) for j in order[:n] if np.isfinite(row[j])])
    return out


def build_triplets(syn_texts: Sequence[str], syn_keys: Sequence[str], syn_vecs: np.ndarray,
                   anchors: Sequence[tuple[str, str]], anchor_vecs: np.ndarray,
                   rejected: Sequence[tuple[str, str]], rejected_vecs: np.ndarray,
                   confirmed_key: dict[str, str], *, n_negatives: int = 2,
                   n_positives: int = 2, index_only: frozenset[str] = frozenset()) -> list[Triplet]:
    """Triplets from anchors ``(text, key)`` and rejected pairs ``(query, wrong_key)``.

    ``syn_*`` describe the synonym table (texts, keys, vectors); ``confirmed_key`` maps a
    normalised query to its confirmed key (so a rejected query with a known right key
    uses that key's synonym as positive; otherwise the query itself is its positive and
    the triplet only pushes the wrong key away). ``index_only``: normalised texts that take
    no part (synonyms that are indexed but never trained on).
    """
    if index_only:
        keep = [i for i, t in enumerate(syn_texts) if normalize(t) not in index_only]
        use = [i for i, (t, _) in enumerate(anchors) if normalize(t) not in index_only]
        return build_triplets([syn_texts[i] for i in keep], [syn_keys[i] for i in keep],
                              syn_vecs[keep], [anchors[i] for i in use], anchor_vecs[use],
                              rejected, rejected_vecs, confirmed_key, n_negatives=n_negatives,
                              n_positives=n_positives)
    keys = np.asarray(syn_keys)
    triplets: list[Triplet] = []
    seen: set[tuple[str, str, str]] = set()

    def add(a: str, p: str, n: str) -> None:
        if (a, p, n) not in seen and normalize(a) != normalize(n):
            seen.add((a, p, n))
            triplets.append(Triplet(a, p, n))

    negs = hard_negatives(anchor_vecs, [k for _, k in anchors], syn_vecs, syn_keys, n_negatives)
    for i, (text, key) in enumerate(anchors):
        same = [int(j) for j in np.flatnonzero(keys == key)
                if normalize(syn_texts[int(j)]) != normalize(text)]
        same.sort(key=lambda j: float(anchor_vecs[i] @ syn_vecs[j]))  # least similar first
        for j in same[:n_positives]:
            for neg in negs[i]:
                add(text, syn_texts[j], syn_texts[neg])
    for i, (query, wrong) in enumerate(rejected):
        wrong_idx = np.flatnonzero(keys == wrong)
        if len(wrong_idx) == 0:
            continue
        neg = int(wrong_idx[np.argmax(syn_vecs[wrong_idx] @ rejected_vecs[i])])
        right = confirmed_key.get(normalize(query))
        if right is not None and right != wrong:
            right_idx = np.flatnonzero(keys == right)
            pos = syn_texts[int(right_idx[np.argmax(syn_vecs[right_idx] @ rejected_vecs[i])])]
        else:
            pos = query
        add(query, pos, syn_texts[neg])
    known = np.flatnonzero(keys != UNKNOWN)
    for u in np.flatnonzero(keys == UNKNOWN).tolist():
        if len(known):
            nearest = int(known[np.argmax(syn_vecs[known] @ syn_vecs[u])])
            add(syn_texts[u], syn_texts[u], syn_texts[nearest])
    return triplets
