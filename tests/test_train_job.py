"""The training job end to end on a real local Ray with the real model (tiny data, CPU)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from semindex.bundle import load_bundle
from semindex.config import JobConfig, load_job_config
from semindex.matcher import Matcher
from semindex.store import ARTIFACTS, ModelStore
from semindex.text import normalize
from semindex.training.pipeline import load_inputs, run, split_inputs

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.ray


def _cfg(store: Path, mode: str, **overrides: str) -> JobConfig:
    base = {"mode": mode, "model_store": str(store), "train.epochs": "3", "embed.num_actors": "2"}
    return load_job_config(ROOT / "configs" / "train.yaml", overrides={**base, **overrides}, environ={})


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("train") / "model_store"


def _cwd_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # configs name data files relative to the project


def test_smoke_test_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _cwd_root(monkeypatch)
    summary = run(_cfg(tmp_path / "ms", "smoke-test"))
    assert summary.version is None and "nothing written" in summary.reason
    assert summary.counts["synonyms"] > 50 and summary.counts["confirmed"] > 50
    assert not (tmp_path / "ms").exists()


def test_build_index_then_feedback(store_dir: Path, ray_session: None, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _cwd_root(monkeypatch)
    first = run(_cfg(store_dir, "build-index", **{"gate.min_accuracy": "0"}))
    store = ModelStore(store_dir)
    assert first.promoted and store.latest_name() == first.version
    vdir = store.resolve(first.version or "")
    for artifact in (*ARTIFACTS, "hints.json", "embeddings.parquet"):
        assert (vdir / artifact).exists(), artifact
    manifest = json.loads((vdir / "manifest.json").read_text())
    assert manifest["mode"] == "build-index" and manifest["config"]["train"]["epochs"] == 3
    assert len(manifest["inputs"]["canonical"]["sha256"]) == 64
    assert manifest["inputs"]["feedback"]["rows"] > 0 and manifest["parent_version"] is None
    meta = json.loads((vdir / "meta.json").read_text())
    assert len(meta["ids"]) == first.counts["synonyms"]  # synonyms only (no feedback): one each
    assert all(r["key"] != "unknown" for r in meta["ids"])
    # The hints file's other-language synonyms are indexed with the canonical file's.
    ids = {(r["key"], r["synonym"]) for r in meta["ids"]}
    assert {("postal_code", "PLZ"), ("last_name", "Cognome"), ("username", "Логин")} <= ids
    decisions = Matcher(load_bundle(vdir)).classify([{"label": "PLZ:"}, {"label": "Cognome *"}])
    assert [(d.key, d.accepted) for d in decisions] == [("postal_code", True), ("last_name", True)]
    # ... and never trained on (the canonical file's own synonyms are).
    only = load_inputs(_cfg(store_dir, "full-train")).index_only
    assert normalize("PLZ") in only and normalize("Postleitzahl") not in only
    assert first.counts["hints synonyms (index only)"] == len(only)
    # The version marks them lexical-only, so the service reads them as such.
    assert {normalize(r["synonym"]) for r in meta["ids"] if r.get("lexical_only")} == only
    # Embedding ran on 2 actors and embedded every text exactly once.
    stats = first.embed_stats["base"]
    assert len(stats["actors"]) == 2 and sum(stats["actors"].values()) == stats["computed"]
    assert stats["devices"] == {"cpu": stats["computed"]}  # the test cluster has no GPU

    # The service's log confirms texts of the canonical file as other keys: the canonical
    # file outranks them (logged, counted, neither trained on nor indexed under the second).
    moved = {"Surname": "email", "Telephone": "email", "Forename": "company", "Login": "email",
             "Choose a password": "username", "House number and street": "city"}
    log_csv = tmp_path / "feedback.csv"
    # ... and rejects, for fields whose label says a key, that key without giving another.
    rejected = {"Surname | maiden surname": "last_name", "Email | backup email": "email",
                "Telephone | fax line": "phone", "City | city of birth": "city"}
    log_csv.write_text("timestamp,query,matched_key,correct\n" + "".join(
        f"2026-12-01T10:00:0{i}Z,{q},{k},yes\n" for i, (q, k) in enumerate(moved.items())) + "".join(
        f"2026-12-01T10:01:0{i}Z,{q},{k},no\n" for i, (q, k) in enumerate(rejected.items())))
    with_log = {"gate.min_accuracy": "0", "data.feedback_log": str(log_csv)}
    second = run(_cfg(store_dir, "build-index-feedback", **with_log))
    meta2 = json.loads((store.resolve(second.version or "") / "meta.json").read_text())
    assert len(meta2["ids"]) > len(meta["ids"])  # enriched with confirmed feedback
    assert second.counts["overruled by canonical"] >= 1
    held = {normalize(r["synonym"]): r["key"] for r in meta["ids"]}
    assert all(r["key"] == held[normalize(r["synonym"])] for r in meta2["ids"]
               if normalize(r["synonym"]) in held)  # one key per text, the canonical file's
    assert Matcher(load_bundle(store.resolve(second.version or ""))).classify(
        [{"label": "Surname"}])[0].key == "last_name"
    # Training-part unknowns (the unknowns file and `unknown,yes` feedback) are indexed as
    # known-unknown examples, and a field that reads like one of them abstains.
    unknown_texts = [r["synonym"] for r in meta2["ids"] if r["key"] == "unknown"]
    known_unknowns = set(load_inputs(_cfg(store_dir, "build-index-feedback")).unknowns)
    assert unknown_texts and set(unknown_texts) <= known_unknowns
    assert len(unknown_texts) < len(known_unknowns)  # the evaluation part is held out
    # The calibration part is indexed too (scored leave-one-out); the evaluation part is not.
    cfg2 = _cfg(store_dir, "build-index-feedback", **with_log)
    inputs2 = load_inputs(cfg2)
    split = split_inputs(inputs2, cfg2)
    indexed = {normalize(r["synonym"]) for r in meta2["ids"]}
    assert second.counts["calibration texts indexed"] > 0
    calib_texts = [q for q, _ in split.calib_confirmed] + split.calib_unknown
    assert calib_texts and {normalize(t) for t in calib_texts} <= indexed
    # The version holds the rejections of the parts it indexes (training, calibration) and
    # withdraws such a key from that very field text; the evaluation part's are left out.
    bundle2 = load_bundle(store.resolve(second.version or ""))
    assert bundle2.rejected == {(normalize(q), k) for q, k in split.version_rejected()}
    assert second.counts["rejections held by the version"] == len(split.version_rejected())
    ours = [(q, k) for q, k in split.version_rejected() if q in rejected]
    assert ours, "every rejection of the log fell in the evaluation part"
    fields = [dict(zip(("label", "name"), q.split(" | "), strict=True)) for q, _ in ours]
    for (_, k), d in zip(ours, Matcher(bundle2).classify(fields, {"scope": "page"}), strict=True):
        assert (d.key, d.accepted, d.reason) == (k, False, "rejected"), d
    canonical_texts = {normalize(r.synonym) for r in inputs2.canonical.records()}
    # Every text the feedback added is marked reviewed in the version; no synonym is.
    assert {normalize(r["synonym"]) for r in meta2["ids"] if r.get("reviewed")} == (
        indexed - canonical_texts)
    assert not {normalize(r.field["label"]) for r in split.eval_rows} & (indexed - canonical_texts)
    assert any(t in ("Gift card number", "Order notes", "Message", "Keep me signed in",
                     "Gutscheincode", "Preferred delivery time") for t in unknown_texts)
    matcher = Matcher(load_bundle(store.resolve(second.version or "")))
    for d in matcher.classify([{"label": t + "!"} for t in unknown_texts]):
        assert not d.accepted and d.reason == "known_unknown", d
    assert second.embed_stats["base"]["cached"] >= first.counts["synonyms"]  # cache hit
    assert json.loads((store.resolve(second.version or "") / "manifest.json").read_text())[
        "parent_version"] == first.version


def test_gpu_embedding_needs_a_gpu_in_the_cluster(ray_session: None) -> None:
    from semindex.errors import ConfigError
    from semindex.training.embedding import embed_texts

    with pytest.raises(ConfigError, match=r"embed\.use_gpu is set but the Ray cluster has no GPU"):
        embed_texts(["Email"], "hash:8", dim=8, use_gpu=True)


def test_embedding_actors_are_capped_at_the_cluster_cpus(ray_session: None,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    # Three one-CPU actors per CPU of the test cluster: the pool waited for actors it could not
    # start (up to wait_for_min_actors_s), then failed.
    import ray

    from semindex.training.embedding import embed_texts

    cpus = int(ray.cluster_resources()["CPU"])
    texts = [f"text {i}" for i in range(3 * cpus)]
    vecs, stats = embed_texts(texts, "hash:8", dim=8, num_actors=3 * cpus)
    assert vecs.shape == (len(texts), 8) and stats.computed == len(texts)
    assert 1 <= len(stats.actors) <= cpus
    assert f"embed.num_actors={3 * cpus} of 1 CPU each: the cluster holds {cpus}" in caplog.text


def test_latest_that_moves_during_the_job_is_gated_against(tmp_path: Path, ray_session: None,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Another promotion between this job's gate and its promotion: the job scores the new
    latest and gates against it before it replaces it (it passed against none)."""
    from semindex.artifacts import build_local_version
    from semindex.data import load_canonical
    from semindex.encoder import HashEncoder

    _cwd_root(monkeypatch)
    store = ModelStore(tmp_path / "ms")
    moved: list[str] = []

    def other_job(stage: str) -> None:
        if stage == "commit":  # this job's version is built and gated; promotion is next
            moved.append(build_local_version(store, load_canonical(ROOT / "data/sample/canonical.json"),
                                             "hash:32", HashEncoder(32)))

    summary = run(_cfg(store.root, "build-index", **{"gate.min_accuracy": "0"}), on_stage=other_job)
    assert moved and moved[0] != summary.version
    assert summary.promoted and store.latest_name() == summary.version
    assert f"latest moved to {moved[0]} while this job ran; against it: accuracy" in summary.reason
    assert [h["version"] for h in store.history()] == [moved[0], summary.version]
    assert store.history()[-1]["reason"] == f"train build-index; gated again against {moved[0]}"


