"""Throughput and latency of /ml/classify under concurrency, vs the Flask reference.

Starts semindex (Ray Serve, local Ray) and the seed-like Flask server on loopback, both on
the same model store, and drives each with a bounded async load generator.

    python bench/serve_load.py --store model_store --concurrency 1 8 32 64 --fields 1 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench._common import record, table
from semindex.serving.settings import ServeArgs

BATCH = re.compile(r'batch;[^,]*desc="size (\d+)"')
LABELS = ["First name", "Last name", "E-mail", "Phone", "Street", "City", "Zip", "Country",
          "Company", "Job title", "Birthday", "Website", "Password", "Username", "State",
          "Address line 2", "Full name", "Mobile", "Postcode", "Coupon"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def drive(url: str, n_fields: int, concurrency: int, max_requests: int,
                max_seconds: float) -> dict[str, Any]:
    body = {"fields": [{"selector": f"#f{i}", "label": LABELS[i % len(LABELS)]} for i in range(n_fields)]}
    latencies: list[float] = []
    batches: list[int] = []  # requests per batch, from semindex's Server-Timing header
    errors = 0
    sent = 0
    deadline = time.perf_counter() + max_seconds
    async with httpx.AsyncClient(base_url=url, timeout=60,
                                 limits=httpx.Limits(max_connections=concurrency)) as client:
        async def worker() -> None:
            nonlocal sent, errors
            while sent < max_requests and time.perf_counter() < deadline:
                sent += 1
                t = time.perf_counter()
                try:
                    r = await client.post("/ml/classify", json=body)
                    ok = r.status_code == 200
                    m = BATCH.search(r.headers.get("server-timing", ""))
                    if m:
                        batches.append(int(m.group(1)))
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - t)
                errors += not ok

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    lat = sorted(latencies)

    def pct(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")

    return {"requests": len(lat), "errors": errors, "rps": len(lat) / elapsed, "p50_ms": pct(0.5),
            "p95_ms": pct(0.95), "p99_ms": pct(0.99),
            "mean_batch": sum(batches) / len(batches) if batches else None}


def wait_ready(url: str, path: str, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if httpx.get(url + path, timeout=5).status_code in (200, 405):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not become ready")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--store", default="model_store")
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64])
    p.add_argument("--fields", type=int, nargs="+", default=[1, 20])
    p.add_argument("--replicas", type=int, default=2)
    p.add_argument("--max-requests", type=int, default=400)
    p.add_argument("--max-seconds", type=float, default=20)
    p.add_argument("--batch-wait-s", type=float, default=ServeArgs().batch_wait_timeout_s,
                   help="the service's batch_wait_timeout_s (default: the service's default)")
    p.add_argument("--name", default="serve_load")
    a = p.parse_args()
    import ray
    from ray import serve

    from semindex.serving.app import build_app

    sport, fport = free_port(), free_port()
    ray.init(address="local", num_cpus=6, include_dashboard=False, log_to_driver=False)
    serve.start(http_options={"host": "127.0.0.1", "port": sport})
    serve.run(build_app(ServeArgs(model_store=a.store, num_replicas=a.replicas, log_dir="/tmp/semindex-bench",
                                  max_batch_size=32, max_ongoing_requests=128,
                                  batch_wait_timeout_s=a.batch_wait_s)), name="semindex",
              route_prefix="/")
    flask = subprocess.Popen([sys.executable, str(Path(__file__).parent / "flask_reference.py"),
                              "--store", a.store, "--port", str(fport)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        wait_ready(f"http://127.0.0.1:{sport}", "/ml/health")
        wait_ready(f"http://127.0.0.1:{fport}", "/ml/classify")
        for n_fields in a.fields:
            for c in a.concurrency:
                for name, url in (("semindex", f"http://127.0.0.1:{sport}"),
                                  ("flask-seed", f"http://127.0.0.1:{fport}")):
                    r = asyncio.run(drive(url, n_fields, c, a.max_requests, a.max_seconds))
                    rows.append({"server": name, "fields": n_fields, "concurrency": c,
                                 "batch_wait_ms": a.batch_wait_s * 1000 if name == "semindex" else None,
                                 **r})
                    print(table(rows[-1:], list(rows[-1])), flush=True)
                base = rows[-1]["rps"]
                rows[-2]["rps_ratio_vs_flask"] = rows[-2]["rps"] / base if base else float("nan")
    finally:
        flask.terminate()
        serve.shutdown()
        ray.shutdown()
    print()
    print(table(rows, ["server", "fields", "concurrency", "batch_wait_ms", "requests", "errors", "rps",
                       "p50_ms", "p95_ms", "p99_ms", "mean_batch", "rps_ratio_vs_flask"]))
    record(a.name, {"rows": rows, "args": vars(a)})


if __name__ == "__main__":
    main()
