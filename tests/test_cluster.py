"""Scale-out on one machine: ``ray.cluster_utils.Cluster`` with a head and two worker nodes.

Runs before the other Ray tests (file order) and shuts its cluster down afterwards, so the
session's single-node Ray starts fresh.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from semindex.config import load_job_config
from semindex.encoder import resolve_model_path
from semindex.store import ModelStore
from semindex.training.embedding import embed_texts
from semindex.training.pipeline import run
from tests.conftest import free_port

pytestmark = pytest.mark.ray
ROOT = Path(__file__).resolve().parents[1]
ADMIN = "cluster-admin"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    import ray
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    workers = [c.add_node(num_cpus=2, resources={"serve_slot": 1}) for _ in range(2)]
    ray.init(address=c.address, runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1"}}, log_to_driver=False)
    c.wait_for_nodes()
    c.workers = workers  # type: ignore[attr-defined]
    yield c
    try:
        from ray import serve

        serve.shutdown()
    except Exception:
        pass
    ray.shutdown()
    c.shutdown()


def test_embedding_spreads_over_nodes(cluster: Any) -> None:
    texts = [f"text number {i}" for i in range(400)]
    vecs, stats = embed_texts(texts, resolve_model_path("packaged:all-MiniLM-L6-v2"), dim=384,
                              num_actors=3, batch_size=32)
    assert vecs.shape == (400, 384)
    assert len(stats.nodes) >= 2  # node ids of the actors that did the work
    assert sum(stats.nodes.values()) == stats.computed == 400  # each text embedded once


@pytest.fixture(scope="module")
def trained_store(cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[ModelStore, str]:
    store_dir = tmp_path_factory.mktemp("cluster") / "model_store"
    cfg = load_job_config(ROOT / "configs" / "train.yaml", environ={}, overrides={
        "mode": "full-train", "model_store": str(store_dir), "train.epochs": "1",
        "train.num_workers": "2", "train.cpus_per_worker": "1",
        "train.placement_strategy": "STRICT_SPREAD",
        "gate.min_accuracy": "0", "data.canonical": str(ROOT / "data/sample/canonical.json"),
        "data.hints": str(ROOT / "data/sample/canonical.hints.json"),
        "data.feedback": str(ROOT / "data/sample/feedback.csv"),
        "data.unknowns": str(ROOT / "data/sample/unknowns.txt")})
    summary = run(cfg)
    assert summary.version is not None
    return ModelStore(store_dir), summary.version


def test_two_worker_train_on_two_nodes(trained_store: tuple[ModelStore, str]) -> None:
    import json

    store, version = trained_store
    metrics = json.loads((store.resolve(version) / "metrics.json").read_text())
    nodes = metrics["train"]["worker_nodes"]
    assert len(nodes) == 2 and len(set(nodes)) == 2


def test_serving_across_nodes_survives_a_lost_node(cluster: Any, trained_store: tuple[ModelStore, str],
                                                   tmp_path: Path) -> None:
    import os

    from ray import serve

    from semindex.artifacts import build_local_version
    from semindex.calibration import Thresholds
    from semindex.data import load_canonical
    from semindex.encoder import SentenceTransformerEncoder
    from semindex.serving.app import build_app
    from semindex.serving.settings import ServeArgs

    store, trained = trained_store
    other = build_local_version(store, load_canonical(ROOT / "data/sample/canonical.json"),
                                resolve_model_path("packaged:all-MiniLM-L6-v2"),
                                SentenceTransformerEncoder("packaged:all-MiniLM-L6-v2"),
                                thresholds=Thresholds(0.55), promote=False)
    store.promote(trained)
    os.environ["SEMINDEX_CLUSTER_ADMIN"] = ADMIN
    port = free_port()
    serve.start(proxy_location="HeadOnly", http_options={"host": "127.0.0.1", "port": port})
    serve.run(build_app(ServeArgs(model_store=str(store.root), num_replicas=2, log_dir=str(tmp_path),
                                  admin_token_env="SEMINDEX_CLUSTER_ADMIN", replica_cpus=0.5,
                                  replica_resources={"serve_slot": 1})),
              name="semindex", route_prefix="/")
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
    auth = {"Authorization": f"Bearer {ADMIN}"}

    def replicas() -> dict[str, Any]:
        out: dict[str, Any] = http.get("/ml/registry", headers=auth).json()["replicas"]
        return out

    deadline = time.time() + 120
    while len(replicas()) < 2:
        assert time.time() < deadline
        time.sleep(0.5)
    assert len({r["node"] for r in replicas().values()}) == 2  # one replica per worker node
    ok = http.post("/ml/classify", json={"fields": [{"label": "E-mail", "type": "email"}]})
    assert ok.status_code == 200 and ok.json()["matches"][0]["key"] == "email"

    r = http.post("/ml/reload", json={"version": other}, headers=auth)
    assert r.status_code == 200 and len(r.json()["replicas"]) == 2  # both nodes swapped
    assert {s["serving"] for s in replicas().values()} == {other}

    results: list[int] = []
    stop = threading.Event()

    def load() -> None:
        c = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        while not stop.is_set():
            try:
                results.append(c.post("/ml/classify", json={"fields": [{"label": "City"}]}).status_code)
            except httpx.HTTPError:
                results.append(-1)

    threads = [threading.Thread(target=load) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(2)
    cluster.remove_node(cluster.workers[0])
    time.sleep(8)
    during = len(results)
    new_node = cluster.add_node(num_cpus=2, resources={"serve_slot": 1})
    deadline = time.time() + 180
    while True:
        live = replicas()
        if len(live) == 2 and new_node.node_id in {s["node"] for s in live.values()}:
            break
        assert time.time() < deadline, live
        time.sleep(1)
    stop.set()
    for t in threads:
        t.join()
    failures = [s for s in results if s != 200]
    # Observed: 0-2 failed requests (those in flight on the lost replica); bound at 5.
    assert len(failures) <= 5, (len(failures), len(results))
    assert during > 20 and len(results) > during
    # The replacement replica came up on the current version, not the deploy-time one.
    assert {s["serving"] for s in replicas().values()} == {other}
    serve.delete("semindex")
