"""Typed settings of the Serve application (the ``args:`` of ``configs/serve.yaml``)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from semindex.bundle import EncoderKind
from semindex.errors import ConfigError
from semindex.store import DEFAULT_SERVICE, SERVICE_RE


class ServeArgs(BaseModel):
    """Arguments of the application builder; every field can be set under ``args:``."""

    model_config = ConfigDict(extra="forbid")

    model_store: str = "model_store"
    num_replicas: int | str = Field(1, description="an int, or 'auto' to use autoscaling_config")
    min_replicas: int = 1
    max_replicas: int = 4
    target_ongoing_requests: float = 8
    replica_cpus: float = Field(0.5, gt=0, description="fractional so replicas never starve jobs")
    max_ongoing_requests: int = 64
    max_batch_size: int = Field(16, ge=1)
    batch_wait_timeout_s: float = Field(0.005, ge=0, description="how long a batch waits for "
                                        "more requests; only while others are in flight")
    admin_token_env: str = "SEMINDEX_ADMIN_TOKEN"
    admin_token_file: str | None = None
    client_token_env: str = "SEMINDEX_CLIENT_TOKEN"
    client_token_file: str | None = None
    log_dir: str = "logs"
    max_fields: int = Field(200, ge=1)
    max_text_length: int = Field(2000, ge=1)
    max_body_bytes: int = Field(1_000_000, ge=1)
    poll_interval_s: float = Field(0.5, gt=0)
    reload_timeout_s: float = Field(180, gt=0)
    service_name: str = Field(DEFAULT_SERVICE, pattern=SERVICE_RE.pattern,
                              description="the name this service records its served version "
                              "under in the store (services that share a store need their own)")
    dashboard_url: str = "http://127.0.0.1:8265"
    reload_url: str | None = Field(None, description="where a job started by POST /ml/train "
                                   "tells this service to reload (default: the /ml/reload beside "
                                   "the /ml/train URL the request came in on)")
    train_config: str = "configs/train.yaml"
    project_dir: str = "."
    cors_origins: list[str] = Field(default_factory=list, description="origins a browser may "
                                    "call the service from (https://forms.example), or ['*']; "
                                    "none by default")
    replica_resources: dict[str, float] = Field(default_factory=dict,
                                                description="custom resources to pin replicas")
    encoder: EncoderKind = Field("torch", description="torch, or onnx-int8: the version's int8 "
                                 "ONNX graph (CPU fast path; the job writes it with onnx_int8)")

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin != "*" and not re.fullmatch(r"https?://[^/\s]+", origin):
                raise ValueError(f"{origin!r} is not an origin: expected '*' or "
                                 "scheme://host[:port], no path")
        return value


class Settings(BaseModel):
    """What a replica needs: the args with tokens resolved and paths made absolute."""

    args: ServeArgs
    store_root: str
    admin_token: str | None
    client_token: str | None
    decision_log: str
    feedback_log: str
    project_dir: str


def _token(env_name: str, file: str | None) -> str | None:
    if file:
        try:
            value = Path(file).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{file}: cannot read token file: {exc}") from exc
        if not value:
            raise ConfigError(f"{file}: token file is empty")
        return value
    return os.environ.get(env_name) or None


def resolve_settings(args: ServeArgs) -> Settings:
    """Resolve tokens (environment or secret file) and paths, once, in the builder."""
    log_dir = Path(args.log_dir).expanduser().resolve()
    if log_dir.exists() and not log_dir.is_dir():
        raise ConfigError(f"{log_dir}: log_dir is not a directory")
    store = args.model_store
    store_root = store if "://" in store else str(Path(store).expanduser().resolve())
    return Settings(args=args, store_root=store_root,
                    admin_token=_token(args.admin_token_env, args.admin_token_file),
                    client_token=_token(args.client_token_env, args.client_token_file),
                    decision_log=str(log_dir / "decisions.csv"),
                    feedback_log=str(log_dir / "feedback.csv"),
                    project_dir=str(Path(args.project_dir).expanduser().resolve()))
