"""Shared helpers of the benchmark scripts: machine description and result recording."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024 // 1024
    except (OSError, ValueError, IndexError):
        pass
    versions = {}
    for mod in ("ray", "torch", "faiss", "sentence_transformers"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:
            versions[mod] = "?"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            check=False).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem, "python": platform.python_version(),
            "versions": versions, "commit": commit, "at": datetime.now(timezone.utc).isoformat()}


def record(name: str, payload: dict[str, Any]) -> Path:
    from semindex.atomic import write_json  # a run cut short leaves the previous figures whole

    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    write_json(path, {"machine": machine(), **payload})
    print(f"\nwrote {path}")
    return path


def table(rows: list[dict[str, Any]], cols: list[str]) -> str:
    widths = {c: max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in cols}
    out = ["  ".join(c.rjust(widths[c]) for c in cols)]
    out += ["  ".join(_fmt(r.get(c)).rjust(widths[c]) for c in cols) for r in rows]
    return "\n".join(out)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 100 else f"{v:.0f}"
    return str(v)
