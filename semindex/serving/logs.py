"""The decision log and the feedback log: CSV, append-only, safe for many writers.

A text cell that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first) is
written behind a quote (:func:`semindex.data.csv_cell`); the feedback reader takes it off.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from semindex.atomic import append_locked
from semindex.data import FEEDBACK_COLUMNS, csv_cell

DECISION_COLUMNS = ("timestamp", "event", "selector", "text", "key", "score", "threshold",
                    "accepted", "reason", "model_version")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _csv_bytes(rows: Iterable[Sequence[Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for row in rows:
        writer.writerow(["" if v is None else csv_cell(v) if isinstance(v, str) else v for v in row])
    return buf.getvalue().encode("utf-8")


class CsvLog:
    """One CSV file; each call appends its rows in a single locked write."""

    def __init__(self, path: str, columns: Sequence[str]) -> None:
        self.path = path
        self.columns = tuple(columns)
        self._header = _csv_bytes([self.columns])

    def append(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            append_locked(self.path, _csv_bytes([[r.get(c) for c in self.columns] for r in rows]),
                          header=self._header)


def decision_log(path: str) -> CsvLog:
    return CsvLog(path, DECISION_COLUMNS)


def feedback_log(path: str) -> CsvLog:
    """Rows in exactly the format :func:`semindex.data.load_feedback` reads."""
    return CsvLog(path, FEEDBACK_COLUMNS)
