"""Shared fixtures: a tiny canonical set, fake and real encoders, a Ray session."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from semindex.data import Canonical, parse_canonical
from semindex.encoder import HashEncoder
from semindex.hints import Hints, load_hints

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
SHARED_DATA = ROOT.parent / "shared" / "data"

TINY = {
    "first_name": ["First name", "Given name", "Forename"],
    "last_name": ["Last name", "Surname", "Family name"],
    "email": ["Email address", "E-mail"],
    "username": ["Username", "Login name"],
    "password": ["Password", "Confirm password"],
    "postal_code": ["Postal code", "ZIP code"],
    "date_of_birth": ["Date of birth", "Birthday"],
}


@pytest.fixture
def tiny() -> Canonical:
    return parse_canonical(TINY, "tiny")


@pytest.fixture
def sample_hints() -> Hints:
    return load_hints(SAMPLE / "canonical.hints.json")


@pytest.fixture
def hash_encoder() -> HashEncoder:
    return HashEncoder(64)


@pytest.fixture(scope="session")
def minilm():  # type: ignore[no-untyped-def]
    """The real packaged all-MiniLM-L6-v2, loaded once per test session."""
    from semindex.encoder import DEFAULT_BASE_MODEL, SentenceTransformerEncoder

    return SentenceTransformerEncoder(DEFAULT_BASE_MODEL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Recorder:
    """A real HTTP endpoint: records each POST (path, Authorization, JSON body) and answers
    with the next status of ``answers`` (200 once they run out)."""

    url: str
    seen: list[tuple[str, str | None, Any]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)


@contextmanager
def recording_endpoint(path: str = "/ml/reload") -> Iterator[Recorder]:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    rec = Recorder("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            rec.seen.append((self.path, self.headers.get("Authorization"),
                             json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
            code = rec.answers.pop(0) if rec.answers else 200
            self.send_response(code)
            self.end_headers()
            self.wfile.write(json.dumps({"ok": True} if code == 200 else {"error": "busy"}).encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rec.url = f"http://127.0.0.1:{server.server_port}{path}"
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def ray_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One local Ray for the whole session (never joins another cluster on the machine).

    Extra logical CPUs: on 2 cores, actor pools and replicas holding every CPU starve
    the tasks that feed them (see RAY_NOTES).
    """
    import ray

    if not ray.is_initialized():
        port = free_port()
        os.environ["SEMINDEX_TEST_METRICS_PORT"] = str(port)
        ray.init(address="local", num_cpus=8, num_gpus=0, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1"}}, _metrics_export_port=port)
    yield
    try:
        from ray import serve

        serve.shutdown()
    except Exception:
        pass
    ray.shutdown()
