from __future__ import annotations

from pathlib import Path

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
