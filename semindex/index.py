"""The FAISS index: one normalised vector per synonym, scored per key by the max.

One vector per synonym (not one joined text per key, as in the seed) keeps "DOB" and
"Date of birth" as separate points; a query near either scores high for the key.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from semindex.atomic import write_bytes
from semindex.data import UNKNOWN, SynonymRecord
from semindex.errors import ModelLoadError

INDEX_FILE = "index.faiss"
META_FILE = "meta.json"
#: Defaults of the job settings ``index_exact_max`` and ``index_ef_search`` (measured below).
DEFAULT_EXACT_MAX = 20_000
DEFAULT_EF_SEARCH = 256


def choose_index_type(n_vectors: int, exact_max: int = DEFAULT_EXACT_MAX) -> str:
    """Pick the FAISS index type for ``n_vectors``.

    Exact inner product (``flat``) up to ``exact_max``: exact, no training, no tuning, and
    canonical vocabularies are almost always far smaller. Measured on 2 cores
    (docs/benchmarks.md): flat costs ~0.05 ms per 1k vectors per query (4.9 ms at 100k), so
    at the 20k default a query stays near 1 ms. Above it, ``hnsw`` (HNSW, M=32, efSearch
    256 by default) answered in 0.9 ms at 100k with top-1 recall 1.00 (efSearch 64: 0.35 ms,
    0.97) and, unlike IVF, needs no training pass whose quality depends on the data
    distribution; its cost is build time (18 s at 100k, 280 s at 1M), paid once per version
    by the training job. At 1M random vectors recall is 0.53 / 0.83 / 0.995 at efSearch
    64 / 256 / 1024 (0.5 / 1.5 / 5.2 ms, flat 54 ms): ``index_ef_search`` in the job config.
    """
    return "flat" if n_vectors <= exact_max else "hnsw"


def new_index(dim: int, kind: str, ef_search: int = DEFAULT_EF_SEARCH) -> faiss.Index:
    """An empty index of ``kind``; ``ef_search`` (HNSW only: the candidate list of a query,
    saved with the index) trades search time for recall."""
    if kind == "flat":
        base: faiss.Index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        base = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        base.hnsw.efSearch = ef_search
    else:
        raise ValueError(f"unknown index type {kind!r}")
    return faiss.IndexIDMap2(base)


@dataclass(frozen=True)
class KeyHit:
    key: str
    score: float
    synonym: str
    #: The synonym is lexical-only (:attr:`semindex.data.Canonical.lexical_only`).
    lexical_only: bool = False


class KeyIndex:
    """A FAISS index over synonym vectors plus the id -> (key, synonym) table."""

    def __init__(self, index: faiss.Index, records: list[SynonymRecord], kind: str) -> None:
        if index.ntotal != len(records):
            raise ModelLoadError(f"index holds {index.ntotal} vectors but meta lists "
                                 f"{len(records)} synonyms")
        self.index = index
        self.records = records
        self.kind = kind
        #: The canonical keys (known-unknown examples are indexed under UNKNOWN, not a key).
        self.keys = sorted({r.key for r in records} - {UNKNOWN})
        self._selectors: dict[frozenset[str], tuple[Any, Any]] = {}

    @property
    def dim(self) -> int:
        return int(self.index.d)

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    def _hnsw(self) -> Any | None:
        """The HNSW index inside the id map, or None for a flat index."""
        base = faiss.downcast_index(getattr(self.index, "index", self.index))
        return base if isinstance(base, faiss.IndexHNSW) else None

    @property
    def ef_search(self) -> int | None:
        """HNSW's efSearch (None for a flat index)."""
        hnsw = self._hnsw()
        return int(hnsw.hnsw.efSearch) if hnsw is not None else None

    def set_ef_search(self, ef_search: int) -> None:
        """Change HNSW's efSearch (no-op for a flat index); ``save`` keeps it."""
        hnsw = self._hnsw()
        if hnsw is not None:
            hnsw.hnsw.efSearch = ef_search
            self._selectors.clear()  # restricted searches carry their own efSearch

    @classmethod
    def build(cls, records: list[SynonymRecord], vectors: np.ndarray,
              exact_max: int = DEFAULT_EXACT_MAX, ef_search: int = DEFAULT_EF_SEARCH) -> KeyIndex:
        if len(records) != len(vectors):
            raise ValueError(f"{len(records)} records but {len(vectors)} vectors")
        vecs = np.ascontiguousarray(vectors, dtype=np.float32)
        faiss.normalize_L2(vecs)
        kind = choose_index_type(len(records), exact_max)
        index = new_index(vecs.shape[1], kind, ef_search)
        index.add_with_ids(vecs, np.arange(len(records), dtype=np.int64))
        return cls(index, records, kind)

    def search(self, vectors: np.ndarray, top_keys: int = 5,
               exclude: Sequence[int | None] | None = None,
               keys: Sequence[frozenset[str] | None] | None = None) -> list[list[KeyHit]]:
        """Per query, the best ``top_keys`` keys, each scored by its best synonym.

        ``exclude`` gives per query one record id to leave out (leave-one-out calibration:
        a feedback text must not find itself). ``keys`` gives per query the keys it may
        find (None: any); known-unknown examples always compete. A restricted query is
        searched among those keys' vectors only (a FAISS ID selector), so a key the field
        admits is scored even when other keys' synonyms are nearer.
        """
        n = len(vectors)
        if n == 0:
            return []
        vecs = np.ascontiguousarray(vectors, dtype=np.float32)
        k = min(self.size, max(top_keys * 8, 32))
        groups: dict[frozenset[str] | None, list[int]] = {}
        for i in range(n):
            groups.setdefault(keys[i] if keys is not None else None, []).append(i)
        scores = np.empty((n, k), dtype=np.float32)
        ids = np.empty((n, k), dtype=np.int64)
        for allowed, rows in groups.items():
            params = self._selector(allowed)
            at = np.asarray(rows)
            scores[at], ids[at] = self.index.search(vecs[at], k, params=params)
        skips = exclude if exclude is not None else [None] * n
        out: list[list[KeyHit]] = []
        for row_scores, row_ids, skip in zip(scores, ids, skips, strict=True):
            best: dict[str, KeyHit] = {}
            for score, idx in zip(row_scores, row_ids, strict=True):
                if idx < 0 or idx == skip:
                    continue
                rec = self.records[int(idx)]
                if rec.key not in best:  # results are sorted: the first hit is the max
                    best[rec.key] = KeyHit(rec.key, float(score), rec.synonym, rec.lexical_only)
            out.append(sorted(best.values(), key=lambda h: -h.score)[:top_keys])
        return out

    def _selector(self, allowed: frozenset[str] | None) -> Any:
        """FAISS search parameters that restrict a search to the records of ``allowed`` keys
        (and the known-unknown examples); None when nothing is restricted. Built once per
        key set (a field type admits the same keys every time)."""
        if allowed is None:
            return None
        cached = self._selectors.get(allowed)
        if cached is None:
            ids = np.asarray([i for i, r in enumerate(self.records)
                              if r.key in allowed or r.key == UNKNOWN], dtype=np.int64)
            sel = faiss.IDSelectorBatch(ids)
            hnsw = self._hnsw()
            kind: Any = (faiss.SearchParameters if hnsw is None
                         else faiss.SearchParametersHNSW)  # type: ignore[attr-defined]  # not in faiss's stubs
            extra = {} if hnsw is None else {"efSearch": hnsw.hnsw.efSearch}
            # The parameters hold a raw pointer to the selector: both are kept together.
            cached = self._selectors[allowed] = (kind(sel=sel, **extra), sel)
        return cached[0]

    def save(self, directory: str | Path) -> None:
        """Write ``index.faiss`` and ``meta.json`` (each via a temp file + rename)."""
        d = Path(directory)
        write_bytes(d / INDEX_FILE, faiss.serialize_index(self.index).tobytes())
        meta: dict[str, Any] = {
            "dim": self.dim, "index_type": self.kind, "metric": "inner_product",
            "normalized": True,
            "ids": [{"id": i, "key": r.key, "synonym": r.synonym,
                     **({"lexical_only": True} if r.lexical_only else {}),
                     **({"reviewed": True} if r.reviewed else {})}
                    for i, r in enumerate(self.records)],
        }
        write_bytes(d / META_FILE, json.dumps(meta, ensure_ascii=False, indent=1).encode())

    @classmethod
    def load(cls, directory: str | Path, expected_dim: int | None = None) -> KeyIndex:
        d = Path(directory)
        try:
            meta = json.loads((d / META_FILE).read_text(encoding="utf-8"))
            records = [SynonymRecord(m["key"], m["synonym"], bool(m.get("lexical_only", False)),
                                     bool(m.get("reviewed", False)))
                       for m in meta["ids"]]
        except FileNotFoundError as exc:
            raise ModelLoadError(f"{d / META_FILE}: missing") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelLoadError(f"{d / META_FILE}: corrupt: {exc}") from exc
        if not (d / INDEX_FILE).exists():
            raise ModelLoadError(f"{d / INDEX_FILE}: missing")
        try:
            index = faiss.read_index(str(d / INDEX_FILE))
        except RuntimeError as exc:
            raise ModelLoadError(f"{d / INDEX_FILE}: corrupt FAISS index") from exc
        if expected_dim is not None and index.d != expected_dim:
            raise ModelLoadError(f"{d / INDEX_FILE}: index dimension {index.d} does not match "
                                 f"the model's {expected_dim}")
        return cls(index, records, str(meta.get("index_type", "flat")))
