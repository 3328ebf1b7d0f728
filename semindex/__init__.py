"""semindex: map short free text to canonical keys, and learn from feedback.

The library behind ``train_job.py`` (Ray training pipeline) and ``serve_app.py`` (Ray
Serve application). Importing it needs no Ray and loads no model.
"""

from __future__ import annotations

__version__ = "0.1.0"

from semindex.bundle import Bundle, load_bundle
from semindex.calibration import Thresholds, calibrate
from semindex.data import Canonical, Feedback, load_canonical, load_feedback, load_triplets
from semindex.encoder import HashEncoder, SentenceTransformerEncoder, load_encoder
from semindex.errors import (
    ConfigError,
    DataError,
    ModelLoadError,
    NotReady,
    SemindexError,
    StoreError,
    VersionNotFound,
)
from semindex.fill import fill
from semindex.index import KeyIndex, choose_index_type
from semindex.matcher import Decision, Matcher
from semindex.store import ModelStore

__all__ = [
    "Bundle", "Canonical", "ConfigError", "DataError", "Decision", "Feedback", "HashEncoder",
    "KeyIndex", "Matcher", "ModelLoadError", "ModelStore", "NotReady", "SemindexError",
    "SentenceTransformerEncoder", "StoreError", "Thresholds", "VersionNotFound", "__version__",
    "calibrate", "choose_index_type", "fill", "load_bundle", "load_canonical", "load_encoder",
    "load_feedback", "load_triplets",
]