@pytest.mark.parametrize("floor, named", [("gate.min_accuracy", "MIN_ACCURACY"),
                                           ("gate.min_precision", "MIN_PRECISION")])
def test_gate_that_must_fail(store_dir: Path, ray_session: None, monkeypatch: pytest.MonkeyPatch,
                             floor: str, named: str) -> None:
    _cwd_root(monkeypatch)
    store = ModelStore(store_dir)
    before = store.latest_name()
    # (built as an HNSW index, as a store above index_exact_max vectors would be)
    summary = run(_cfg(store_dir, "build-index", **{floor: "0.999",
                                                    "index_exact_max": "10", "index_ef_search": "200"}))
    assert not summary.promoted and named in summary.reason, summary.reason
    assert store.latest_name() == before
    assert summary.version in store.names()  # kept, unpromoted, for inspection
    vdir = store.resolve(summary.version or "")
    metrics = json.loads((vdir / "metrics.json").read_text())
    assert metrics["gate"]["promote"] is False and metrics["gate"][floor.split(".")[1]] == 0.999
    manifest = json.loads((vdir / "manifest.json").read_text())
    assert (manifest["index_type"], manifest["ef_search"]) == ("hnsw", 200)
    assert load_bundle(vdir).index.ef_search == 200


def test_full_train_fixes_what_the_base_model_got_wrong(store_dir: Path, ray_session: None,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _cwd_root(monkeypatch)
    store = ModelStore(store_dir)
    cfg = _cfg(store_dir, "full-train", **{"gate.min_accuracy": "0.5"})
    split = split_inputs(load_inputs(cfg), cfg)
    base = Matcher(load_bundle(store.resolve(store.names()[0])))  # the build-index version
    wrong = [(q, k) for q, k in split.train_confirmed
             if base.classify([{"label": q}])[0].key != k]
    assert len(wrong) >= 10, "the sample feedback must contain texts the base model gets wrong"

    summary = run(cfg)
    assert summary.promoted, summary.reason
    new = summary.metrics["new"]
    old = summary.metrics["latest"]  # build-index-feedback: the same examples, base weights
    assert new["accuracy"] >= old["accuracy"]  # same held-out split, not worse than latest
    from semindex.evaluation import score
    from semindex.quality import predict

    base_acc = score(predict(base, split.eval_rows), [r.expected for r in split.eval_rows])["accuracy"]
    assert new["accuracy"] > base_acc  # and better than the base model alone
    tuned = Matcher(load_bundle(store.resolve("latest")))
    fixed = sum(tuned.classify([{"label": q}])[0].key == k for q, k in wrong)
    assert fixed >= 0.8 * len(wrong)
    assert summary.counts["triplets train"] > 0 and summary.metrics["train"]["train_loss"] > 0
    assert summary.metrics["train"]["weight_mix"] == cfg.train.weight_mix < 1  # the default mixes
    # Each epoch was scored by retrieving the validation anchors; the kept epoch is the best.
    train = summary.metrics["train"]
    assert summary.counts["retrieval check queries"] == train["eval_top1_queries"] > 10
    top1s = [h["eval_retrieval_cosine_accuracy@1"] for h in train["epoch_history"]]
    assert len(top1s) == 3 and train["eval_top1"] == pytest.approx(max(top1s))
    # The fine-tune was compared with the base model on held-out feedback; the version
    # holds the model that retrieved better, and says so.
    sel = json.loads((store.resolve("latest") / "metrics.json").read_text())["model_selection"]
    assert sel["n"] >= 20 and sel["kept"] == ("mixed" if sel["finetuned_top1"] >= sel["base_top1"]
                                               else "base")  # the default mixes the weights
    from semindex.encoder import load_encoder, resolve_model_path

    probe = ["E-mail address", "Nachname"]
    same_as_base = np.allclose(tuned.bundle.encoder.encode(probe),
                               load_encoder(resolve_model_path(cfg.base_model)).encode(probe), atol=1e-5)
    assert same_as_base == (sel["kept"] == "base")


def test_a_small_vocabulary_trains(tmp_path: Path, ray_session: None) -> None:
    """Fewer triplets than one batch made the Ray Train worker fail ("max_steps must be set
    to a positive value"), and a validation split under one batch lost its eval_loss; no
    triplets at all (one key, no feedback) failed the same way."""
    small = tmp_path / "small.json"
    small.write_text(json.dumps({"email": ["Email", "E-mail address"], "phone": ["Phone", "Telephone"],
                                 "city": ["City", "Town"]}))
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"email": ["Email"]}))
    none = {"data.hints": "null", "data.unknowns": "null", "data.feedback": "null",
            "train.epochs": "1", "embed.num_actors": "1"}
    summary = run(_cfg(tmp_path / "ms", "full-train", **{"data.canonical": str(small), **none}))
    train = summary.metrics["train"]
    n = summary.counts["triplets train"]
    assert summary.version and 0 < n < 16 and train["batch_size"] == n, (n, train)
    assert train["train_loss"] > 0 and "eval_loss" in train
    summary = run(_cfg(tmp_path / "ms", "full-train", **{"data.canonical": str(one), **none}))
    assert summary.version and summary.counts["triplets train"] == 0
    assert "no training triplets" in summary.metrics["train"]["skipped"]
    vdir = ModelStore(tmp_path / "ms").resolve(summary.version)
    assert Matcher(load_bundle(vdir)).classify([{"label": "Email"}])[0].key == "email"


