"""Crash-safe file writes: whole files via temp + rename, logs via locked appends."""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``path`` so that readers see the old file or the new one, never a part."""
    p = Path(path)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, obj: Any) -> None:
    write_bytes(path, (json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n").encode())


def append_locked(path: str | Path, data: bytes, header: bytes = b"") -> None:
    """Append ``data`` to a log shared by many processes, as one locked ``write``.

    ``O_APPEND`` plus an exclusive ``flock`` means concurrent writers (Serve replicas,
    threads) never interleave or lose rows; ``header`` is written first when the file
    is new or empty.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(p, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        _lock(fd, p)  # released when the file is closed
        payload = data
        if header and os.fstat(fd).st_size == 0:
            payload = header + data
        view = memoryview(payload)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def locked(path: str | Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the block: one
    process at a time, on one machine or on a filesystem that honours ``flock``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        _lock(fd, Path(path))
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _lock(fd: int, path: Path) -> None:
    """An exclusive ``flock`` on ``fd``. Where the filesystem has no locks (ENOLCK or
    EOPNOTSUPP on some network mounts) the work goes on unlocked, with a warning, rather
    than failing a finished training job or a request."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError as exc:
        if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP):
            raise
        log.warning("%s: the filesystem has no locks (%s): going on unlocked", path, exc)
