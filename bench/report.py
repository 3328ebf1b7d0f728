"""Render bench/results/*.json as the markdown tables of docs/benchmarks.md.

    python bench/report.py > /tmp/tables.md
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 100 else f"{v:.0f}"
    return "" if v is None else str(v)


def md(rows: list[dict[str, Any]]) -> str:
    cols: list[str] = []
    for r in rows:
        cols += [c for c in r if c not in cols]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(fmt(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(out)


def main() -> None:
    for path in sorted(RESULTS.glob("*.json")):
        data = json.loads(path.read_text())
        m = data["machine"]
        print(f"### {path.stem}\n")
        print(f"{m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; ray {m['versions']['ray']}, "
              f"torch {m['versions']['torch']}, faiss {m['versions']['faiss']}; commit {m['commit']}; "
              f"{m['at'][:16]}; args `{json.dumps(data.get('args', {}))}`\n")
        print(md(data["rows"]))
        if "summary" in data:
            print(f"\nsummary: `{json.dumps(data['summary'])}`")
        print()


if __name__ == "__main__":
    main()
