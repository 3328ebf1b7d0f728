"""The small exception tree of semindex.

Every error says what was wrong, where (file, line, key or field) and, where one exists,
how to fix it. The HTTP layer maps these classes to status codes in one place
(:mod:`semindex.serving.app`).
"""

from __future__ import annotations


class SemindexError(Exception):
    """Base class of every error semindex raises on purpose."""


class ConfigError(SemindexError):
    """A configuration file, option or environment override is invalid."""


class DataError(SemindexError):
    """An input data file (canonical JSON, feedback CSV, triplets, eval rows) is invalid."""


class StoreError(SemindexError):
    """The model store refused an operation (bad name, missing version, escape attempt)."""


class VersionNotFound(StoreError):
    """The requested version does not exist in the store."""


class ModelLoadError(SemindexError):
    """A model version could not be loaded (missing file, corrupt index, dimension mismatch)."""


class NotReady(SemindexError):
    """The service cannot answer now: no model is loaded yet, or a service it needs (the Ray
    dashboard, for training jobs) cannot be reached. Not the request's fault: HTTP 503."""
