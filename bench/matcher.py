"""The matcher's own cost, without Ray or HTTP: the lexical lookups and whole decisions.

    python bench/matcher.py --store model_store --ref latest --eval ../shared/data/forms/dev.jsonl

Times, on one loaded version, (1) the lexicon's five readings of a text (``exact``,
``mention``, ``mentioned``, ``head``, ``unqualified``) over every label, placeholder, name
and id of the eval rows, best of ``--repeats`` passes, and (2) ``decide`` on all rows
(pages classified as one request each, the encoder included), best of ``--repeats``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench._common import record, table


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--store", default="model_store")
    p.add_argument("--ref", default="latest", help="version name or 'latest'")
    p.add_argument("--eval", default="../shared/data/forms/dev.jsonl")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--name", default="matcher", help="results file name")
    a = p.parse_args()

    from semindex.bundle import load_bundle
    from semindex.data import load_eval_rows
    from semindex.matcher import Matcher
    from semindex.quality import decide
    from semindex.remote_store import open_store

    version = open_store(a.store).resolve(a.ref)
    matcher = Matcher(load_bundle(version))
    lex = matcher.lexicon
    rows = load_eval_rows(a.eval)
    texts = [t for r in rows for t in (str(r.field.get(k) or "") for k in
                                       ("label", "placeholder", "name", "id")) if t]

    lookups = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        for t in texts:
            lex.exact(t), lex.mention(t), lex.mentioned(t), lex.head(t), lex.unqualified(t)
        lookups.append(time.perf_counter() - t0)
    decisions = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        decide(matcher, rows)
        decisions.append(time.perf_counter() - t0)

    result = {"version": version.name, "entries": len(lex.table), "texts": len(texts),
              "rows": len(rows), "lexicon_us_per_text": min(lookups) * 1e6 / len(texts),
              "decide_ms_per_field": min(decisions) * 1e3 / len(rows)}
    print(table([result], list(result)))
    record(a.name, {"args": vars(a), "rows": [result]})


if __name__ == "__main__":
    main()
