"""The ONNX Runtime int8 encoder against torch: speed and accuracy on ../shared/data.

    python bench/onnx_int8.py [--texts 5000] [--data ../shared/data]

Exports the packaged MiniLM to int8 ONNX (as ``onnx_int8: true`` in the job does), then,
with each encoder on the same texts: texts/s (batch 64, one process), the cosine between
the two encoders' vectors, and zero-shot quality on the forms and titles data: top-1
(the best key is the expected one, rows that have a key) and the matcher's accuracy at
the same uncalibrated thresholds.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench._common import record, table


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--texts", type=int, default=5000)
    p.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    a = p.parse_args()
    import numpy as np

    from semindex.artifacts import build_local_version
    from semindex.bundle import load_bundle
    from semindex.data import load_canonical, load_eval_rows
    from semindex.encoder import Encoder, SentenceTransformerEncoder, resolve_model_path
    from semindex.evaluation import score
    from semindex.hints import load_hints
    from semindex.matcher import Matcher
    from semindex.onnx_encoder import OnnxEncoder, export_int8
    from semindex.quality import predict
    from semindex.store import ModelStore

    root = Path(__file__).resolve().parents[1]
    path = resolve_model_path("packaged:all-MiniLM-L6-v2")
    work = Path(tempfile.mkdtemp(prefix="semindex-onnx-"))
    t = time.perf_counter()
    onnx_dir = export_int8(path, work / "onnx-int8")
    export_s = time.perf_counter() - t
    size_mb = sum(f.stat().st_size for f in onnx_dir.iterdir()) / 2**20
    encoders: dict[str, Encoder] = {"torch": SentenceTransformerEncoder(path),
                                    "onnx-int8": OnnxEncoder(onnx_dir)}

    data = Path(a.data)
    sets = {"forms": (data / "forms" / "dev.jsonl", data / "forms" / "canonical.json",
                      root / "data" / "sample" / "canonical.hints.json"),
            "titles": (data / "titles" / "esco_eval.jsonl", data / "titles" / "esco_canonical.json",
                       None)}
    texts: list[str] = []
    rows, vectors = [], {}
    for name, enc in encoders.items():
        row: dict[str, object] = {"encoder": name}
        for set_name, (eval_path, canon_path, hints_path) in sets.items():
            canon = load_canonical(canon_path)
            store = ModelStore(work / f"store-{name}-{set_name}")
            version = build_local_version(store, canon, path, enc,
                                          hints=load_hints(hints_path, canon.keys) if hints_path else None)
            matcher = Matcher(load_bundle(store.resolve(version), encoder=enc))
            labelled = load_eval_rows(eval_path)
            row[f"{set_name} accuracy"] = score(predict(matcher, labelled),
                                                [r.expected for r in labelled])["accuracy"]
            keyed = [r for r in labelled if r.expected is not None]
            hits = matcher.candidates(matcher.texts([r.field for r in keyed]))
            row[f"{set_name} top-1"] = float(np.mean([bool(h) and h[0].key == r.expected
                                                      for h, r in zip(hits, keyed, strict=True)]))
            if not texts:
                texts = [t for t in matcher.texts([r.field for r in labelled]) if t]
        sample = (texts * (a.texts // max(len(texts), 1) + 1))[:a.texts]
        enc.encode(sample[:64])  # warm-up
        t = time.perf_counter()
        vectors[name] = enc.encode(sample, batch_size=64)
        row["texts_per_s"] = len(sample) / (time.perf_counter() - t)
        rows.append(row)
    cos = (vectors["torch"] * vectors["onnx-int8"]).sum(axis=1)
    for row in rows:
        row["speed-up"] = float(row["texts_per_s"]) / float(rows[0]["texts_per_s"])  # type: ignore[arg-type]
    cols = ["encoder", "texts_per_s", "speed-up", "forms top-1", "forms accuracy",
            "titles top-1", "titles accuracy"]
    print(table(rows, cols))
    print(f"\nexport {export_s:.1f}s, int8 model {size_mb:.1f} MB; cosine torch vs int8: "
          f"mean {cos.mean():.4f}, min {cos.min():.4f} over {len(cos)} texts")
    record("onnx_int8", {"rows": rows, "export_s": export_s, "onnx_mb": size_mb,
                    "cosine_mean": float(cos.mean()), "cosine_min": float(cos.min()),
                    "texts": len(cos), "args": vars(a)})


if __name__ == "__main__":
    main()
