"""Writing the parts of a model version into its (staging) directory."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from semindex import __version__
from semindex.atomic import write_json
from semindex.bundle import HINTS_FILE, MANIFEST_FILE, REJECTED_FILE, THRESHOLDS_FILE
from semindex.calibration import Thresholds
from semindex.data import Canonical, SynonymRecord, unknown_records
from semindex.encoder import HASH_MARKER, Encoder
from semindex.hints import Hints
from semindex.index import DEFAULT_EF_SEARCH, DEFAULT_EXACT_MAX, KeyIndex
from semindex.store import ModelStore


def copy_model(source: str, dest: Path) -> None:
    """Copy a model directory into the version (``model/``); fakes write their marker."""
    if source.startswith("hash:"):
        dest.mkdir(parents=True, exist_ok=True)
        (dest / HASH_MARKER).write_text(f'{{"dim": {int(source.split(":", 1)[1])}}}\n')
        return
    src = Path(source)
    if not src.is_dir():
        raise FileNotFoundError(f"{source}: model directory not found")
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("*.lock", ".cache", "__pycache__"))


def write_version(directory: Path, *, records: list[SynonymRecord], vectors: np.ndarray,
                  thresholds: Thresholds, hints: Hints, metrics: dict[str, Any],
                  manifest: dict[str, Any], index_exact_max: int = DEFAULT_EXACT_MAX,
                  index_ef_search: int = DEFAULT_EF_SEARCH,
                  rejected: Sequence[tuple[str, str]] = ()) -> KeyIndex:
    """Build the index and write every artifact except ``model/`` into ``directory``;
    ``rejected``: (field text, key) pairs a person rejected."""
    index = KeyIndex.build(records, vectors, exact_max=index_exact_max, ef_search=index_ef_search)
    index.save(directory)
    write_json(directory / REJECTED_FILE,
               {"rejected": [{"text": t, "key": k} for t, k in sorted(set(rejected))]})
    write_descriptors(directory, index, thresholds=thresholds, hints=hints, metrics=metrics,
                      manifest=manifest)
    return index


def write_descriptors(directory: Path, index: KeyIndex, *, thresholds: Thresholds, hints: Hints,
                      metrics: dict[str, Any], manifest: dict[str, Any]) -> None:
    """(Re)write the JSON parts of a version whose index is already saved."""
    write_json(directory / THRESHOLDS_FILE, thresholds.to_json())
    write_json(directory / HINTS_FILE, hints.to_json())
    write_json(directory / "metrics.json", metrics)
    full = {"name": directory.name, "created_at": datetime.now(timezone.utc).isoformat(),
            "semindex_version": __version__, "index_type": index.kind,
            **({"ef_search": index.ef_search} if index.ef_search is not None else {}),
            "vectors": index.size, "keys": len(index.keys), **manifest}
    write_json(directory / MANIFEST_FILE, full)


def build_local_version(store: ModelStore | Any, canonical: Canonical, model_source: str, encoder: Encoder, *,
                        thresholds: Thresholds | None = None, hints: Hints | None = None,
                        promote: bool = True, manifest: dict[str, Any] | None = None,
                        unknowns: Sequence[str] = (), rejected: Sequence[tuple[str, str]] = ()) -> str:
    """Build a version in-process (no Ray): for tests, benchmarks and tiny vocabularies.

    The training job does the same through Ray Data and Ray Train; this path embeds with
    the given ``encoder`` directly. ``unknowns`` are indexed as known-unknown examples;
    ``rejected`` are (field text, key) pairs a person rejected.
    """
    records = canonical.records()
    records += unknown_records(unknowns, records)
    vectors = encoder.encode([r.synonym for r in records])
    with store.create() as (name, staging):
        copy_model(model_source, staging / "model")
        write_version(staging, records=records, vectors=vectors,
                      thresholds=thresholds or Thresholds(), hints=hints or Hints(),
                      metrics={}, manifest={"mode": "local", "base_model": model_source,
                                            "parent_version": store.latest_name(),
                                            **(manifest or {})},
                      rejected=rejected)
    if promote:
        store.promote(name, reason="local build")
    return name
