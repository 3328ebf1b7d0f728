from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from semindex.errors import ConfigError
from semindex.serving.settings import ServeArgs, resolve_settings

ROOT = Path(__file__).resolve().parents[1]


def test_serve_yaml_args_are_typed() -> None:
    conf = yaml.safe_load((ROOT / "configs" / "serve.yaml").read_text())
    app = conf["applications"][0]
    assert app["import_path"] == "serve_app:app_builder"
    args = ServeArgs.model_validate(app["args"])
    assert args.num_replicas == 2 and args.max_batch_size == 16
    import serve_app

    assert serve_app.app_builder is not None


def test_unknown_arg_is_rejected() -> None:
    with pytest.raises(ValidationError, match="replicaz"):
        ServeArgs.model_validate({"replicaz": 3})
    with pytest.raises(ValidationError, match="service_name"):  # it goes into the store's SERVED file
        ServeArgs.model_validate({"service_name": "prod east"})
    assert ServeArgs.model_validate({"service_name": "prod-east.1"}).service_name == "prod-east.1"


def test_tokens_from_env_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_ADMIN", "from-env")
    s = resolve_settings(ServeArgs(admin_token_env="MY_ADMIN", log_dir=str(tmp_path)))
    assert s.admin_token == "from-env" and s.client_token is None
    assert s.feedback_log == str(tmp_path / "feedback.csv")
    f = tmp_path / "tok"
    f.write_text("from-file\n")
    assert resolve_settings(ServeArgs(admin_token_file=str(f))).admin_token == "from-file"
    f.write_text("")
    with pytest.raises(ConfigError, match="token file is empty"):
        resolve_settings(ServeArgs(admin_token_file=str(f)))


def test_a_log_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "logs").write_text("")
    with pytest.raises(ConfigError, match="logs: log_dir is not a directory"):
        resolve_settings(ServeArgs(log_dir=str(tmp_path / "logs")))


@pytest.mark.parametrize(("train_url", "configured", "expected"), [
    ("http://127.0.0.1:8000/ml/train", None, "http://127.0.0.1:8000/ml/reload"),
    ("https://forms.example:443/semindex/ml/train/?x=1", None, "https://forms.example:443/semindex/ml/reload"),
    ("http://127.0.0.1:8000/ml/train", "http://svc:8000/ml/reload", "http://svc:8000/ml/reload"),
])
def test_jobs_started_by_the_service_reload_it(train_url: str, configured: str | None,
                                               expected: str) -> None:
    from semindex.serving.jobs import reload_url

    assert reload_url(train_url, configured) == expected


def test_the_training_job_reload_notification_retries_a_busy_service() -> None:
    """A real HTTP server answers 409 (a reload in progress), then 200; a 422 is not retried."""
    from semindex.training.pipeline import notify
    from tests.conftest import recording_endpoint

    with recording_endpoint() as rec:
        url = rec.url
        rec.answers[:] = [409, 503, 200]
        assert notify(url, "tok", "v20260101-000000", 5, wait_s=0.01) == "reload answered 200 (try 3)"
        assert rec.seen == [("/ml/reload", "Bearer tok", {"version": "v20260101-000000"})] * 3
        rec.answers[:] = [422]
        assert notify(url, None, "v20260101-000000", 5, wait_s=0.01).startswith("reload failed: 422")
        rec.answers[:] = [409] * 2
        assert notify(url, None, "v20260101-000000", 5, attempts=2, wait_s=0.01).startswith(
            "reload failed: 409")
        assert rec.answers == []
    assert notify(url, None, "v20260101-000000", 5).startswith("reload failed")  # nobody listens
    assert notify(None, None, "v20260101-000000", 5) == "no reload URL configured"


@pytest.mark.parametrize(("origins", "ok"), [
    (["https://forms.example", "http://127.0.0.1:3000"], True), (["*"], True), ([], True),
    (["https://forms.example/"], False), (["forms.example"], False), (["https://a.example/app"], False),
])
def test_cors_origins_are_origins(origins: list[str], ok: bool) -> None:
    if ok:
        assert ServeArgs(cors_origins=origins).cors_origins == origins
    else:
        with pytest.raises(ValidationError, match="is not an origin"):
            ServeArgs(cors_origins=origins)


def test_a_store_that_cannot_record_the_served_version_still_serves(
        tmp_path: Path, tiny: Any) -> None:
    """The served-version marker is best effort: a store that cannot take it logs a warning
    and the replica goes on (a directory stands where the marker goes: root writes anywhere)."""
    import logging
    from types import SimpleNamespace

    from semindex.artifacts import build_local_version
    from semindex.encoder import HashEncoder
    from semindex.errors import StoreError
    from semindex.serving.app import SemindexService
    from semindex.store import SERVED, ModelStore

    store = ModelStore(tmp_path / "ms")
    name = build_local_version(store, tiny, "hash:16", HashEncoder(16))
    from semindex.serving.settings import ServeArgs

    replica = SimpleNamespace(store=store, settings=SimpleNamespace(store_root=str(store.root)),
                              args=ServeArgs(service_name="production"))
    record = SemindexService.func_or_class._record_served
    record(replica, name)
    assert store.served_names() == {"production": name}  # under the service's own name
    (store.root / SERVED).unlink()
    (store.root / SERVED).mkdir()
    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda rec: seen.append(rec.getMessage())  # type: ignore[method-assign]
    logging.getLogger("ray.serve").addHandler(handler)
    try:
        record(replica, name)  # no exception
    finally:
        logging.getLogger("ray.serve").removeHandler(handler)
    assert any("cannot record the served version" in m for m in seen)
    with pytest.raises(StoreError, match="cannot read the served version"):
        store.prune(keep=1)  # nothing is deleted while what is served cannot be known
