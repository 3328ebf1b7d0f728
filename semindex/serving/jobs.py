"""Training on demand: submit ``train_job.py`` with Ray's job submission API."""

from __future__ import annotations

import re
import shlex
import time
from datetime import datetime, timezone
from typing import Any

from semindex.config import Mode
from semindex.errors import NotReady, SemindexError
from semindex.serving.schemas import TrainIn
from semindex.serving.settings import Settings

_MODES = Mode.__args__  # type: ignore[attr-defined]
_VERSION = re.compile(r"version=(v\d{8}-\d{6}(?:-\d+)?)")
_EXCLUDES = [".venv", "model_store", "logs", ".git", "__pycache__", ".mypy_cache",
             ".ruff_cache", ".pytest_cache"]


def _client(settings: Settings) -> Any:
    from ray.job_submission import JobSubmissionClient

    try:
        return JobSubmissionClient(settings.args.dashboard_url)
    except Exception as exc:
        url = settings.args.dashboard_url
        raise NotReady(f"cannot reach the Ray dashboard at {url}: {exc}") from exc


def reload_url(train_url: str, configured: str | None = None) -> str:
    """The URL a training job POSTs its new version to: ``configured``, else ``/ml/reload``
    beside the ``/ml/train`` URL the request came in on (same scheme, host and prefix)."""
    if configured:
        return configured
    base = train_url.split("?", 1)[0].rstrip("/")
    if not base.endswith("/ml/train"):
        raise SemindexError(f"cannot derive the reload URL from {train_url!r}: set args.reload_url")
    return base[: -len("/ml/train")] + "/ml/reload"


def submit_training(settings: Settings, req: TrainIn, reload_to: str | None = None) -> str:
    """Submit ``train_job.py`` as a Ray job; with ``reload_to``, the job POSTs its promoted
    version there (with the admin token), as a job run by hand does with SEMINDEX_RELOAD_URL."""
    if req.mode not in _MODES:
        raise SemindexError(f"mode: {req.mode!r} is not one of {', '.join(_MODES)}")
    parts = ["python", "train_job.py", "--config", settings.args.train_config, "--mode", req.mode,
             "--model-store", settings.store_root]
    # The job learns from what this service's users confirmed and rejected.
    overrides = {"data.feedback_log": settings.feedback_log, **req.overrides}
    for key, value in overrides.items():
        if not re.fullmatch(r"[a-z_]+(\.[a-z_]+)*", key):
            raise SemindexError(f"overrides: invalid key {key!r}")
        parts += ["--set", f"{key}={value}"]
    env = {"HF_HUB_OFFLINE": "1"}
    if reload_to:
        env["SEMINDEX_RELOAD_URL"] = reload_to
    if settings.admin_token:
        env["SEMINDEX_ADMIN_TOKEN"] = settings.admin_token
    client = _client(settings)
    for attempt in range(15):
        try:
            job_id: str = client.submit_job(
                entrypoint=" ".join(shlex.quote(p) for p in parts),
                runtime_env={"working_dir": settings.project_dir, "excludes": _EXCLUDES,
                             "env_vars": env},
                metadata={"semindex": "train", "mode": req.mode})
            return job_id
        except RuntimeError as exc:  # the job agent starts a little after the dashboard
            if "No available agent" not in str(exc) or attempt == 14:
                raise NotReady(f"job submission failed: {exc}") from exc
            time.sleep(2)
    raise NotReady("job submission failed")


def training_status(settings: Settings, job_id: str) -> dict[str, Any]:
    client = _client(settings)
    try:
        info = client.get_job_info(job_id)
    except Exception as exc:
        from semindex.errors import VersionNotFound

        raise VersionNotFound(f"training job {job_id!r} not found") from exc

    def ts(ms: int | None) -> str | None:
        return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat() if ms else None

    status = str(info.status.value if hasattr(info.status, "value") else info.status)
    version = None
    if status in ("SUCCEEDED", "FAILED"):
        try:
            found = _VERSION.findall(client.get_job_logs(job_id))
            version = found[-1] if found else None
        except Exception:
            version = None
    return {"id": job_id, "status": status, "created_at": ts(info.start_time),
            "end_date": ts(info.end_time), "error_msg": info.message if status == "FAILED" else None,
            "version": version}
