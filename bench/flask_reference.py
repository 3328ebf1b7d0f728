"""A reference server built like the seed's ml-service: Flask, one request at a time,
the same model and index, label>placeholder>name>id text, one global threshold.

    python bench/flask_reference.py --store model_store --port 8100
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--store", default="model_store")
    p.add_argument("--port", type=int, default=8100)
    a = p.parse_args()
    from flask import Flask, jsonify, request

    from semindex.bundle import load_bundle
    from semindex.store import ModelStore
    from semindex.text import field_text

    bundle = load_bundle(ModelStore(a.store).resolve("latest"))
    app = Flask(__name__)

    @app.post("/ml/classify")
    def classify():  # type: ignore[no-untyped-def]
        fields = (request.get_json(silent=True) or {}).get("fields") or []
        texts = [field_text(f, "precedence") or "" for f in fields]
        vecs = bundle.encoder.encode(texts)
        hits = bundle.index.search(vecs, 1)
        t = bundle.thresholds.global_
        matches = [{"selector": f.get("selector"), "key": h[0].key, "score": h[0].score}
                   for f, h in zip(fields, hits) if h and h[0].score >= t]
        return jsonify({"matches": matches, "model_version": bundle.name})

    app.run(host="127.0.0.1", port=a.port, threaded=False)


if __name__ == "__main__":
    main()
