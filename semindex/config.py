"""Typed configuration, parsed once at the edge (YAML + documented overrides).

Environment overrides (the only place semindex reads the environment for settings):

=====================  ==============================
``MIN_ACCURACY``       ``gate.min_accuracy`` (default 0.8)
``MIN_PRECISION``      ``gate.min_precision`` (default 0: no floor)
``BASE_MODEL``         ``base_model``
``SEMINDEX_RELOAD_URL``  ``notify.reload_url``
``SEMINDEX_ADMIN_TOKEN`` ``notify.token``
``SEMINDEX_MODEL_STORE`` ``model_store``
``SEMINDEX_FEEDBACK_LOG`` ``data.feedback_log``
=====================  ==============================
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from semindex.data import read_text
from semindex.encoder import DEFAULT_BASE_MODEL
from semindex.errors import ConfigError, DataError

Mode = Literal["smoke-test", "build-index", "build-index-feedback", "full-train"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Strict):
    canonical: str = "data/sample/canonical.json"
    hints: str | None = "data/sample/canonical.hints.json"
    feedback: str | None = "data/sample/feedback.csv"
    #: The service's feedback log (``logs/feedback.csv``), read after ``feedback``: its rows
    #: are the most recent. ``POST /ml/train`` sets it to the log of the service that calls.
    feedback_log: str | None = None
    unknowns: str | None = "data/sample/unknowns.txt"
    eval_file: str | None = None
    strict_feedback: bool = False

    @field_validator("hints", "feedback", "feedback_log", "unknowns", "eval_file", mode="before")
    @classmethod
    def _no_file(cls, value: Any) -> Any:
        """``--set data.hints=null`` (or ``none``, or nothing) means no file. A path that
        names no file is an error when it is read (hints, unknowns); a missing feedback
        file is only a warning: no feedback yet."""
        return None if isinstance(value, str) and value.strip().lower() in ("", "null", "none") else value


class EmbedConfig(_Strict):
    num_actors: int = Field(2, ge=1)
    batch_size: int = Field(256, ge=1)
    cpus_per_actor: float = Field(1.0, gt=0)
    use_gpu: bool | Literal["auto"] = "auto"
    cache: bool = True


class TrainConfig(_Strict):
    epochs: int = Field(3, ge=1)
    batch_size: int = Field(16, ge=2)
    learning_rate: float = Field(1e-4, gt=0)
    margin: float = Field(0.5, gt=0)
    num_workers: int = Field(1, ge=1)
    use_gpu: bool = False
    cpus_per_worker: float = Field(2.0, gt=0)
    placement_strategy: Literal["PACK", "SPREAD", "STRICT_SPREAD"] = "PACK"
    storage_path: str | None = Field(None, description="Ray Train storage; shared storage on a cluster")
    validation_fraction: float = Field(0.15, ge=0, lt=1)
    early_stopping_patience: int = Field(2, ge=1)
    seed: int = 42
    hard_negatives: int = Field(2, ge=1)
    synonym_anchors: bool = True
    weight_mix: float = Field(0.3, gt=0, le=1, description="the fine-tuned weights' share in the "
                              "model kept, the rest the base model's (WiSE-FT); 1: the "
                              "fine-tuned model as trained")
    min_selection_examples: int = Field(20, ge=1, description="held-out feedback rows needed to "
                                        "compare the fine-tuned and base models (fewer: keep "
                                        "the fine-tune)")


class CalibrationConfig(_Strict):
    precision_floor: float = Field(0.9, gt=0, le=1)
    min_key_examples: int = Field(5, ge=1, description="examples a key needs for a threshold "
                                  "of its own (shrunk towards the global one)")
    key_prior_weight: float = Field(30.0, ge=0, description="how many examples the global "
                                    "threshold counts as when a key's own threshold is shrunk "
                                    "towards it")
    resamples: int = Field(2000, ge=0, description="bootstrap resamples the global threshold "
                           "is averaged over (0: the single best cut)")
    default_threshold: float = Field(0.55, ge=0, le=1)
    lexical_threshold: float = Field(0.92, ge=0, le=1)
    #: Index the calibration split's confirmed feedback and unknowns as well, and calibrate
    #: leave-one-out (each text scored without its own example): every reviewed text then
    #: serves as an example and as calibration evidence. Training never sees them.
    leave_one_out: bool = True


class SplitConfig(_Strict):
    calibration_fraction: float = Field(0.25, ge=0, lt=1)
    eval_fraction: float = Field(0.25, ge=0, lt=1)


class GateConfig(_Strict):
    """What a new version must show on the evaluation split to be promoted."""

    min_accuracy: float = Field(0.8, ge=0, le=1)
    #: how far accuracy may fall below the current latest's on the same rows
    tolerance: float = Field(0.01, ge=0, le=1)
    #: precision of accepted matches: a wrong fill costs the user more than an empty one
    min_precision: float = Field(0.0, ge=0, le=1)
    #: how far precision may fall below the current latest's (one wrong accept of 50 is 0.02)
    precision_tolerance: float = Field(0.03, ge=0, le=1)


class NotifyConfig(_Strict):
    reload_url: str | None = None
    token: str | None = None
    timeout_s: float = 30.0


class JobConfig(_Strict):
    """Everything ``train_job.py`` needs; see ``configs/train.yaml``."""

    mode: Mode = "full-train"
    model_store: str = "model_store"
    base_model: str = DEFAULT_BASE_MODEL
    text_mode: Literal["precedence", "rich"] = "rich"
    # the same defaults as semindex.index.DEFAULT_EXACT_MAX / DEFAULT_EF_SEARCH (not imported:
    # that would load FAISS to parse a config; tests/test_index.py checks they agree)
    index_exact_max: int = Field(20_000, ge=1)
    index_ef_search: int = Field(256, ge=1, le=4096, description="HNSW efSearch (indexes above "
                                 "index_exact_max vectors): higher is slower and finds more")
    ray_address: str | None = None
    onnx_int8: bool = Field(False, description="also write the model as an int8 ONNX graph "
                            "(model/onnx-int8) for serving with encoder: onnx-int8")
    data: DataConfig = Field(default_factory=DataConfig)
    embed: EmbedConfig = Field(default_factory=EmbedConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    calibration: CalibrationConfig = Field(default_factory=CalibrationConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    gate: GateConfig = Field(default_factory=GateConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)


ENV_OVERRIDES = {
    "MIN_ACCURACY": ("gate", "min_accuracy"),
    "MIN_PRECISION": ("gate", "min_precision"),
    "BASE_MODEL": ("base_model",),
    "SEMINDEX_RELOAD_URL": ("notify", "reload_url"),
    "SEMINDEX_ADMIN_TOKEN": ("notify", "token"),
    "SEMINDEX_MODEL_STORE": ("model_store",),
    "SEMINDEX_FEEDBACK_LOG": ("data", "feedback_log"),
}


def parse_overrides(items: list[str]) -> dict[str, str]:
    """``--set section.field=value`` items as an overrides mapping for :func:`load_job_config`."""
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def _set(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = tree
    for part in path[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {'.'.join(path)}: {part} is not a section")
    node[path[-1]] = value


def load_job_config(path: str | Path | None, *, overrides: Mapping[str, Any] | None = None,
                    environ: Mapping[str, str] | None = None) -> JobConfig:
    """Read the YAML, apply environment then command-line overrides, validate once.

    ``overrides`` maps dotted names (``gate.min_accuracy``) to values; values from the
    command line are strings and pydantic converts them.
    """
    raw: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            loaded = yaml.safe_load(read_text(p, "config file"))
        except DataError as exc:  # missing, or not UTF-8
            raise ConfigError(str(exc)) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}: " if mark is not None else ""
            raise ConfigError(f"{p}: {where}invalid YAML: {exc}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{p}: top level must be a mapping")
        raw = loaded or {}
    for var, dest in ENV_OVERRIDES.items():
        if environ is not None and environ.get(var):
            _set(raw, dest, environ[var])
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set(raw, tuple(dotted.split(".")), value)
    try:
        return JobConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path or '<config>'}: {problems}") from exc
