"""The main job on the bundled sample data, end to end on a local Ray.

Trains a version (``full-train``), starts the Serve application, classifies and fills the
sample form over HTTP, prints the result and stops. ``python -m semindex.demo --help``.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import socket
import sys
import time
from pathlib import Path
from typing import Any

FORM = Path("data/sample/form.json")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="configs/train.yaml")
    parser.add_argument("--model-store", default="model_store")
    parser.add_argument("--mode", default="full-train")
    parser.add_argument("--form", default=str(FORM))
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import httpx
    import ray
    from ray import serve

    from semindex.config import load_job_config
    from semindex.data import read_json
    from semindex.errors import SemindexError
    from semindex.serving.app import build_app
    from semindex.serving.settings import ServeArgs
    from semindex.training.pipeline import run

    try:
        form: dict[str, Any] = read_json(args.form, "form file")  # before minutes of training
        cfg = load_job_config(args.config, overrides={"model_store": args.model_store, "mode": args.mode},
                              environ=os.environ)
        summary = run(cfg)  # starts the local Ray that Serve then runs on
    except SemindexError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary.table())

    token = secrets.token_urlsafe(16)
    os.environ["SEMINDEX_DEMO_ADMIN_TOKEN"] = token
    port = _free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(build_app(ServeArgs(model_store=args.model_store, num_replicas=1,
                                  admin_token_env="SEMINDEX_DEMO_ADMIN_TOKEN", log_dir="logs")),
              name="semindex", route_prefix="/")
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)
    if not summary.promoted and summary.version:
        print(f"\nnote: {summary.version} was not promoted ({summary.reason});"
              " serving it explicitly for this demo via POST /ml/reload")
        r = http.post("/ml/reload", json={"version": summary.version},
                      headers={"Authorization": f"Bearer {token}"})
        print(f"reload: {r.status_code} {r.text}")
    deadline = time.time() + 120
    while http.get("/ml/health").status_code != 200 and time.time() < deadline:
        time.sleep(0.5)
    out = http.post("/ml/classify", json={"fields": form["fields"], "form": form.get("form")}).json()
    by_sel = {f["selector"]: f for f in form["fields"]}
    # the accepted matches, and the ambiguous ones ("Email or username"): fill may answer those
    matches = [{**{k: m[k] for k in ("selector", "key", "text", "alternatives", "either")},
                **{k: by_sel[m["selector"]][k] for k in ("type", "options", "placeholder", "maxlength")
                   if k in by_sel[m["selector"]]}}
               for m in out["matches"] + [r for r in out["rejected"] if r["alternatives"]]]
    fills = http.post("/ml/fill", json={"user_profile": form["user_profile"], "matches": matches}).json()
    values = {f["selector"]: f for f in fills["fills"]}
    print(f"\nsample form classified by {out['model_version']} on http://127.0.0.1:{port}")
    print(f"{'selector':10} {'text':34} {'key':14} {'score':>6} {'reason':16} value")
    for d in out["matches"] + out["rejected"]:
        v = values.get(d["selector"], {})
        key = d["key"] if d["accepted"] else f"({d['key']})"
        status = f" ({v['status']})" if v.get("status") not in (None, "filled") else ""
        print(f"{d['selector']:10} {d['text'][:34]:34} {key!s:14} {d['score']:6.2f} {d['reason']:16} "
              f"{v.get('value', '')}{status}")
    serve.shutdown()
    ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
