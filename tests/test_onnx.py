"""The int8 ONNX encoder: export of the real model, same vector space, served when configured."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from semindex.artifacts import build_local_version
from semindex.bundle import load_bundle
from semindex.data import Canonical
from semindex.encoder import SentenceTransformerEncoder, resolve_model_path
from semindex.errors import ModelLoadError
from semindex.matcher import Matcher
from semindex.onnx_encoder import ONNX_DIR, OnnxEncoder, export_int8, pool
from semindex.serving.state import load_served
from semindex.store import ModelStore

pytest.importorskip("onnxruntime")

FIELDS = ["E-mail address", "Vorname", "Postleitzahl", "Mot de passe", "Street and house number",
          "Search this site", "Phone (mobile)"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_int8(resolve_model_path("packaged:all-MiniLM-L6-v2"),
                       tmp_path_factory.mktemp("onnx") / ONNX_DIR)


def test_pool_masks_padding() -> None:
    hidden = np.array([[[1.0, 0.0], [3.0, 0.0], [100.0, 100.0]]], dtype=np.float32)
    mask = np.array([[1, 1, 0]])
    assert pool(hidden, mask, "mean", False).tolist() == [[2.0, 0.0]]
    assert pool(hidden, mask, "cls", True).tolist() == [[1.0, 0.0]]


def test_int8_vectors_match_torch(exported: Path) -> None:
    torch_vecs = SentenceTransformerEncoder(resolve_model_path("packaged:all-MiniLM-L6-v2")).encode(FIELDS)
    enc = OnnxEncoder(exported)
    vecs = enc.encode(FIELDS, batch_size=3)  # several batches with different padding
    assert vecs.shape == torch_vecs.shape and enc.dim == 384
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    cos = (vecs * torch_vecs).sum(axis=1)
    assert cos.min() > 0.97, cos
    assert not (exported.parent / f".{ONNX_DIR}").exists()  # nothing left of the temp dir


def test_onnx_version_served_only_when_configured(tmp_path: Path, exported: Path, tiny: Canonical) -> None:
    store = ModelStore(tmp_path / "ms")
    path = resolve_model_path("packaged:all-MiniLM-L6-v2")
    plain = build_local_version(store, tiny, path, SentenceTransformerEncoder(path))
    with pytest.raises(ModelLoadError, match="no ONNX int8 model"):
        load_served(store, plain, "onnx-int8")
    assert load_served(store, plain).bundle.encoder.__class__.__name__ == "SentenceTransformerEncoder"

    # A version that carries the graph (as the job writes it with onnx_int8: true).
    name = build_local_version(store, tiny, path, OnnxEncoder(exported))
    import shutil

    shutil.copytree(exported, store.resolve(name) / "model" / ONNX_DIR)
    served = load_served(store, name, "onnx-int8")
    assert isinstance(served.bundle.encoder, OnnxEncoder)
    torch_matcher = Matcher(load_bundle(store.resolve(name)))
    fields = [{"label": "E-mail address"}, {"label": "Surname"}, {"name": "user_zip_code"}]
    assert [d.key for d in served.matcher.classify(fields)] == [
        d.key for d in torch_matcher.classify(fields)] == ["email", "last_name", "postal_code"]
