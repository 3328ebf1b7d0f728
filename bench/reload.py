"""Reload under load: failed requests, time until every replica serves the new version,
replica memory after repeated reloads.

    python bench/reload.py --store model_store --reloads 20
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench._common import record, table
from bench.serve_load import free_port, wait_ready


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--store", default="model_store")
    p.add_argument("--reloads", type=int, default=20)
    p.add_argument("--replicas", type=int, default=2)
    a = p.parse_args()
    import ray
    from ray import serve

    from semindex.serving.app import build_app
    from semindex.serving.settings import ServeArgs
    from semindex.store import ModelStore

    names = ModelStore(a.store).names()[-2:]
    if len(names) < 2:
        raise SystemExit("need at least two versions in the store")
    os.environ["SEMINDEX_BENCH_ADMIN"] = "bench"
    port = free_port()
    ray.init(address="local", num_cpus=6, include_dashboard=False, log_to_driver=False)
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(build_app(ServeArgs(model_store=a.store, num_replicas=a.replicas,
                                  admin_token_env="SEMINDEX_BENCH_ADMIN", log_dir="/tmp/semindex-bench")),
              name="semindex", route_prefix="/")
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, "/ml/health")
    results: list[int] = []
    stop = threading.Event()

    def load() -> None:
        c = httpx.Client(base_url=url, timeout=60)
        while not stop.is_set():
            try:
                results.append(c.post("/ml/classify", json={"fields": [{"label": "E-mail"}]}).status_code)
            except httpx.HTTPError:
                results.append(-1)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    rows = []
    http = httpx.Client(base_url=url, timeout=300, headers={"Authorization": "Bearer bench"})

    def rss() -> list[float]:
        reps = http.get("/ml/registry").json()["replicas"]
        return [r.get("rss_mb", float("nan")) for r in reps.values()]

    for i in range(a.reloads):
        target = names[i % 2]
        t = time.perf_counter()
        r = http.post("/ml/reload", json={"version": target})
        took = time.perf_counter() - t
        rows.append({"reload": i + 1, "status": r.status_code, "seconds_until_all_serve": took,
                     "replica_rss_mb": max(rss())})
        print(table(rows[-1:], list(rows[-1])), flush=True)
    stop.set()
    for t in threads:
        t.join()
    failed = sum(s != 200 for s in results)
    summary = {"requests": len(results), "failed": failed,
               "median_swap_s": sorted(r["seconds_until_all_serve"] for r in rows)[len(rows) // 2],
               "rss_first_mb": rows[0]["replica_rss_mb"], "rss_last_mb": rows[-1]["replica_rss_mb"]}
    print(summary)
    serve.shutdown()
    ray.shutdown()
    record("reload", {"rows": rows, "summary": summary, "args": vars(a)})


if __name__ == "__main__":
    main()
