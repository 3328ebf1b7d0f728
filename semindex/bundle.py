"""A loaded model version: encoder, index, thresholds, hints and manifest, together.

The service holds exactly one :class:`Bundle` reference; a reload builds a complete new
bundle and then replaces that reference, so a request never sees a mix of versions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from semindex.calibration import Thresholds
from semindex.encoder import Encoder, load_encoder
from semindex.errors import ModelLoadError
from semindex.hints import Hints, parse_hints
from semindex.index import KeyIndex
from semindex.text import normalize

THRESHOLDS_FILE = "thresholds.json"
HINTS_FILE = "hints.json"
MANIFEST_FILE = "manifest.json"
#: Reviewed texts and the keys a person rejected for them (optional: older versions lack it).
REJECTED_FILE = "rejected.json"

#: How a version's model is run: torch (sentence-transformers) or the int8 ONNX graph.
EncoderKind = Literal["torch", "onnx-int8"]


@dataclass(frozen=True)
class Bundle:
    name: str
    path: Path
    encoder: Encoder
    index: KeyIndex
    thresholds: Thresholds
    hints: Hints
    manifest: dict[str, Any]
    #: (normalised field text, key) pairs that a person rejected (:data:`REJECTED_FILE`).
    rejected: frozenset[tuple[str, str]] = frozenset()

    @property
    def text_mode(self) -> str:
        return str(self.manifest.get("config", {}).get("text_mode", "rich"))

    def summary(self) -> dict[str, Any]:
        m = self.manifest
        return {"version": self.name, "created_at": m.get("created_at"),
                "base_model": m.get("base_model"), "parent_version": m.get("parent_version"),
                "mode": m.get("mode"), "keys": len(self.index.keys), "vectors": self.index.size,
                "index_type": self.index.kind, "threshold": self.thresholds.global_,
                "metrics": m.get("metrics", {})}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelLoadError(f"{path}: missing") from exc
    except ValueError as exc:
        raise ModelLoadError(f"{path}: corrupt JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path}: expected a JSON object")
    return data


def load_bundle(path: str | Path, device: str = "cpu", encoder: Encoder | None = None,
                encoder_kind: EncoderKind = "torch") -> Bundle:
    """Load and check a version directory; raises :class:`ModelLoadError` on any defect.

    ``encoder`` may be given to reuse an already loaded model (evaluation of the same
    weights against another index). ``encoder_kind="onnx-int8"`` runs the version's
    exported int8 graph (``model/onnx-int8``, written when the job ran with
    ``onnx_int8: true``) instead of torch.
    """
    p = Path(path)
    if not p.is_dir():
        raise ModelLoadError(f"{p}: version directory not found")
    manifest = _read_json(p / MANIFEST_FILE)
    thresholds = Thresholds.from_json(_read_json(p / THRESHOLDS_FILE))
    if not (p / "model").is_dir():
        raise ModelLoadError(f"{p / 'model'}: model directory missing")
    if encoder is None and encoder_kind == "onnx-int8":
        from semindex.onnx_encoder import ONNX_DIR, OnnxEncoder

        if not (p / "model" / ONNX_DIR).is_dir():
            raise ModelLoadError(f"{p}: no ONNX int8 model (model/{ONNX_DIR}); build the version "
                                 "with the training setting onnx_int8: true")
        encoder = OnnxEncoder(p / "model" / ONNX_DIR)
    enc = encoder or load_encoder(str(p / "model"), device=device)
    index = KeyIndex.load(p, expected_dim=enc.dim)
    hints = Hints()
    if (p / HINTS_FILE).exists():
        try:
            hints = parse_hints(_read_json(p / HINTS_FILE), str(p / HINTS_FILE), index.keys)
        except Exception as exc:
            raise ModelLoadError(f"{p / HINTS_FILE}: {exc}") from exc
    return Bundle(p.name, p, enc, index, thresholds, hints, manifest, _load_rejected(p / REJECTED_FILE))


def _load_rejected(path: Path) -> frozenset[tuple[str, str]]:
    if not path.exists():
        return frozenset()
    rows = _read_json(path).get("rejected")
    if not isinstance(rows, list) or not all(
            isinstance(r, dict) and isinstance(r.get("text"), str) and isinstance(r.get("key"), str)
            for r in rows):
        raise ModelLoadError(f"{path}: 'rejected' must be a list of {{text, key}} objects")
    return frozenset((normalize(r["text"]), r["key"]) for r in rows)
