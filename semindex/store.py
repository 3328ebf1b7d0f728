"""The versioned model store: ``vYYYYMMDD-HHMMSS`` directories and an atomic ``latest``.

Layout::

    model_store/
      v20261122-130501/      model/ index.faiss meta.json thresholds.json metrics.json manifest.json
      latest -> v20261122-130501   (symlink; or a LATEST pointer file where symlinks fail)
      promotions.jsonl       append-only history of promotions (used by rollback)
      SERVED                 per service, the version it last committed (kept by prune):
                             "<version> <service>" lines
      .lock                  held while latest moves (promote, rollback) and during prune
      .staging/              versions being built (invisible to list/resolve)

A version is built under ``.staging/`` and renamed into place only when complete, so a
crash never leaves a half-written version visible; ``latest`` is replaced with
``os.replace``, which is atomic on POSIX filesystems.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from semindex.atomic import append_locked, locked, write_bytes
from semindex.errors import StoreError, VersionNotFound

VERSION_RE = re.compile(r"^v\d{8}-\d{6}(-\d+)?$")
LATEST = "latest"
POINTER_FILE = "LATEST"
HISTORY = "promotions.jsonl"
SERVED = "SERVED"
#: The name a service records its version under when it names none (``ServeArgs.service_name``).
DEFAULT_SERVICE = "semindex"
SERVICE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
LOCK = ".lock"
STAGING = ".staging"
ARTIFACTS = ("model", "index.faiss", "meta.json", "thresholds.json", "metrics.json",
             "manifest.json")


@dataclass(frozen=True)
class VersionInfo:
    name: str
    path: Path
    manifest: dict[str, Any]
    is_latest: bool
    is_served: bool = False

    def summary(self) -> dict[str, Any]:
        m = self.manifest
        return {"name": self.name, "latest": self.is_latest, "served": self.is_served,
                "created_at": m.get("created_at"),
                "parent": m.get("parent_version"), "base_model": m.get("base_model"),
                "mode": m.get("mode"), "accuracy": m.get("metrics", {}).get("accuracy")}


class ModelStore:
    """Create, list, resolve, promote, roll back and prune model versions."""

    def __init__(self, root: str | Path, *, use_symlink: bool = True) -> None:
        self.root = Path(root).expanduser().resolve()
        self.use_symlink = use_symlink
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"{self.root}: the model store is not a directory")

    # -- names -----------------------------------------------------------------
    def validate_name(self, name: str) -> str:
        """Refuse anything that is not a plain version name (no ``..``, ``/`` or links out)."""
        if not isinstance(name, str) or not VERSION_RE.match(name):
            raise StoreError(f"invalid version name {name!r}: expected vYYYYMMDD-HHMMSS[-N]")
        path = (self.root / name).resolve()
        if path.parent != self.root:
            raise StoreError(f"version name {name!r} escapes the model store")
        return name

    def path_of(self, name: str) -> Path:
        return self.root / self.validate_name(name)

    # -- create ----------------------------------------------------------------
    @contextmanager
    def create(self) -> Iterator[tuple[str, Path]]:
        """Reserve a new version name and yield ``(name, staging_dir)``.

        On normal exit the staging directory is renamed to its final name; on an
        exception it is deleted. A killed process leaves only ``.staging/`` debris,
        which no reader looks at and :meth:`prune` removes.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        staging_root = self.root / STAGING
        staging_root.mkdir(exist_ok=True)
        base = "v" + datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        name, staging = self._reserve(base, staging_root)
        try:
            yield name, staging
            self._commit(name, staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def _reserve(self, base: str, staging_root: Path) -> tuple[str, Path]:
        for n in range(1000):
            name = base if n == 0 else f"{base}-{n}"
            if (self.root / name).exists():
                continue
            try:
                (staging_root / name).mkdir()  # atomic: two runs cannot both get it
            except FileExistsError:
                continue
            return name, staging_root / name
        raise StoreError(f"{self.root}: cannot reserve a version name for {base}")

    def _commit(self, name: str, staging: Path) -> None:
        missing = [a for a in ARTIFACTS if not (staging / a).exists()]
        if missing:
            raise StoreError(f"version {name} is incomplete: missing {', '.join(missing)}")
        _fsync_dir(staging)
        os.rename(staging, self.root / name)  # fails if the name was taken meanwhile
        _fsync_dir(self.root)

    # -- read ------------------------------------------------------------------
    def names(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and not p.is_symlink() and VERSION_RE.match(p.name))

    def latest_name(self) -> str | None:
        link = self.root / LATEST
        if link.is_symlink():
            target = os.readlink(link)
            return Path(target).name
        pointer = self.root / POINTER_FILE
        if pointer.exists():
            return pointer.read_text().strip() or None
        return None

    def resolve(self, ref: str = LATEST) -> Path:
        """The directory of ``latest`` or of a named version."""
        if ref == LATEST:
            name = self.latest_name()
            if name is None:
                raise VersionNotFound(f"{self.root}: no version has been promoted yet "
                                      "(run train_job.py first)")
        else:
            name = ref
        path = self.path_of(name)
        if not path.is_dir():
            raise VersionNotFound(f"version {name!r} not found in {self.root}")
        return path

    def manifest(self, name: str) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads((self.path_of(name) / "manifest.json").read_text())
        except (OSError, ValueError):
            return {}
        return data

    def versions(self) -> list[VersionInfo]:
        latest, served = self.latest_name(), set(self.served_names().values())
        return [VersionInfo(n, self.root / n, self.manifest(n), n == latest, n in served)
                for n in self.names()]

    def served_names(self) -> dict[str, str]:
        """Per service following this store, the version it last committed (:meth:`mark_served`)."""
        try:
            text = (self.root / SERVED).read_text()
        except (FileNotFoundError, NotADirectoryError):
            return {}
        except OSError as exc:  # prune must not guess what is served
            raise StoreError(f"{self.root / SERVED}: cannot read the served version: {exc}") from exc
        return parse_served(text)

    def served_name(self, service: str = DEFAULT_SERVICE) -> str | None:
        """The version ``service`` last committed, if it recorded one."""
        return self.served_names().get(service)

    def mark_served(self, name: str, service: str = DEFAULT_SERVICE) -> None:
        """Record that ``service`` serves ``name``, so that :meth:`prune` keeps it after
        ``latest`` moved on (a reload to an older version, a promotion not yet reloaded).
        Services that share a store (staging and production) record under their own names."""
        self.validate_name(name)
        with locked(self.root / LOCK):  # two services recording at once keep both entries
            served = self.served_names()
            served[validate_service(service)] = name
            write_bytes(self.root / SERVED, format_served(served))

    # -- promote / rollback / prune --------------------------------------------
    def promote(self, name: str, reason: str = "promote") -> str | None:
        """Point ``latest`` at ``name`` atomically; returns the previous latest."""
        with self._moving_latest_to(name):
            return self._promote(name, reason)

    def promote_if(self, name: str, expected: str | None, reason: str = "promote") -> bool:
        """Promote ``name`` only if ``latest`` is still ``expected`` (compare and swap under
        the store's lock): a job gated against one latest must not replace another."""
        with self._moving_latest_to(name):
            if self.latest_name() != expected:
                return False
            self._promote(name, reason)
            return True

    @contextmanager
    def _moving_latest_to(self, name: str) -> Iterator[None]:
        """The store's lock, held while ``latest`` moves to ``name``, which must exist."""
        self.resolve(name)  # a missing store or version fails before a lock file is made
        with locked(self.root / LOCK):
            self.resolve(name)  # and is still there: prune holds the same lock
            yield

    def _promote(self, name: str, reason: str) -> str | None:
        previous = self.latest_name()
        self._set_latest(name)
        entry = {"at": datetime.now(timezone.utc).isoformat(), "version": name,
                 "previous": previous, "reason": reason}
        append_locked(self.root / HISTORY, (json.dumps(entry) + "\n").encode())
        return previous

    def _set_latest(self, name: str) -> None:
        if self.use_symlink:
            tmp = self.root / f".latest-{uuid.uuid4().hex}"
            try:
                os.symlink(name, tmp)
                os.replace(tmp, self.root / LATEST)
                (self.root / POINTER_FILE).unlink(missing_ok=True)
                return
            except OSError:
                tmp.unlink(missing_ok=True)  # no symlinks here: fall back to the pointer file
        write_bytes(self.root / POINTER_FILE, (name + "\n").encode())
        link = self.root / LATEST
        if link.is_symlink():
            link.unlink()

    def history(self) -> list[dict[str, Any]]:
        path = self.root / HISTORY
        if not path.exists():
            return []
        out = []
        for line in path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a torn last line after a crash: ignore it
        return out

    def rollback(self, name: str | None = None) -> str:
        """Promote ``name``, or the version that was latest before the current one."""
        if name is None:
            name = previous_version(self.history(), self.names(), self.latest_name())
        self.promote(name, reason="rollback")
        return name

    def prune(self, keep: int) -> list[str]:
        """Delete all but the newest ``keep`` versions; never ``latest`` or a version a service serves."""
        if not self.root.is_dir():
            return prunable([], set(), keep)  # nothing to delete; a bad ``keep`` still refused
        with locked(self.root / LOCK):  # latest cannot move to a version being deleted
            doomed = prunable(self.names(), {self.latest_name(), *self.served_names().values()},
                              keep)
            for n in doomed:
                trash = self.root / STAGING / f"{n}.deleting-{uuid.uuid4().hex[:8]}"
                (self.root / STAGING).mkdir(exist_ok=True)
                os.rename(self.root / n, trash)  # disappear atomically, then delete
                shutil.rmtree(trash, ignore_errors=True)
        staging = self.root / STAGING
        if staging.exists():  # debris of killed runs older than an hour
            for p in staging.iterdir():
                if time.time() - p.stat().st_mtime > 3600:
                    shutil.rmtree(p, ignore_errors=True)
        return doomed


def previous_version(history: list[dict[str, Any]], names: list[str], current: str | None) -> str:
    """What a rollback goes to: the version promoted before ``current``, else the newest older one."""
    for entry in reversed(history):
        if entry.get("version") == current and entry.get("previous"):
            return str(entry["previous"])
    older = [n for n in names if current is None or n < current]
    if not older:
        raise StoreError("no previous version to roll back to")
    return older[-1]


def validate_service(service: str) -> str:
    if not SERVICE_RE.match(service):
        raise StoreError(f"invalid service name {service!r}: letters, digits, '.', '_', '-'")
    return service


def parse_served(text: str) -> dict[str, str]:
    """The ``SERVED`` file: one ``<version> <service>`` per line; a line with a version alone
    (as written before services were named) is the default service's. Other lines are
    skipped."""
    served: dict[str, str] = {}
    for line in text.splitlines():
        version, _, service = line.strip().partition(" ")
        service = service.strip() or DEFAULT_SERVICE
        if VERSION_RE.match(version) and SERVICE_RE.match(service):
            served[service] = version
    return served


def format_served(served: dict[str, str]) -> bytes:
    return "".join(f"{v} {s}\n" for s, v in sorted(served.items())).encode()


def prunable(names: list[str], kept: set[str | None], keep: int) -> list[str]:
    """All but the newest ``keep`` versions, never one of ``kept`` (latest, served)."""
    if keep < 1:
        raise StoreError("prune: keep must be at least 1")
    return [n for n in names[:-keep] if n not in kept]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
