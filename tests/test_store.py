from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from semindex.artifacts import build_local_version
from semindex.encoder import HashEncoder
from semindex.errors import StoreError, VersionNotFound
from semindex.store import ModelStore


def _build(store: ModelStore, tiny, promote: bool = True) -> str:  # type: ignore[no-untyped-def]
    return build_local_version(store, tiny, "hash:32", HashEncoder(32), promote=promote)


def test_create_list_resolve_promote(tmp_path: Path, tiny) -> None:  # type: ignore[no-untyped-def]
    store = ModelStore(tmp_path / "ms")
    with pytest.raises(VersionNotFound, match="no version has been promoted"):
        store.resolve("latest")
    a = _build(store, tiny)
    b = _build(store, tiny, promote=False)
    assert a != b  # unique even within the same second
    assert store.names() == sorted([a, b])
    assert store.latest_name() == a
    assert (store.root / "latest").is_symlink()
    for artifact in ("model", "index.faiss", "meta.json", "thresholds.json", "metrics.json",
                     "manifest.json", "hints.json"):
        assert (store.resolve("latest") / artifact).exists(), artifact
    info = {v.name: v for v in store.versions()}
    assert info[a].is_latest and not info[b].is_latest
    assert info[b].manifest["parent_version"] == a
    assert store.promote(b) == a
    assert store.latest_name() == b


def test_rollback_and_prune(tmp_path: Path, tiny) -> None:  # type: ignore[no-untyped-def]
    store = ModelStore(tmp_path / "ms")
    names = [_build(store, tiny) for _ in range(4)]
    assert store.rollback() == names[2]
    assert store.latest_name() == names[2]
    assert store.rollback(names[0]) == names[0]
    removed = store.prune(keep=1)
    assert names[0] not in removed  # latest is never pruned
    assert set(store.names()) == {names[0], names[3]}
    with pytest.raises(StoreError):
        store.prune(keep=0)


@pytest.mark.parametrize("name", ["../etc", "v20260101-000000/../..", "/abs", "latest/../x",
                                  "v2026-bad", "", "v20260101-000000\x00"])
def test_names_cannot_escape(tmp_path: Path, name: str) -> None:
    store = ModelStore(tmp_path / "ms")
    with pytest.raises(StoreError):
        store.resolve(name)
    with pytest.raises(StoreError):
        store.promote(name)


def test_a_store_path_that_is_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from semindex.cli import main
    from semindex.serving.app import build_app
    from semindex.serving.settings import ServeArgs

    afile = tmp_path / "model_store"
    afile.write_text("not a directory")
    with pytest.raises(StoreError, match="model_store: the model store is not a directory"):
        ModelStore(afile)
    assert main(["--store", str(afile), "versions", "list"]) == 2  # was a NotADirectoryError traceback
    assert "the model store is not a directory" in capsys.readouterr().err
    with pytest.raises(StoreError, match="not a directory"):  # at `serve run`, before any replica
        build_app(ServeArgs(model_store=str(afile), log_dir=str(tmp_path / "logs")))
    assert afile.read_text() == "not a directory"


def test_symlinked_version_outside_store_is_refused(tmp_path: Path, tiny) -> None:  # type: ignore[no-untyped-def]
    store = ModelStore(tmp_path / "ms")
    _build(store, tiny)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, store.root / "v20200101-000000")
    with pytest.raises(StoreError, match="escapes"):
        store.resolve("v20200101-000000")


def test_pointer_file_without_symlinks(tmp_path: Path, tiny) -> None:  # type: ignore[no-untyped-def]
    store = ModelStore(tmp_path / "ms", use_symlink=False)
    a = _build(store, tiny)
    assert not (store.root / "latest").exists()
    assert (store.root / "LATEST").read_text().strip() == a
    b = _build(store, tiny)
    assert ModelStore(tmp_path / "ms").latest_name() == b


def test_exception_mid_build_leaves_nothing(tmp_path: Path, tiny) -> None:  # type: ignore[no-untyped-def]
    store = ModelStore(tmp_path / "ms")
    a = _build(store, tiny)
    with pytest.raises(RuntimeError), store.create() as (_name, staging):
        (staging / "index.faiss").write_bytes(b"partial")
        raise RuntimeError("crash")
    assert store.names() == [a] and store.latest_name() == a
    assert list((store.root / ".staging").iterdir()) == []


def test_incomplete_version_is_refused(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "ms")
    with pytest.raises(StoreError, match="incomplete"), store.create() as (_n, staging):
        (staging / "meta.json").write_text("{}")
    assert store.names() == []


def test_killed_process_mid_write_leaves_store_unchanged(tmp_path: Path, tiny) -> None:  # type: ignore[no-untyped-def]
    store = ModelStore(tmp_path / "ms")
    a = _build(store, tiny)
    code = f"""
import os
from semindex.store import ModelStore
store = ModelStore({str(store.root)!r})
with store.create() as (name, staging):
    (staging / "index.faiss").write_bytes(b"half")
    os._exit(9)   # killed mid-write: no cleanup code runs
"""
    proc = subprocess.run([sys.executable, "-c", code], check=False)
    assert proc.returncode == 9
    assert store.names() == [a] and store.latest_name() == a
    assert len(list((store.root / ".staging").iterdir())) == 1  # debris only in staging


