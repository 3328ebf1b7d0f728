"""The same store behaviour through a path and through ``pyarrow.fs`` (object-store rules)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pyarrow import fs as pafs

from semindex.artifacts import build_local_version
from semindex.bundle import load_bundle
from semindex.encoder import HashEncoder
from semindex.errors import StoreError, VersionNotFound
from semindex.remote_store import RemoteModelStore, open_store
from semindex.store import ModelStore


def _path(tmp: Path) -> Any:
    return ModelStore(tmp / "ms")


def _uri(tmp: Path) -> Any:
    (tmp / "bucket").mkdir()
    return open_store(f"file://{tmp / 'bucket'}", cache_dir=tmp / "cache")


def _subtree(tmp: Path) -> Any:
    (tmp / "sub").mkdir()
    fs = pafs.SubTreeFileSystem(str(tmp / "sub"), pafs.LocalFileSystem())
    return RemoteModelStore(filesystem=fs, base="", cache_dir=tmp / "cache")


BACKENDS = [pytest.param(_path, id="path"), pytest.param(_uri, id="file-uri"),
            pytest.param(_subtree, id="subtree")]


def _build(store: Any, tiny: Any, promote: bool = True) -> str:
    return build_local_version(store, tiny, "hash:32", HashEncoder(32), promote=promote)


@pytest.mark.parametrize("make", BACKENDS)
def test_create_resolve_promote_rollback_prune(tmp_path: Path, tiny: Any,
                                               make: Callable[[Path], Any]) -> None:
    store = make(tmp_path)
    with pytest.raises(VersionNotFound):
        store.resolve("latest")
    a = _build(store, tiny)
    b = _build(store, tiny, promote=False)
    assert a != b and store.names() == sorted([a, b]) and store.latest_name() == a
    bundle = load_bundle(store.resolve("latest"))  # loadable from the (local copy of the) store
    assert bundle.name == a and bundle.index.size == len(tiny.records())
    assert store.versions()[1].manifest["parent_version"] == a
    assert store.promote(b) == a and store.latest_name() == b
    assert store.rollback() == a
    c = _build(store, tiny)
    store.promote(a)
    assert store.served_name() is None
    store.mark_served(b)  # a service reloaded b without promoting it
    assert store.served_name() == b and [v.is_served for v in store.versions()] == [False, True, False]
    assert store.prune(keep=1) == []  # never the one latest names, nor the one served
    store.mark_served(a)
    assert store.prune(keep=1) == [b]
    assert store.names() == [a, c]
    with pytest.raises(StoreError):
        store.mark_served("../x")


@pytest.mark.parametrize("make", BACKENDS)
def test_services_that_share_a_store_each_keep_their_version(
        tmp_path: Path, tiny: Any, make: Callable[[Path], Any]) -> None:
    """Staging and production follow one store: each records its version under its own
    name, and prune keeps both (one ``SERVED`` entry per store let one delete the other's)."""
    store = make(tmp_path)
    a, b, c, d = (_build(store, tiny) for _ in range(4))
    assert store.latest_name() == d
    store.mark_served(a, "production")
    store.mark_served(b, "staging")
    store.mark_served(b, "production-eu")
    store.mark_served(a, "production-eu")  # a service records again: its entry moves
    assert store.served_names() == {"production": a, "staging": b, "production-eu": a}
    assert store.served_name("staging") == b and store.served_name() is None  # the default one
    assert [v.is_served for v in store.versions()] == [True, True, False, False]
    assert store.prune(keep=1) == [c]  # latest d, and what each service serves
    with pytest.raises(StoreError, match="invalid service name"):
        store.mark_served(a, "../prod")


def test_a_served_file_of_one_version_is_the_default_service(tmp_path: Path, tiny: Any) -> None:
    store = ModelStore(tmp_path / "ms")
    a, b = _build(store, tiny), _build(store, tiny)
    (store.root / "SERVED").write_text(a + "\n")  # as written before services were named
    assert store.served_names() == {"semindex": a} and store.prune(keep=1) == []
    store.mark_served(b, "staging")
    assert store.served_names() == {"semindex": a, "staging": b}
    assert (store.root / "SERVED").read_text() == f"{a} semindex\n{b} staging\n"


@pytest.mark.parametrize("make", BACKENDS)
def test_promote_if_latest_is_still_the_one_expected(tmp_path: Path, tiny: Any,
                                                     make: Callable[[Path], Any]) -> None:
    store = make(tmp_path)
    a = _build(store, tiny, promote=False)
    b = _build(store, tiny, promote=False)
    assert store.promote_if(a, None, reason="job 1")  # nothing promoted yet, as expected
    assert not store.promote_if(b, None, reason="job 2")  # gated against no latest: a came first
    assert store.latest_name() == a
    assert store.promote_if(b, a, reason="job 2, gated again") and store.latest_name() == b
    assert [h["reason"] for h in store.history()] == ["job 1", "job 2, gated again"]
    with pytest.raises(VersionNotFound):
        store.promote_if("v20990101-000000", b)


@pytest.mark.parametrize("make", BACKENDS)
def test_names_cannot_escape(tmp_path: Path, make: Callable[[Path], Any]) -> None:
    store = make(tmp_path)
    for name in ("../etc", "v20260101-000000/../../x", "", "/abs"):
        with pytest.raises(StoreError):
            store.resolve(name)
        with pytest.raises(StoreError):
            store.promote(name)


@pytest.mark.parametrize("make", BACKENDS)
def test_crash_mid_build_leaves_nothing_visible(tmp_path: Path, tiny: Any,
                                                make: Callable[[Path], Any]) -> None:
    store = make(tmp_path)
    a = _build(store, tiny)
    with pytest.raises(RuntimeError), store.create() as (_name, staging):
        (staging / "index.faiss").write_bytes(b"partial")
        raise RuntimeError("crash")
    assert store.names() == [a] and store.latest_name() == a


def test_half_uploaded_version_is_invisible(tmp_path: Path, tiny: Any) -> None:
    store = _uri(tmp_path)
    a = _build(store, tiny)
    half = tmp_path / "bucket" / "v20991231-235959"
    half.mkdir()
    (half / "index.faiss").write_bytes(b"uploading...")  # manifest.json (the marker) not yet there
    assert store.names() == [a]
    with pytest.raises(VersionNotFound):
        store.resolve("v20991231-235959")
    with pytest.raises(VersionNotFound):
        store.promote("v20991231-235959")
