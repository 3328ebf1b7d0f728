"""Texts/s of the Ray Data embedding step vs a plain single-process ``model.encode`` loop.

    python bench/embed.py --sizes 10000 100000 --actors 1 2 4
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
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000])
    p.add_argument("--actors", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--name", default="embed", help="results file name (bench/results/NAME.json)")
    a = p.parse_args()
    import ray

    from semindex.encoder import SentenceTransformerEncoder, resolve_model_path
    from semindex.training.embedding import embed_texts

    path = resolve_model_path("packaged:all-MiniLM-L6-v2")
    ray.init(address="local", num_cpus=max(a.actors) + 2, include_dashboard=False, log_to_driver=False)
    enc = SentenceTransformerEncoder(path)
    rows = []
    for n in a.sizes:
        texts = [f"field label number {i} {('address', 'email', 'name', 'phone')[i % 4]}" for i in range(n)]
        t = time.perf_counter()
        enc.encode(texts, batch_size=a.batch_size)
        plain = n / (time.perf_counter() - t)
        rows.append({"texts": n, "method": "plain encode loop", "actors": 1, "texts_per_s": plain,
                     "vs_plain": 1.0})
        for k in a.actors:
            t = time.perf_counter()
            _, stats = embed_texts(texts, path, dim=enc.dim, num_actors=k, batch_size=a.batch_size,
                                   cpus_per_actor=1)
            rate = n / (time.perf_counter() - t)
            rows.append({"texts": n, "method": "ray data", "actors": k, "texts_per_s": rate,
                         "vs_plain": rate / plain, "actors_used": len(stats.actors)})
    print(table(rows, ["texts", "method", "actors", "texts_per_s", "vs_plain"]))
    record(a.name, {"rows": rows, "args": vars(a)})


if __name__ == "__main__":
    main()