def test_promotion_is_gated_again_when_latest_moved(tmp_path: Path, tiny) -> None:  # type: ignore[no-untyped-def]
    """A job gated against one latest must not replace another that came meanwhile."""
    from semindex.training.pipeline import promote_gated

    store = ModelStore(tmp_path / "ms")
    parent, mine, other = (_build(store, tiny) for _ in range(3))
    accuracy = {parent: 0.5, other: 0.9}
    scored: list[str | None] = []

    def score(version: str | None) -> dict[str, float] | None:
        scored.append(version)
        return None if version is None else {"accuracy": accuracy[version]}

    def gate(old: dict[str, float] | None) -> tuple[bool, str]:  # mine scores 0.8
        return (old is None or 0.8 >= old["accuracy"]), "gate"

    store.promote(parent)
    assert promote_gated(store, mine, parent, "first gate", score, gate, "train") == (True, "first gate")
    assert store.latest_name() == mine and scored == []
    store.promote(other)  # another job promoted a better version while this one ran
    ok, why = promote_gated(store, mine, parent, "first gate", score, gate, "train")
    assert not ok and f"latest moved to {other}" in why and store.latest_name() == other
    assert scored == [other]
    accuracy[other] = 0.6  # ... or a worse one: this version passes against it, and wins
    ok, why = promote_gated(store, mine, parent, "first gate", score, gate, "train")
    assert ok and f"latest moved to {other}" in why and store.latest_name() == mine


def _scores(accuracy: float, precision: float, n: int = 100) -> dict[str, float]:
    return {"n": n, "accuracy": accuracy, "precision": precision}


@pytest.mark.parametrize("new, old, settings, promoted, why", [
    (_scores(0.9, 0.95), None, {}, True, "accuracy 0.900, precision 0.950 pass"),
    (_scores(0.9, 0.95, n=0), None, {}, False, "no evaluation rows"),
    (_scores(0.7, 0.95), None, {}, False, "accuracy 0.700 < MIN_ACCURACY 0.800"),
    (_scores(0.9, 0.95), _scores(0.92, 0.95), {}, False, "accuracy 0.900 is worse than latest 0.920"),
    (_scores(0.9, 0.95), _scores(0.905, 0.95), {}, True, "pass the gate"),  # within tolerance
    (_scores(0.9, 0.95), None, {"min_precision": 0.97}, False, "precision 0.950 < MIN_PRECISION 0.970"),
    (_scores(0.9, 0.97), None, {"min_precision": 0.97}, True, "pass the gate"),
    # more right answers, but more of the accepted ones wrong: a worse autofill
    (_scores(0.95, 0.90), _scores(0.9, 0.95), {}, False,
     "precision 0.900 is worse than latest 0.950 beyond precision_tolerance 0.03"),
    (_scores(0.95, 0.93), _scores(0.9, 0.95), {}, True, "pass the gate"),  # within tolerance
    (_scores(0.95, 0.90), _scores(0.9, 0.95), {"precision_tolerance": 0.1}, True, "pass the gate"),
])
def test_gate(new: dict[str, float], old: dict[str, float] | None, settings: dict[str, float],
              promoted: bool, why: str) -> None:
    from semindex.config import GateConfig
    from semindex.training.pipeline import gate

    ok, reason = gate(new, old, GateConfig(**settings))
    assert ok is promoted and why in reason


def test_prune_and_promote_take_the_store_lock(tmp_path: Path, tiny) -> None:  # type: ignore[no-untyped-def]
    """While one process moves latest, another cannot prune (or promote) under it; whichever
    goes first, latest never names a deleted version."""
    import threading

    from semindex.atomic import locked
    from semindex.store import LOCK

    store = ModelStore(tmp_path / "ms")
    names = [_build(store, tiny) for _ in range(3)]
    done: list[str] = []

    def attempt(what: str, call: Callable[[], object]) -> None:
        try:
            call()
            done.append(what)
        except VersionNotFound:  # pruned first: the promotion is refused, not dangling
            done.append(f"{what} refused")

    with locked(store.root / LOCK):
        workers = [threading.Thread(target=attempt, args=("prune", lambda: store.prune(keep=1))),
                   threading.Thread(target=attempt, args=("promote", lambda: store.promote(names[0])))]
        for w in workers:
            w.start()
        for w in workers:
            w.join(0.5)
        assert done == []  # both wait for the lock
    for w in workers:
        w.join(10)
    assert sorted(done) in (["promote", "prune"], ["promote refused", "prune"])
    assert store.latest_name() in store.names()
    assert store.latest_name() == (names[0] if "promote" in done else names[2])


def test_a_filesystem_without_locks_still_promotes(tmp_path: Path, tiny,  # type: ignore[no-untyped-def]
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """Some network mounts refuse flock (ENOLCK): promotion goes on unlocked, with a warning,
    instead of failing a finished training job; other lock errors still raise."""
    import errno
    import fcntl

    store = ModelStore(tmp_path / "ms")
    a, b = _build(store, tiny), _build(store, tiny, promote=False)

    def no_locks(fd: int, op: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with caplog.at_level("WARNING", logger="semindex.atomic"):
        assert store.promote_if(b, a) and store.latest_name() == b
    assert "no locks" in caplog.text and store.history()[-1]["version"] == b  # history appended

    def broken(fd: int, op: int) -> None:
        raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr(fcntl, "flock", broken)
    with pytest.raises(OSError):
        store.promote(a)
    assert store.latest_name() == b
