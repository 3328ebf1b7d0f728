"""Step 1: embed texts with Ray Data (an actor pool; the model loaded once per actor).

Unchanged texts are not embedded twice: vectors are cached as Parquet under
``<cache_dir>/<model fingerprint>/`` keyed by a hash of the text.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from semindex.errors import ConfigError

log = logging.getLogger(__name__)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class EmbedActor:
    """A Ray Data actor: loads the encoder once, embeds batches of ``{id, text}``."""

    def __init__(self, model_path: str, encode_batch_size: int = 64) -> None:
        import ray
        import torch

        from semindex.encoder import load_encoder

        ctx = ray.get_runtime_context()
        cpus = ctx.get_assigned_resources().get("CPU", 1.0)
        torch.set_num_threads(max(1, int(cpus)))
        # ray.get_gpu_ids, not torch.cuda.is_available: a CPU actor on a GPU node sees GPUs.
        self.device = "cuda" if ray.get_gpu_ids() else "cpu"
        self.encoder = load_encoder(model_path, device=self.device)
        self.node_id = ctx.get_node_id()
        self.actor_id = ctx.get_actor_id() or "driver"
        self.batch_size = encode_batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        texts = [str(t) for t in batch["text"]]
        vecs = self.encoder.encode(texts, batch_size=self.batch_size)
        return {"id": batch["id"], "embedding": vecs,
                "node_id": np.array([self.node_id] * len(texts)),
                "actor_id": np.array([self.actor_id] * len(texts)),
                "device": np.array([self.device] * len(texts))}


@dataclass
class EmbedStats:
    total: int = 0
    cached: int = 0
    computed: int = 0
    nodes: dict[str, int] = field(default_factory=dict)
    actors: dict[str, int] = field(default_factory=dict)
    devices: dict[str, int] = field(default_factory=dict)


def _write_vectors(path: Path, columns: dict[str, list[Any]], vectors: np.ndarray) -> None:
    """Write ``columns`` plus a fixed-size-list ``embedding`` column to Parquet atomically."""
    dim = vectors.shape[1] if vectors.ndim == 2 else 0
    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1))
    table = pa.table({**{k: pa.array(v) for k, v in columns.items()},
                      "embedding": pa.FixedSizeListArray.from_arrays(flat, dim)})
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    pq.write_table(table, tmp)
    tmp.replace(path)


def read_vectors(path: Path) -> tuple[pa.Table, np.ndarray]:
    table = pq.read_table(path)
    col = table.column("embedding").combine_chunks()
    dim = col.type.list_size
    vectors = col.flatten().to_numpy(zero_copy_only=False).reshape(-1, dim).astype(np.float32)
    return table, vectors


class EmbeddingCache:
    """Text-hash -> vector store for one model, as Parquet part files (append-only)."""

    def __init__(self, directory: Path | None) -> None:
        self.dir = directory
        self.vectors: dict[str, np.ndarray] = {}
        if directory is not None and directory.exists():
            for part in sorted(directory.glob("part-*.parquet")):
                try:
                    table, vecs = read_vectors(part)
                except Exception as exc:  # a corrupt cache part only costs recomputation
                    log.warning("ignoring unreadable cache file %s: %s", part, exc)
                    continue
                for h, v in zip(table.column("text_hash").to_pylist(), vecs, strict=True):
                    self.vectors[h] = v

    def add(self, hashes: list[str], vectors: np.ndarray) -> None:
        if self.dir is None or not hashes:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        _write_vectors(self.dir / f"part-{uuid.uuid4().hex}.parquet", {"text_hash": hashes}, vectors)
        for h, v in zip(hashes, vectors, strict=True):
            self.vectors[h] = v


def embed_texts(texts: list[str], model_path: str, *, dim: int, num_actors: int = 2,
                batch_size: int = 256, cpus_per_actor: float = 1.0, use_gpu: bool = False,
                cache_dir: Path | None = None) -> tuple[np.ndarray, EmbedStats]:
    """Embed ``texts`` (order kept) with a Ray Data actor pool; cached texts are skipped."""
    import ray

    stats = EmbedStats(total=len(texts))
    cache = EmbeddingCache(cache_dir)
    hashes = [text_hash(t) for t in texts]
    todo: dict[str, str] = {}
    for h, t in zip(hashes, texts, strict=True):
        if h not in cache.vectors and h not in todo:
            todo[h] = t
    stats.cached = len(texts) - sum(1 for h in hashes if h in todo)
    if todo:
        items = [{"id": i, "text": t} for i, t in enumerate(todo.values())]
        order = list(todo)
        n_actors = max(1, min(num_actors, len(items)))
        if use_gpu:
            # One GPU per actor: more actors than GPUs would wait for ever for the rest.
            gpus = int(ray.cluster_resources().get("GPU", 0))
            if gpus < 1:
                raise ConfigError("embed.use_gpu is set but the Ray cluster has no GPU")
            n_actors = min(n_actors, gpus)
        else:
            # Likewise for CPUs: the pool waited (wait_for_min_actors_s) for actors that
            # the cluster could not hold.
            fit = int(ray.cluster_resources().get("CPU", 0) // cpus_per_actor)
            if fit < n_actors:
                log.warning("embed.num_actors=%d of %g CPU each: the cluster holds %d; using %d",
                            num_actors, cpus_per_actor, fit, max(1, fit))
                n_actors = max(1, fit)
        # Start work only when the whole pool is up: otherwise the first actor to load its
        # model takes every block of a small job and the others idle.
        ray.data.DataContext.get_current().wait_for_min_actors_s = 600
        ds = ray.data.from_items(items, override_num_blocks=min(len(items), n_actors * 4)).map_batches(
            EmbedActor,
            fn_constructor_kwargs={"model_path": model_path},
            compute=ray.data.ActorPoolStrategy(size=n_actors, max_tasks_in_flight_per_actor=2),
            batch_size=max(1, min(batch_size, -(-len(items) // n_actors))),
            num_cpus=0 if use_gpu else cpus_per_actor,
            num_gpus=1 if use_gpu else 0,
            batch_format="numpy",
        )
        out = np.zeros((len(items), dim), dtype=np.float32)
        seen = np.zeros(len(items), dtype=bool)
        for batch in ds.iter_batches(batch_format="numpy", batch_size=None):
            ids = batch["id"].astype(np.int64)
            out[ids] = np.asarray(batch["embedding"], dtype=np.float32)
            seen[ids] = True
            for node, actor, device in zip(batch["node_id"], batch["actor_id"], batch["device"],
                                           strict=True):
                stats.nodes[str(node)] = stats.nodes.get(str(node), 0) + 1
                stats.actors[str(actor)] = stats.actors.get(str(actor), 0) + 1
                stats.devices[str(device)] = stats.devices.get(str(device), 0) + 1
        if not seen.all():
            raise RuntimeError(f"embedding lost {int((~seen).sum())} texts")
        stats.computed = len(items)
        cache.add(order, out)
        for h, v in zip(order, out, strict=True):
            cache.vectors[h] = v
    vectors = np.stack([cache.vectors[h] for h in hashes]) if texts else np.zeros((0, dim), np.float32)
    return vectors.astype(np.float32), stats


def write_embeddings(path: Path, keys: list[str], texts: list[str], vectors: np.ndarray) -> None:
    """The version's ``embeddings.parquet``: key, text and vector of every indexed synonym."""
    _write_vectors(path, {"id": list(range(len(texts))), "key": keys, "text": texts}, vectors)