def test_bad_input_exits_before_work(tmp_path: Path) -> None:
    bad = tmp_path / "c.json"
    bad.write_text('{"email": []}')
    proc = subprocess.run([sys.executable, "train_job.py", "--mode", "full-train",
                           "--model-store", str(tmp_path / "ms"), "--set", f"data.canonical={bad}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert f"{bad}: key 'email': synonym list is empty" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "ms").exists()
    proc = subprocess.run([sys.executable, "train_job.py", "--set", "train.epochs=-1"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "train.epochs" in proc.stderr
    proc = subprocess.run([sys.executable, "train_job.py", "--min-precision", "1.5"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "gate.min_precision" in proc.stderr
    # A mistyped hints path trained a version without the hints file's evidence, silently.
    typo = tmp_path / "canonical.hint.json"
    proc = subprocess.run([sys.executable, "train_job.py", "--mode", "full-train",
                           "--model-store", str(tmp_path / "ms"), "--set", f"data.hints={typo}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and f"{typo}: hints file not found" in proc.stderr, proc.stderr[-2000:]
    assert not (tmp_path / "ms").exists()
    # Workers that the Ray it starts cannot hold: Ray Train waited and retried without end.
    proc = subprocess.run([sys.executable, "train_job.py", "--mode", "full-train",
                           "--model-store", str(tmp_path / "ms"), "--set", "train.num_workers=64"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "do not fit on this cluster" in proc.stderr, proc.stderr[-2000:]
    assert not (tmp_path / "ms").exists()


def test_kill_mid_run_leaves_store_as_it_was(store_dir: Path, tmp_path: Path) -> None:
    store_copy = tmp_path / "ms"
    shutil.copytree(store_dir, store_copy, symlinks=True, ignore=shutil.ignore_patterns(".cache"))
    store = ModelStore(store_copy)
    before = (store.names(), store.latest_name())
    log = tmp_path / "job.log"
    with log.open("w") as fh:
        proc = subprocess.Popen([sys.executable, "train_job.py", "--mode", "full-train",
                                 "--model-store", str(store_copy), "--set", "train.epochs=3",
                                 "--min-accuracy", "0"], cwd=ROOT, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 300
        while "step fine-tune" not in log.read_text() and time.time() < deadline:
            assert proc.poll() is None, log.read_text()[-2000:]
            time.sleep(0.5)
        time.sleep(5)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert (store.names(), store.latest_name()) == before


def test_ray_job_submit_to_a_head_node(tmp_path: Path) -> None:
    from tests.conftest import free_port, recording_endpoint

    gcs, dash = free_port(), free_port()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "RAY_ADDRESS": ""}
    env.pop("RAY_ADDRESS")
    ray_bin = str(Path(sys.executable).parent / "ray")
    # --block in its own process group: stopping it stops this head only (``ray stop``
    # would kill every Ray on the machine, the test session's included).
    # Every port explicit: the session's own Ray holds the default agent ports.
    ports = [f"--{name}={free_port()}" for name in (
        "dashboard-agent-listen-port", "dashboard-agent-grpc-port", "metrics-export-port",
        "runtime-env-agent-port", "node-manager-port", "object-manager-port", "ray-client-server-port")]
    head = subprocess.Popen([ray_bin, "start", "--head", "--block", f"--port={gcs}",
                             f"--dashboard-port={dash}", "--dashboard-host=127.0.0.1", "--num-cpus=4",
                             "--include-dashboard=true", "--disable-usage-stats", *ports], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        import urllib.request

        from semindex.serving.jobs import submit_training, training_status
        from semindex.serving.schemas import TrainIn
        from semindex.serving.settings import ServeArgs, resolve_settings
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{dash}/api/version", timeout=2)
                break
            except OSError:
                assert time.time() < deadline and head.poll() is None, "head node did not start"
                time.sleep(1)
        ms = tmp_path / "ms"
        for _ in range(12):  # the job agent comes up a little after the dashboard
            proc = subprocess.run(
                [ray_bin, "job", "submit", f"--address=http://127.0.0.1:{dash}", "--working-dir", ".",
                 "--", "python", "train_job.py", "--mode", "build-index", "--model-store", str(ms),
                 "--min-accuracy", "0"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
            if "No available agent" not in proc.stderr:
                break
            time.sleep(5)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "promoted: yes" in proc.stdout
        store = ModelStore(ms)
        assert store.latest_name() is not None and len(store.names()) == 1

        # The service's training endpoint goes through the same Jobs API.
        logs = tmp_path / "logs"  # what the service's users confirmed: the job learns it too
        logs.mkdir()
        (logs / "feedback.csv").write_text("timestamp,query,matched_key,correct\n"
                                           "2026-12-01T10:00:00Z,Handynummer privat,phone,yes\n"
                                           "2026-12-01T10:01:00Z,Gutscheinnummer,unknown,yes\n")
        settings = resolve_settings(ServeArgs(model_store=str(ms), dashboard_url=f"http://127.0.0.1:{dash}",
                                              project_dir=str(ROOT), log_dir=str(logs)))
        # ... and the job it starts tells the service (here a stand-in that records) to reload.
        with recording_endpoint() as reloads:  # open while the job runs
            job = submit_training(settings, TrainIn(mode="build-index",
                                                    overrides={"gate.min_accuracy": "0"}),
                                  reload_to=reloads.url)
            deadline = time.time() + 400
            status = training_status(settings, job)
            while status["status"] not in ("SUCCEEDED", "FAILED", "STOPPED") and time.time() < deadline:
                time.sleep(2)
                status = training_status(settings, job)
        assert status["status"] == "SUCCEEDED", status
        assert status["version"] in store.names() and status["created_at"] and status["end_date"], status
        token = f"Bearer {settings.admin_token}" if settings.admin_token else None
        assert reloads.seen == [("/ml/reload", token, {"version": status["version"]})], (reloads.seen, status)
        inputs = json.loads((store.resolve(status["version"]) / "manifest.json").read_text())["inputs"]
        assert inputs["feedback_log"] == {"path": str(logs / "feedback.csv"), "rows": 2}
        assert inputs["feedback"]["path"] == "data/sample/feedback.csv" and inputs["feedback"]["rows"] > 50
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
