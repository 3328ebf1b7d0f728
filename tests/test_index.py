from __future__ import annotations

import json
from pathlib import Path

import faiss
import numpy as np
import pytest

from semindex.config import JobConfig
from semindex.data import UNKNOWN, SynonymRecord
from semindex.errors import ModelLoadError
from semindex.index import DEFAULT_EF_SEARCH, DEFAULT_EXACT_MAX, KeyIndex, choose_index_type


@pytest.mark.parametrize(("n", "exact_max", "kind"), [
    (10, 100_000, "flat"), (100_000, 100_000, "flat"), (100_001, 100_000, "hnsw"), (50, 10, "hnsw")])
def test_choose_index_type(n: int, exact_max: int, kind: str) -> None:
    assert choose_index_type(n, exact_max) == kind


@pytest.mark.parametrize(("n", "kind"), [(20_000, "flat"), (20_001, "hnsw")])
def test_default_switch_point(n: int, kind: str) -> None:
    assert choose_index_type(n) == kind


def _records(n: int) -> list[SynonymRecord]:
    return [SynonymRecord(f"k{i % 5}", f"syn {i}") for i in range(n)]


@pytest.mark.parametrize("exact_max", [1000, 10])  # flat, then HNSW
def test_round_trip_and_max_per_key(tmp_path: Path, exact_max: int) -> None:
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(40, 16)).astype(np.float32)
    idx = KeyIndex.build(_records(40), vecs, exact_max=exact_max)
    idx.save(tmp_path)
    loaded = KeyIndex.load(tmp_path, expected_dim=16)
    assert loaded.size == 40 and loaded.kind == idx.kind
    query = vecs[7:8] / np.linalg.norm(vecs[7])
    hits = loaded.search(query, top_keys=3)[0]
    assert hits[0].key == "k2" and hits[0].synonym == "syn 7"
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert len({h.key for h in hits}) == len(hits)  # one entry per key: the max
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_hnsw_ef_search_is_kept_with_the_index(tmp_path: Path) -> None:
    vecs = np.random.default_rng(2).normal(size=(40, 16)).astype(np.float32)
    idx = KeyIndex.build(_records(40), vecs, exact_max=10, ef_search=300)
    idx.save(tmp_path)
    assert KeyIndex.load(tmp_path, expected_dim=16).ef_search == 300
    assert KeyIndex.build(_records(40), vecs, exact_max=10).ef_search == 256  # the default
    defaults = JobConfig()
    assert (defaults.index_exact_max, defaults.index_ef_search) == (DEFAULT_EXACT_MAX, DEFAULT_EF_SEARCH)
    flat = KeyIndex.build(_records(40), vecs)
    flat.set_ef_search(300)  # says nothing for an exact index
    assert flat.kind == "flat" and flat.ef_search is None


def test_search_leaves_out_one_record_per_query() -> None:
    rng = np.random.default_rng(1)
    vecs = rng.normal(size=(40, 16)).astype(np.float32)
    idx = KeyIndex.build(_records(40), vecs)
    queries = vecs[[7, 8]] / np.linalg.norm(vecs[[7, 8]], axis=1, keepdims=True)
    left_out, kept = idx.search(queries, top_keys=5, exclude=[7, None])
    assert kept[0].synonym == "syn 8" and kept[0].score == pytest.approx(1.0, abs=1e-4)
    assert all(h.synonym != "syn 7" for h in left_out)  # its own record is gone ...
    assert left_out[0].score < 0.99  # ... so the best is another record


@pytest.mark.parametrize("exact_max", [1000, 10])  # flat, then HNSW
def test_search_restricted_to_keys_scores_a_key_beyond_the_nearest(exact_max: int) -> None:
    # 40 synonyms of "near" around the query, one of "far", one known-unknown example:
    # unrestricted, "far" is not among the top keys; restricted to it, it is scored.
    rng = np.random.default_rng(3)
    query = np.zeros((1, 16), dtype=np.float32)
    query[0, 0] = 1.0
    near = query + 0.05 * rng.normal(size=(40, 16)).astype(np.float32)
    far = np.zeros((1, 16), dtype=np.float32)
    far[0, 1] = 1.0
    unknown = query + 0.3 * rng.normal(size=(1, 16)).astype(np.float32)
    records = ([SynonymRecord("near", f"near {i}") for i in range(40)]
               + [SynonymRecord("far", "far 0"), SynonymRecord(UNKNOWN, "coupon")])
    idx = KeyIndex.build(records, np.vstack([near, far, unknown]), exact_max=exact_max)
    free, only_far = idx.search(np.vstack([query, query]), top_keys=5,
                                keys=[None, frozenset({"far"})])
    assert "far" not in {h.key for h in free}
    assert [h.key for h in only_far] == [UNKNOWN, "far"]  # known-unknown examples compete
    assert only_far[1].synonym == "far 0" and only_far[1].score == pytest.approx(0.0, abs=1e-4)
    assert idx.search(query, top_keys=5, keys=[frozenset({"near"})])[0][0].key == "near"


def test_dimension_mismatch_and_corruption(tmp_path: Path) -> None:
    vecs = np.eye(8, dtype=np.float32)
    KeyIndex.build(_records(8), vecs).save(tmp_path)
    with pytest.raises(ModelLoadError, match="dimension 8 does not match the model's 16"):
        KeyIndex.load(tmp_path, expected_dim=16)
    (tmp_path / "index.faiss").write_bytes(b"garbage")
    with pytest.raises(ModelLoadError, match="corrupt FAISS index"):
        KeyIndex.load(tmp_path)
    (tmp_path / "index.faiss").unlink()
    with pytest.raises(ModelLoadError, match="missing"):
        KeyIndex.load(tmp_path)


def test_meta_must_match_index(tmp_path: Path) -> None:
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(4))
    with pytest.raises(ModelLoadError, match="holds 0 vectors but meta lists 1"):
        KeyIndex(index, [SynonymRecord("a", "b")], "flat")


def test_lexical_only_marks_survive_save_and_load(tmp_path: Path) -> None:
    records = [SynonymRecord("a", "A"), SynonymRecord("a", "Ä", lexical_only=True),
               SynonymRecord("b", "B")]
    KeyIndex.build(records, np.eye(3, 4, dtype=np.float32)).save(tmp_path)
    loaded = KeyIndex.load(tmp_path)
    assert loaded.records == records
    hits = loaded.search(np.eye(3, 4, dtype=np.float32)[1:2], top_keys=2)[0]
    assert (hits[0].synonym, hits[0].lexical_only) == ("Ä", True)
    # A version written before the mark existed reads as no lexical-only records.
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert [m.get("lexical_only", False) for m in meta["ids"]] == [False, True, False]
    for m in meta["ids"]:
        m.pop("lexical_only", None)
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    assert not any(r.lexical_only for r in KeyIndex.load(tmp_path).records)


def test_reviewed_marks_survive_save_and_load(tmp_path: Path) -> None:
    """A confirmed field text is marked as such in the version: the matcher tells the
    vocabulary's names from one site's labels. Older versions read as all vocabulary."""
    records = [SynonymRecord("a", "A"), SynonymRecord("a", "A | a field", reviewed=True)]
    KeyIndex.build(records, np.eye(2, 4, dtype=np.float32)).save(tmp_path)
    assert KeyIndex.load(tmp_path).records == records
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert [m.get("reviewed", False) for m in meta["ids"]] == [False, True]
    for m in meta["ids"]:
        m.pop("reviewed", None)
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    assert not any(r.reviewed for r in KeyIndex.load(tmp_path).records)
