"""Index build and search time for the index types ``choose_index_type`` picks.

    python bench/index.py --sizes 1000 100000 1000000
    python bench/index.py --sizes 1000000 --max-hnsw 1000000 --ef-search 64 256 1024
    python bench/index.py --sizes 1000 20000 100000 --ef-search 64 256 --name index_restricted

HNSW is built once per size and searched at every ``--ef-search`` value. Each search
is also timed restricted to a tenth of the keys (what a field whose type admits only some
keys gets: a FAISS ID selector); its recall counts the queries whose own key is admitted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import record, table
from semindex.data import SynonymRecord
from semindex.index import KeyIndex, choose_index_type


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000, 1_000_000])
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--max-hnsw", type=int, default=200_000)
    p.add_argument("--ef-search", type=int, nargs="+", default=[64])
    p.add_argument("--name", default="index", help="results file: bench/results/NAME.json")
    a = p.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    for n in a.sizes:
        vecs = rng.standard_normal((n, a.dim), dtype=np.float32)
        records = [SynonymRecord(f"k{i % 1000}", f"s{i}") for i in range(n)]
        for kind in ("flat", "hnsw"):
            if kind == "hnsw" and n > a.max_hnsw:
                continue  # HNSW construction of 1M x 384 takes tens of minutes on 2 cores
            exact_max = n if kind == "flat" else 0
            t = time.perf_counter()
            idx = KeyIndex.build(records, vecs, exact_max=exact_max or 0)
            build = time.perf_counter() - t
            q = vecs[:a.queries] + 0.01 * rng.standard_normal((a.queries, a.dim), dtype=np.float32)
            q /= np.linalg.norm(q, axis=1, keepdims=True)
            for ef in a.ef_search if kind == "hnsw" else [None]:
                if ef is not None:
                    idx.set_ef_search(ef)
                t = time.perf_counter()
                hits = idx.search(q, top_keys=5)
                per_q = (time.perf_counter() - t) / a.queries * 1000
                recall = float(np.mean([h[0].synonym == f"s{i}" for i, h in enumerate(hits)]))
                admitted = frozenset(f"k{j}" for j in range(100))
                t = time.perf_counter()
                only = idx.search(q, top_keys=5, keys=[admitted] * a.queries)
                restricted = (time.perf_counter() - t) / a.queries * 1000
                own = [i for i in range(a.queries) if f"k{i % 1000}" in admitted]
                r_recall = float(np.mean([only[i][0].synonym == f"s{i}" for i in own]))
                rows.append({"vectors": n, "index": idx.kind, "ef_search": idx.ef_search or "-",
                             "chosen": idx.kind == choose_index_type(n), "build_s": build,
                             "search_ms_per_query": per_q, "top1_recall": recall,
                             "restricted_ms_per_query": restricted, "restricted_recall": r_recall})
                print(table(rows[-1:], list(rows[-1])))
    print()
    print(table(rows, ["vectors", "index", "ef_search", "chosen", "build_s", "search_ms_per_query",
                       "top1_recall", "restricted_ms_per_query", "restricted_recall"]))
    record(a.name, {"rows": rows, "args": vars(a)})


if __name__ == "__main__":
    main()
