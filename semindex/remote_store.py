"""The model store on a ``pyarrow.fs`` filesystem (``s3://``, ``gs://``, ``file://``, ...).

Same API and rules as :class:`semindex.store.ModelStore`, for storage without symlinks
or directory renames:

* a version is built in a local temporary directory, then uploaded file by file with
  ``manifest.json`` **last**: a version directory without ``manifest.json`` is invisible
  (not listed, not resolvable), so readers never see a half-uploaded version;
* ``LATEST`` is one small object replaced whole (object stores replace objects
  atomically), written only after the version is complete;
* the promotion history is one object per promotion (objects cannot be appended to);
* :meth:`resolve` downloads a version into a local cache keyed by store and version name
  (temp directory + rename), so every node loads from its own disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pyarrow import fs as pafs

from semindex.errors import StoreError, VersionNotFound
from semindex.store import (
    ARTIFACTS,
    DEFAULT_SERVICE,
    VERSION_RE,
    ModelStore,
    VersionInfo,
    format_served,
    parse_served,
    previous_version,
    prunable,
    validate_service,
)

POINTER = "LATEST"
SERVED = "SERVED"
HISTORY_DIR = "promotions"


class RemoteModelStore:
    """A model store at ``uri`` (or on ``filesystem`` under ``base``)."""

    def __init__(self, uri: str | None = None, *, filesystem: pafs.FileSystem | None = None,
                 base: str = "", cache_dir: str | Path | None = None) -> None:
        if filesystem is None:
            if uri is None:
                raise StoreError("remote store: give a URI or a filesystem")
            try:
                filesystem, base = pafs.FileSystem.from_uri(uri)
            except Exception as exc:  # pyarrow raises several types for a bad URI
                raise StoreError(f"{uri}: cannot open model store: {exc}") from exc
        self.fs = filesystem
        self.base = base.rstrip("/")
        self.uri = uri or f"{type(filesystem).__name__}:{self.base}"
        key = hashlib.sha256(self.uri.encode()).hexdigest()[:12]
        default_cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "semindex"
        self.cache = Path(cache_dir or default_cache) / "stores" / key
        self.root = self.cache  # local view for code that logs or caches beside the store

    def _p(self, *parts: str) -> str:
        return "/".join([self.base, *parts]) if self.base else "/".join(parts)

    def _exists(self, path: str) -> bool:
        return bool(self.fs.get_file_info(path).type != pafs.FileType.NotFound)

    def _read(self, path: str) -> bytes:
        with self.fs.open_input_stream(path) as fh:
            data: bytes = fh.read()
        return data

    def _write(self, path: str, data: bytes) -> None:
        with self.fs.open_output_stream(path) as fh:
            fh.write(data)

    # -- names -----------------------------------------------------------------
    def validate_name(self, name: str) -> str:
        if not isinstance(name, str) or not VERSION_RE.match(name):
            raise StoreError(f"invalid version name {name!r}: expected vYYYYMMDD-HHMMSS[-N]")
        return name

    def _complete(self, name: str) -> bool:
        return self._exists(self._p(name, "manifest.json"))

    # -- create ----------------------------------------------------------------
    @contextmanager
    def create(self) -> Iterator[tuple[str, Path]]:
        base = "v" + datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        taken = set(self._all_dirs())
        name = next(n for n in (base if i == 0 else f"{base}-{i}" for i in range(1000)) if n not in taken)
        with tempfile.TemporaryDirectory(prefix="semindex-build-") as tmp:
            staging = Path(tmp) / name
            staging.mkdir()
            yield name, staging
            missing = [a for a in ARTIFACTS if not (staging / a).exists()]
            if missing:
                raise StoreError(f"version {name} is incomplete: missing {', '.join(missing)}")
            self._upload(staging, name)

    def _upload(self, local: Path, name: str) -> None:
        files = sorted(p for p in local.rglob("*") if p.is_file())
        files.sort(key=lambda p: p.name == "manifest.json")  # the commit marker goes last
        for f in files:
            rel = f.relative_to(local).as_posix()
            self.fs.create_dir(self._p(name, *rel.split("/")[:-1]) if "/" in rel else self._p(name),
                               recursive=True)
            self._write(self._p(name, rel), f.read_bytes())

    # -- read ------------------------------------------------------------------
    def _all_dirs(self) -> list[str]:
        try:
            infos = self.fs.get_file_info(pafs.FileSelector(self.base or "/", allow_not_found=True))
        except FileNotFoundError:
            return []
        return [i.base_name for i in infos if i.type == pafs.FileType.Directory]

    def names(self) -> list[str]:
        return sorted(n for n in self._all_dirs() if VERSION_RE.match(n) and self._complete(n))

    def latest_name(self) -> str | None:
        path = self._p(POINTER)
        if not self._exists(path):
            return None
        return self._read(path).decode().strip() or None

    def manifest(self, name: str) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self._read(self._p(self.validate_name(name), "manifest.json")))
        except (OSError, ValueError):
            return {}
        return data

    def versions(self) -> list[VersionInfo]:
        latest, served = self.latest_name(), set(self.served_names().values())
        return [VersionInfo(n, Path(self._p(n)), self.manifest(n), n == latest, n in served)
                for n in self.names()]

    def served_names(self) -> dict[str, str]:
        path = self._p(SERVED)
        return parse_served(self._read(path).decode()) if self._exists(path) else {}

    def served_name(self, service: str = DEFAULT_SERVICE) -> str | None:
        return self.served_names().get(service)

    def mark_served(self, name: str, service: str = DEFAULT_SERVICE) -> None:
        """As :meth:`ModelStore.mark_served`; an object store has no lock, so two services
        recording in the same instant can lose one entry (the next reload writes it again)."""
        self.validate_name(name)
        served = self.served_names()
        served[validate_service(service)] = name
        self._write(self._p(SERVED), format_served(served))

    def resolve(self, ref: str = "latest") -> Path:
        """A local copy of ``latest`` or of a named version (downloaded once per node)."""
        if ref == "latest":
            name = self.latest_name()
            if name is None:
                raise VersionNotFound(f"{self.uri}: no version has been promoted yet "
                                      "(run train_job.py first)")
        else:
            name = self.validate_name(ref)
        if not self._complete(name):
            raise VersionNotFound(f"version {name!r} not found in {self.uri}")
        local = self.cache / name
        if local.is_dir():
            return local
        self.cache.mkdir(parents=True, exist_ok=True)
        tmp = self.cache / f".{name}.{uuid.uuid4().hex}"
        try:
            for info in self.fs.get_file_info(pafs.FileSelector(self._p(name), recursive=True)):
                if info.type != pafs.FileType.File:
                    continue
                rel = info.path[len(self._p(name)) + 1:]
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                (tmp / rel).write_bytes(self._read(info.path))
            os.rename(tmp, local)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if not local.is_dir():  # another process may have won the race
                raise
        return local

    # -- promote / rollback / prune --------------------------------------------
    def promote(self, name: str, reason: str = "promote") -> str | None:
        self.validate_name(name)
        if not self._complete(name):
            raise VersionNotFound(f"version {name!r} not found in {self.uri}")
        previous = self.latest_name()
        self._write(self._p(POINTER), (name + "\n").encode())
        stamp = datetime.now(timezone.utc)
        entry = {"at": stamp.isoformat(), "version": name, "previous": previous, "reason": reason}
        self.fs.create_dir(self._p(HISTORY_DIR), recursive=True)
        self._write(self._p(HISTORY_DIR, f"{stamp.strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:6]}.json"),
                    json.dumps(entry).encode())
        return previous

    def promote_if(self, name: str, expected: str | None, reason: str = "promote") -> bool:
        """Promote ``name`` only if ``latest`` is still ``expected``. An object store has no
        lock: two promotions within the same moment can still both pass the check."""
        if self.latest_name() != expected:
            return False
        self.promote(name, reason)
        return True

    def history(self) -> list[dict[str, Any]]:
        infos = self.fs.get_file_info(pafs.FileSelector(self._p(HISTORY_DIR), allow_not_found=True))
        out = []
        for info in sorted(infos, key=lambda i: i.base_name):
            try:
                out.append(json.loads(self._read(info.path)))
            except (OSError, ValueError):
                continue
        return out

    def rollback(self, name: str | None = None) -> str:
        if name is None:
            name = previous_version(self.history(), self.names(), self.latest_name())
        self.promote(name, reason="rollback")
        return name

    def prune(self, keep: int) -> list[str]:
        doomed = prunable(self.names(), {self.latest_name(), *self.served_names().values()}, keep)
        for n in doomed:
            self.fs.delete_file(self._p(n, "manifest.json"))  # invisible first, then delete
            self.fs.delete_dir(self._p(n))
        return doomed


AnyStore = ModelStore | RemoteModelStore


def open_store(location: str, **kwargs: Any) -> AnyStore:
    """A :class:`ModelStore` for a path, a :class:`RemoteModelStore` for a URI."""
    if "://" in location:
        return RemoteModelStore(location, **kwargs)
    return ModelStore(location, **kwargs)
