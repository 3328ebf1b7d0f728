"""The semindex Ray Serve application.

    serve run configs/serve.yaml            # or: serve deploy configs/serve.yaml
    python serve_app.py --port 8000         # convenience: local Ray + Serve, blocks

``app_builder`` is the import path used by the YAML; it takes typed ``args:``
(:class:`semindex.serving.settings.ServeArgs`).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from semindex.serving.app import build_app
from semindex.serving.settings import ServeArgs


def app_builder(args: ServeArgs) -> object:
    return build_app(args)


def main() -> None:
    parser = argparse.ArgumentParser(description="Run semindex on a local Ray (blocks).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model-store", default="model_store")
    parser.add_argument("--replicas", type=int, default=1)
    args = parser.parse_args()
    import ray
    from ray import serve

    ray.init(address=os.environ.get("RAY_ADDRESS") or "local",
             num_cpus=max(4, (os.cpu_count() or 2) + 2))
    serve.start(http_options={"host": args.host, "port": args.port})
    serve.run(build_app(ServeArgs(model_store=args.model_store, num_replicas=args.replicas)),
              name="semindex", route_prefix="/")
    print(f"semindex serving on http://{args.host}:{args.port} (docs at /docs); Ctrl-C stops")
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
