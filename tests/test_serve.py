"""The Ray Serve application on a real local Ray, with the real model and real HTTP."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from semindex.artifacts import build_local_version
from semindex.calibration import Thresholds
from semindex.data import load_canonical, load_feedback, parse_canonical
from semindex.encoder import resolve_model_path
from semindex.hints import load_hints
from semindex.index import KeyIndex
from semindex.store import ModelStore
from tests.conftest import SAMPLE, free_port

pytestmark = pytest.mark.ray
ORIGIN = "https://forms.example"  # the one origin the test service lets browsers call from
ADMIN, CLIENT = "admin-secret", "client-secret"
FORM = json.loads((SAMPLE / "form.json").read_text())


class Service:
    def __init__(self, url: str, store: ModelStore, versions: dict[str, str], logs: Path) -> None:
        self.http = httpx.Client(base_url=url, timeout=120)
        self.store, self.v, self.logs = store, versions, logs

    def post(self, path: str, body: Any = None, token: str | None = CLIENT, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.http.post(path, json=body, headers=headers, **kw)

    def served_versions(self, n: int = 30) -> set[str]:
        return {self.http.get("/ml/version").json()["model_version"] for _ in range(n)}


@pytest.fixture(scope="module")
def service(ray_session: None, tmp_path_factory: pytest.TempPathFactory, minilm,  # type: ignore[no-untyped-def]
            ) -> Iterator[Service]:
    from ray import serve

    from semindex.serving.app import build_app
    from semindex.serving.settings import ServeArgs

    tmp = tmp_path_factory.mktemp("serve")
    store = ModelStore(tmp / "model_store")
    canonical = load_canonical(SAMPLE / "canonical.json")
    hints = load_hints(SAMPLE / "canonical.hints.json", canonical.keys)
    model = resolve_model_path("packaged:all-MiniLM-L6-v2")
    # A reviewed field (label and ``name``, as the service logs it) confirmed as another key
    # than its label's: see test_a_reviewed_field_is_read_as_reviewed.
    reviewed = canonical.with_extra([("username", "Organisation | org login")])
    a = build_local_version(store, reviewed, model, minilm, thresholds=Thresholds(0.55), hints=hints,
                            promote=False, rejected=[("Organisation | org unit", "company")])
    b = build_local_version(store, canonical.with_extra([("last_name", "Zuname")]), model, minilm,
                            thresholds=Thresholds(0.5), hints=hints, promote=False)
    corrupt = build_local_version(store, canonical, model, minilm, promote=False)
    (store.resolve(corrupt) / "index.faiss").write_bytes(b"not a faiss index")
    wrong_dim = build_local_version(store, canonical, model, minilm, promote=False)
    small = parse_canonical({"email": ["Email"]})
    KeyIndex.build(small.records(), np.eye(1, 16, dtype=np.float32)).save(store.resolve(wrong_dim))
    store.promote(a)
    (tmp / "admin.token").write_text(ADMIN + "\n")
    import os

    os.environ["SEMINDEX_TEST_CLIENT_TOKEN"] = CLIENT
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    args = ServeArgs(model_store=str(store.root), num_replicas=2, log_dir=str(tmp / "logs"),
                     admin_token_file=str(tmp / "admin.token"),
                     client_token_env="SEMINDEX_TEST_CLIENT_TOKEN", max_fields=50,
                     max_text_length=500, max_body_bytes=200_000, cors_origins=[ORIGIN],
                     dashboard_url=f"http://127.0.0.1:{free_port()}")  # nothing listens there
    serve.run(build_app(args), name="semindex", route_prefix="/")
    empty = ServeArgs(model_store=str(tmp / "empty_store"), num_replicas=1, log_dir=str(tmp / "elogs"))
    serve.run(build_app(empty), name="empty", route_prefix="/empty")
    svc = Service(f"http://127.0.0.1:{port}", store,
                  {"a": a, "b": b, "corrupt": corrupt, "wrong_dim": wrong_dim}, tmp / "logs")
    deadline = time.time() + 120
    while svc.http.get("/ml/health").status_code != 200:
        assert time.time() < deadline
        time.sleep(0.5)
    yield svc
    serve.delete("semindex")
    serve.delete("empty")


def test_classify_and_fill_sample_form(service: Service) -> None:
    r = service.post("/ml/classify", {"fields": FORM["fields"], "form": FORM["form"]})
    assert r.status_code == 200, r.text
    out = r.json()
    got = {m["selector"]: m["key"] for m in out["matches"]}
    assert got["#fname"] == "first_name" and got["#lname"] == "last_name" and got["#mail"] == "email"
    assert got["#tel"] == "phone" and got["#zip"] == "postal_code" and got["#pw"] == "password"
    assert got["#pw2"] == "password"  # repeatable key: both password fields keep it
    assert "#coupon" not in got and any(x["selector"] == "#coupon" for x in out["rejected"])
    assert out["model_version"] == service.served_versions(1).pop()
    m = out["matches"][0]
    assert set(m) >= {"key", "score", "threshold", "margin", "synonym", "reason", "runner_up", "evidence"}

    by_sel = {f["selector"]: f for f in FORM["fields"]}
    matches = [{**{k: by_sel[m["selector"]].get(k) for k in ("type", "options", "placeholder", "maxlength")
                   if by_sel[m["selector"]].get(k) is not None}, "selector": m["selector"], "key": m["key"]}
               for m in out["matches"]]
    tel = next(m for m in matches if m["selector"] == "#tel")
    tel["pattern"] = r"\+[0-9]{12}"  # the page asks for +<digits>: the profile's "+44 20 7946 0018"
    matches.append({"selector": "#tel2", "key": "phone", "pattern": "[0-9]{5}"})  # no form of it fits
    matches.append({"selector": "#mail2", "key": "email", "maxlength": 6})  # a cut address is no address
    r = service.post("/ml/fill", {"user_profile": FORM["user_profile"], "matches": matches})
    assert r.status_code == 200, r.text
    fills = {f["selector"]: f for f in r.json()["fills"]}
    assert fills["#fname"]["value"] == "Ada"
    assert fills["#zip"]["value"] == "10001"  # maxlength 5
    assert fills["#country"]["value"] == "US"  # the <select> option for the profile value
    assert fills["#tel"]["value"] == "+442079460018" and fills["#tel"]["status"] == "filled"
    assert (fills["#tel2"]["value"], fills["#tel2"]["status"]) == ("", "pattern_mismatch")
    email = FORM["user_profile"]["email"]
    assert (fills["#mail2"]["value"], fills["#mail2"]["status"]) == (email[:6], "truncated")
    assert fills["#mail"]["status"] == "filled"
    rows = (service.logs / "decisions.csv").read_text().splitlines()
    assert rows[0].startswith("timestamp,event,selector,text,key,score,threshold,accepted")
    assert sum(",classify,#fname," in x for x in rows) >= 1 and sum(",fill,#fname," in x for x in rows) >= 1


def test_labels_wrapped_in_filler_words_and_named_attributes(service: Service) -> None:
    """Through the real model: "Votre prénom" is the synonym "Prénom" once the filler word is
    left out, and a field whose label names nothing is named by its ``name`` attribute.
    (The form has a last-name field: without one, the sibling rules read the first name as
    the full name — test_a_name_field_is_read_by_its_siblings.)"""
    fields = [{"selector": "#a", "label": "Votre prénom :"},
              {"selector": "#b", "label": "Kontaktdaten", "name": "e-mail"},
              {"selector": "#c", "label": "Surname"}]
    r = service.post("/ml/classify", {"fields": fields})
    assert r.status_code == 200, r.text
    got = {m["selector"]: m for m in r.json()["matches"]}
    a = got["#a"]
    assert (a["key"], a["reason"], a["synonym"]) == ("first_name", "lexical", "Prénom")
    assert (got["#b"]["key"], got["#b"]["reason"], got["#b"]["synonym"]) == ("email", "lexical", "E-mail")
    assert got["#b"]["evidence"] == ["another attribute ('e mail') is the synonym 'E-mail' of email"]
    assert got["#c"]["key"] == "last_name"


def test_a_gender_mark_is_read_past(service: Service) -> None:
    """Through the service: the job-ad tags of "Occupation (m/w/d)" and "Employer (all
    genders)" are no part of what the field is: each is its synonym exactly."""
    fields = [{"selector": "#j", "label": "Occupation (m/w/d)"},
              {"selector": "#c", "label": "Employer (all genders)"}]
    r = service.post("/ml/classify", {"fields": fields})
    assert r.status_code == 200, r.text
    got = {m["selector"]: (m["key"], m["accepted"], m["reason"], m["synonym"])
           for m in r.json()["matches"]}
    assert got == {"#j": ("job_title", True, "lexical", "Occupation"),
                   "#c": ("company", True, "lexical", "Employer")}


def test_a_typed_field_is_searched_among_the_keys_its_type_admits(service: Service) -> None:
    """A textarea admits only the address keys; labelled "Password", its nearest synonyms
    are all of other keys, yet the answer still scores the admitted keys (and abstains)."""
    r = service.post("/ml/classify", {"fields": [{"selector": "#t", "label": "Password",
                                                   "type": "textarea"}]})
    assert r.status_code == 200, r.text
    assert r.json()["matches"] == []
    m = r.json()["rejected"][0]
    assert {m["key"], m["runner_up"]["key"]} == {"address_line1", "address_line2"}
    assert (m["accepted"], m["reason"]) == (False, "below_threshold") and 0 < m["score"] < m["threshold"]


def _classify_page(service: Service, fields: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every decision (accepted or not) of one page-scope classify request, by selector."""
    r = service.post("/ml/classify", {"form": {"scope": "page"}, "fields": fields})
    assert r.status_code == 200, r.text
    return {m["selector"]: m for m in r.json()["matches"] + r.json()["rejected"]}


def test_a_mentioned_synonym_the_semantic_step_agrees_with_is_accepted(service: Service) -> None:
    """Through the real model: "Recipient's city (if different)" scores city under the
    threshold, but the label mentions the synonym "City": the two agree, the field is city."""
    assert service.served_versions(5) == {service.v["a"]}  # threshold 0.55, before any reload
    r = service.post("/ml/classify", {"fields": [
        {"selector": "#c", "label": "Recipient's city (if different)"},
        {"selector": "#n", "label": "Accounting department contact phone extension"}]})
    assert r.status_code == 200, r.text
    got = {m["selector"]: m for m in r.json()["matches"] + r.json()["rejected"]}
    c = got["#c"]
    assert (c["key"], c["reason"], c["accepted"], c["synonym"]) == ("city", "mention", True, "City")
    assert c["score"] < c["threshold"]
    assert c["evidence"][0].startswith("the label mentions 'City', a synonym of city")
    assert (got["#n"]["reason"], got["#n"]["accepted"]) == ("below_threshold", False)  # no mention


def test_another_attribute_that_mentions_the_semantic_key_is_accepted(service: Service) -> None:
    """Through the real model: a label that names nothing ("Sign up for our weekly offers")
    leaves it to the field's ``name``, which mentions the semantic step's best key; a broader
    word there ("name" in ``suggest_name``: also inside "User name", "Company name") does not."""
    assert service.served_versions(5) == {service.v["a"]}
    got = _classify_page(service, [
        {"selector": "#n", "label": "Sign up for our weekly offers", "name": "newsletter_email"},
        {"selector": "#g", "label": "Bli medlem", "name": "user_register_flow[sex]"},
        {"selector": "#s", "label": "(please provide a brief description)", "name": "suggest_name"}])
    for sel, key, part, syn in (("#n", "email", "newsletter email", "Email"),
                                ("#g", "gender", "user register flow sex", "Sex")):
        m = got[sel]
        assert (m["key"], m["reason"], m["accepted"]) == (key, "mention", True), m
        assert m["score"] < m["threshold"]
        assert m["evidence"][0].startswith(f"{part!r} mentions {syn!r}, a synonym of {key}")
    assert not got["#s"]["accepted"] and got["#s"]["reason"] == "below_threshold"


def test_a_label_that_names_another_key_contradicts_the_semantic_step(service: Service) -> None:
    """Through the real model: both labels are nearest to company above the threshold; the
    first names the first name and not the company, so it abstains (``contradicted``), the
    second says "Name", a word inside the company synonym "Company name", and is the company."""
    assert service.served_versions(5) == {service.v["a"]}
    got = _classify_page(service, [{"selector": "#o", "label": "First name of the company owner"},
                                   {"selector": "#e", "label": "Name of your employer"}])
    owner, employer = got["#o"], got["#e"]
    assert (owner["key"], owner["accepted"], owner["reason"]) == ("company", False, "contradicted")
    assert owner["score"] >= owner["threshold"]
    assert ("the label names 'First name' (first_name), not company: the semantic step's key "
            "is contradicted") in owner["evidence"]
    assert (employer["key"], employer["accepted"], employer["reason"]) == ("company", True, "semantic")


def test_a_reviewed_field_is_read_as_reviewed(service: Service) -> None:
    """Through the real model: a field whose whole text a person confirmed as the user name
    ("Organisation | org login") is the user name, though its label is a company synonym;
    one whose text a person rejected as the company abstains; another "Organisation" field
    is still the company."""
    assert service.served_versions(5) == {service.v["a"]}
    got = _classify_page(service, [
        {"selector": "#l", "label": "Organisation", "name": "org_login"},
        {"selector": "#u", "label": "Organisation", "name": "org_unit"},
        {"selector": "#o", "label": "Organisation", "name": "org"}])
    unit = got["#u"]
    assert (unit["key"], unit["accepted"], unit["reason"]) == ("company", False, "rejected")
    assert unit["evidence"][-1] == "a person rejected company for this field's text"
    login, org = got["#l"], got["#o"]
    assert (login["key"], login["accepted"], login["reason"], login["synonym"]) == (
        "username", True, "lexical", "Organisation | org login")
    assert login["evidence"] == ["the field's whole text is a reviewed field's text"]
    assert (org["key"], org["accepted"], org["reason"], org["synonym"]) == (
        "company", True, "lexical", "Organisation")


def test_health_version_docs(service: Service) -> None:
    h = service.http.get("/ml/health")
    keys = len(load_canonical(SAMPLE / "canonical.json").keys)
    assert h.status_code == 200 and h.json()["keys"] == keys and h.json()["dim"] == 384
    v = service.http.get("/ml/version").json()
    assert v["manifest"]["vectors"] > 0 and v["manifest"]["version"] == v["model_version"]
    assert service.http.get("/docs").status_code == 200
    paths = service.http.get("/openapi.json").json()["paths"]
    assert {"/ml/classify", "/ml/fill", "/ml/feedback", "/ml/health", "/ml/version", "/ml/reload",
            "/ml/train"} <= set(paths)


BATCH = re.compile(r'^batch;dur=[0-9.]+;desc="size (\d+)"$')


def test_concurrent_requests_are_embedded_in_one_batch(service: Service) -> None:
    def size(r: httpx.Response) -> int:
        assert r.status_code == 200, r.text
        m = BATCH.match(r.headers["server-timing"])
        assert m, r.headers["server-timing"]
        return int(m.group(1))

    body = {"fields": FORM["fields"][:3]}
    alone = [service.post("/ml/classify", body) for _ in range(5)]
    assert [size(r) for r in alone] == [1] * 5  # one client at a time: nothing to batch with
    def answer(r: httpx.Response) -> list[tuple[str, str, float]]:
        return [(m["selector"], m["key"], round(m["score"], 3)) for m in r.json()["matches"]]

    expected = answer(alone[0])
    start = threading.Barrier(24)
    answers: list[httpx.Response] = []

    def client() -> None:
        c = httpx.Client(base_url=str(service.http.base_url), timeout=60)
        start.wait()
        answers.append(c.post("/ml/classify", json=body, headers={"Authorization": f"Bearer {CLIENT}"}))

    threads = [threading.Thread(target=client) for _ in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sizes = [size(r) for r in answers]
    assert len(sizes) == 24 and max(sizes) > 1  # two replicas, 24 requests at once: shared batches
    assert all(answer(r) == expected for r in answers)  # batching changes no answer


def test_not_ready_without_a_promoted_version(service: Service) -> None:
    h = service.http.get("/empty/ml/health")
    assert h.status_code == 503 and "no version promoted" in h.json()["reason"]
    r = service.http.post("/empty/ml/classify", json={"fields": [{"label": "Email"}]})
    assert r.status_code == 503 and "not ready" in r.json()["error"]


BIG = "x" * 600


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"fields": []}, 422, "fields"),
    ({}, 422, "fields: Field required"),
    ({"fields": "Email"}, 422, "fields"),
    ({"fields": [{"label": 5}]}, 422, "fields.0.label"),
    ({"fields": [{"label": BIG}]}, 422, "fields[0].label: 600 characters"),
    ({"fields": [{"label": "a"}] * 51}, 413, "fields: 51 fields exceeds the limit of 50"),
    ({"fields": [{"label": "名前" * 100_000}]}, 413, "exceeds the limit"),
    ([1, 2], 422, "body"),
    ({"fields": [{"label": "a"}], "form": {"scope": "site"}}, 422, "scope"),
])
def test_classify_bad_input(service: Service, body: Any, status: int, message: str) -> None:
    r = service.post("/ml/classify", body)
    assert r.status_code == status, r.text
    assert message in r.json()["error"]


@pytest.mark.parametrize(("path", "raw", "status", "message"), [
    ("/ml/classify", b"{not json", 422, "JSON"),
    ("/ml/classify", b"", 422, "body"),
    ("/ml/fill", b'{"user_profile": {"email": 3}, "matches": []}', 422, "user_profile.email"),
    ("/ml/fill", b'{"user_profile": {}, "matches": [{"key": "nope"}]}', 422, "matches[0].key: unknown key"),
    ("/ml/fill", b'{"user_profile": {}, "matches": [{"selector": "#a"}]}', 422, "matches[0].key: required"),
    ("/ml/fill", b'{"user_profile": {}, "matches": [{"alternatives": ["email", "nope"]}]}', 422,
     "matches[0].alternatives[1]: unknown key"),
    ("/ml/fill", b'{"user_profile": {"nope": "x"}, "matches": []}', 422, "user_profile.nope: unknown key"),
    ("/ml/fill", b'{"user_profile": {}, "matches": [], "extra": 1}', 422, "extra"),
    ("/ml/feedback", b'{"query": "Zip", "matched_key": "postal_code", "correct": "maybe"}', 422, "correct"),
    ("/ml/feedback", b'{"query": "Zip", "matched_key": "bogus", "correct": true}', 422, "matched_key"),
    ("/ml/feedback", b'{"query": "", "matched_key": "email", "correct": true}', 422, "query"),
    ("/ml/feedback", b'{"matched_key": "email", "correct": true}', 422,
     "give either query (the text of a classify answer) or field"),
    ("/ml/feedback", b'{"query": "Mail", "field": {"label": "Mail"}, "matched_key": "email", '
     b'"correct": true}', 422, "give either query"),
    ("/ml/feedback", b'{"field": {"type": "text"}, "matched_key": "email", "correct": true}', 422,
     "field: no text to record"),
    ("/ml/feedback", b'{"field": {"label": "' + BIG.encode() + b'"}, "matched_key": "email", '
     b'"correct": true}', 422, "field.label: 600 characters"),
    ("/ml/feedback", b'{"field": {"label": 3}, "matched_key": "email", "correct": true}', 422,
     "field.label"),
    # JSON's escape of a lone surrogate is valid JSON but no text: the tokenizer raised a
    # TypeError on it (a 500), and the UTF-8 logs cannot hold it.
    ("/ml/classify", b'{"fields": [{"label": "E\\ud800mail"}]}', 422,
     "fields.0.label: Value error, a lone surrogate"),
    ("/ml/classify", b'{"fields": [{"label": "Land", "options": ["DE", {"value": "\\udc00"}]}]}', 422,
     "fields.0.options.1.Option.value: Value error, a lone surrogate"),
    ("/ml/fill", b'{"user_profile": {"email": "a\\ud800@b.c"}, "matches": []}', 422,
     "user_profile.email: Value error, a lone surrogate"),
    ("/ml/fill", b'{"user_profile": {}, "matches": [{"key": "email", "autocomplete": "\\ud800"}]}',
     422, "matches.0.autocomplete: Value error, a lone surrogate"),
    ("/ml/feedback", b'{"query": "Zip\\udc00", "matched_key": "postal_code", "correct": true}', 422,
     "query: "),
])
def test_raw_bad_input(service: Service, path: str, raw: bytes, status: int, message: str) -> None:
    log = service.logs / "feedback.csv"
    before = log.read_bytes() if log.exists() else b""
    r = service.http.post(path, content=raw, headers={"Authorization": f"Bearer {CLIENT}",
                                                      "Content-Type": "application/json"})
    assert r.status_code == status, r.text
    assert message in r.json()["error"], r.text
    assert (log.read_bytes() if log.exists() else b"") == before  # nothing logged


def test_a_log_that_cannot_be_written(service: Service) -> None:
    """Feedback that cannot be stored is a 503 (nothing written, the client may retry); a
    classify answer is not withheld because its decision-log row cannot be written."""
    moved = {}
    for name in ("feedback.csv", "decisions.csv"):  # a directory in the log's place: EISDIR
        path = service.logs / name
        if path.exists():
            moved[name] = path.rename(path.with_suffix(".keep"))
        path.mkdir(parents=True)
    try:
        r = service.post("/ml/feedback", {"query": "Zip", "matched_key": "postal_code", "correct": True})
        assert r.status_code == 503 and "feedback not recorded" in r.json()["error"], r.text
        r = service.post("/ml/classify", {"fields": [{"selector": "#e", "label": "Email"}]})
        assert r.status_code == 200 and r.json()["matches"][0]["key"] == "email", r.text
    finally:
        for name in ("feedback.csv", "decisions.csv"):
            (service.logs / name).rmdir()
            if name in moved:
                moved[name].rename(service.logs / name)
    r = service.post("/ml/feedback", {"query": "Zip", "matched_key": "postal_code", "correct": True})
    assert r.status_code == 201, r.text


def test_a_page_on_an_allowed_origin_may_call_the_service(service: Service) -> None:
    """CORS: a browser's preflight is answered for the configured origin only, and the
    answers (errors too) name the origin, so the page can read them."""
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type"}
    r = service.http.options("/ml/classify", headers={"Origin": ORIGIN, **preflight})
    assert r.status_code == 204, r.text
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in r.headers["access-control-allow-methods"]
    assert "Authorization" in r.headers["access-control-allow-headers"]
    other = service.http.options("/ml/classify", headers={"Origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in other.headers and other.status_code != 204
    r = service.http.post("/ml/classify", json={"fields": [{"label": "Email"}]},
                          headers={"Origin": ORIGIN, "Authorization": f"Bearer {CLIENT}"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ORIGIN
    exposed = {h.strip().lower() for h in r.headers["access-control-expose-headers"].split(",")}
    assert "server-timing" in exposed and "server-timing" in r.headers  # the page may read it
    r = service.http.post("/ml/reload", json={}, headers={"Origin": ORIGIN})  # no token: 401
    assert r.status_code == 401 and r.headers["access-control-allow-origin"] == ORIGIN
    r = service.http.post("/ml/classify", content=b"x" * 300_000, headers={"Origin": ORIGIN})
    assert r.status_code == 413 and r.headers["access-control-allow-origin"] == ORIGIN
    r = service.http.get("/ml/health", headers={"Origin": "https://evil.example"})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


def test_training_without_a_reachable_dashboard_is_unavailable(service: Service) -> None:
    # The fixture's dashboard URL is a closed port: the service is up, its job API is not.
    r = service.post("/ml/train", {"mode": "smoke-test"}, token=ADMIN)
    assert r.status_code == 503 and "cannot reach the Ray dashboard" in r.json()["error"], r.text
    r = service.http.get("/ml/train/raysubmit_x", headers={"Authorization": f"Bearer {ADMIN}"})
    assert r.status_code == 503, r.text
    r = service.post("/ml/train", {"mode": "fly"}, token=ADMIN)  # the request's own fault first
    assert r.status_code == 400 and "mode: 'fly'" in r.json()["error"], r.text


@pytest.mark.parametrize(("path", "token", "status"), [
    ("/ml/classify", None, 401), ("/ml/classify", "wrong", 401), ("/ml/classify", CLIENT, 200),
    ("/ml/classify", ADMIN, 200), ("/ml/reload", None, 401), ("/ml/reload", "wrong", 401),
    ("/ml/reload", CLIENT, 403), ("/ml/train", CLIENT, 403), ("/ml/train/raysubmit_x", CLIENT, 403),
    ("/ml/registry", CLIENT, 403), ("/ml/registry", None, 401),
])
def test_auth(service: Service, path: str, token: str | None, status: int) -> None:
    body: dict[str, Any] = {"fields": [{"label": "Email"}]} if path == "/ml/classify" else {}
    if path == "/ml/reload":
        body = {"version": service.store.latest_name()}
    if path.startswith(("/ml/registry", "/ml/train/")):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = service.http.get(path, headers=headers)
    else:
        r = service.post(path, body, token=token)
    assert r.status_code == status, r.text


def test_concurrent_feedback_is_logged_exactly(service: Service) -> None:
    sent: list[tuple[str, str, bool]] = []
    lock = threading.Lock()
    errors: list[str] = []

    def client(n: int) -> None:
        c = httpx.Client(base_url=str(service.http.base_url), timeout=60)
        for i in range(15):
            key = "postal_code" if i % 2 else "unknown" if i % 4 == 0 else "city"  # unknown: none
            formula = "=+-@"[i % 4] if i % 3 == 0 else ""  # a spreadsheet would run these
            row = (f"{formula}query {n}-{i}, with \"quotes\"", key, i % 3 != 0)
            r = c.post("/ml/feedback", json={"query": row[0], "matched_key": row[1], "correct": row[2],
                                             "selector": f"#s{n}"},
                       headers={"Authorization": f"Bearer {CLIENT}"})
            if r.status_code != 201:
                errors.append(r.text)
            with lock:
                sent.append(row)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    fb = load_feedback(service.logs / "feedback.csv")
    assert not fb.problems
    logged = Counter((r.query, r.matched_key, r.correct) for r in fb.rows
                     if r.query.lstrip("=+-@").startswith("query "))
    assert logged == Counter(sent) and len(sent) == 120
    raw = list(csv.reader(io.StringIO((service.logs / "feedback.csv").read_text())))
    assert not [row for row in raw if row[1].startswith(("=", "+", "-", "@"))]
    assert sum(row[1].startswith("'=query") for row in raw) == 8 * 2  # i = 0, 12 per client
    assert {k for _, k, _ in logged} == {"postal_code", "city", "unknown"}
    assert {q for q, k, ok in sent if k == "unknown" and ok} <= set(fb.unknowns())


def test_feedback_may_give_the_field_itself(service: Service) -> None:
    """A client may send the field instead of its text: the log holds the text classify
    built for it (what the next training reads, and the reviewed-text step compares)."""
    fld = {"selector": "#org", "label": "Organisation", "name": "org_login", "type": "text"}
    text = _classify_page(service, [fld])["#org"]["text"]
    r = service.post("/ml/feedback", {"field": fld, "matched_key": "username", "correct": "yes"})
    assert r.status_code == 201, r.text
    assert (r.json()["query"], r.json()["selector"]) == (text, "#org")
    assert text == "Organisation | org login"
    last = list(csv.DictReader(io.StringIO((service.logs / "feedback.csv").read_text())))[-1]
    assert (last["query"], last["matched_key"], last["correct"], last["selector"]) == (
        text, "username", "yes", "#org")


def _reload(service: Service, version: str | None) -> httpx.Response:
    return service.post("/ml/reload", {"version": version} if version is not None else {}, token=ADMIN)


@pytest.mark.parametrize(("which", "status", "message"), [
    ("corrupt", 422, "corrupt FAISS index"),
    ("wrong_dim", 422, "does not match the model's 384"),
    ("v20990101-000000", 404, "not found"),
    ("../../etc", 400, "invalid version name"),
    ("", 422, "version"),  # an empty name is a mistake, not "latest"
])
def test_bad_version_is_refused_and_old_keeps_serving(service: Service, which: str, status: int,
                                                      message: str) -> None:
    before = service.served_versions(10)
    assert len(before) == 1
    r = _reload(service, service.v.get(which, which))
    assert r.status_code == status, r.text
    assert message in r.text
    assert service.served_versions(20) == before
    assert {service.store.served_name()} == before  # a refused reload records nothing
    ok = service.post("/ml/classify", {"fields": [{"label": "Email"}]})
    assert ok.status_code == 200 and ok.json()["model_version"] in before


def test_hot_swap_under_load(service: Service) -> None:
    start = service.served_versions(10).pop()
    target = service.v["b"] if start != service.v["b"] else service.v["a"]
    stop = threading.Event()
    results: list[tuple[int, str | None]] = []

    def load() -> None:
        c = httpx.Client(base_url=str(service.http.base_url), timeout=60)
        while not stop.is_set():
            r = c.post("/ml/classify", json={"fields": FORM["fields"][:4]},
                       headers={"Authorization": f"Bearer {CLIENT}"})
            results.append((r.status_code, r.json().get("model_version") if r.status_code == 200 else r.text))

    workers = [threading.Thread(target=load) for _ in range(3)]
    for w in workers:
        w.start()
    time.sleep(2)
    r = _reload(service, target)
    time.sleep(2)
    stop.set()
    for w in workers:
        w.join()
    assert r.status_code == 200, r.text
    assert r.json()["version"] == target and len(r.json()["replicas"]) == 2
    failures = [x for x in results if x[0] != 200]
    assert failures == [] and len(results) > 20
    versions = [v for _, v in results]
    assert start in versions and target in versions  # the load spanned the swap
    assert service.served_versions(30) == {target}  # every replica answers with the new one
    reg = service.http.get("/ml/registry", headers={"Authorization": f"Bearer {ADMIN}"}).json()
    assert reg["committed"] == target
    assert [s["serving"] for s in reg["replicas"].values()] == [target, target]
    assert service.store.served_name() == target
    # Reloading the older version is the rollback; the store records it, so pruning keeps it.
    back = _reload(service, start)
    assert back.status_code == 200 and service.served_versions(20) == {start}
    assert service.store.served_name() == start
    assert start in {v.name for v in service.store.versions() if v.is_served}


def test_reload_default_is_latest(service: Service) -> None:
    service.store.promote(service.v["b"])
    r = _reload(service, None)
    assert r.status_code == 200 and r.json()["version"] == service.v["b"]
    assert service.served_versions(20) == {service.v["b"]}


def test_signup_and_login_forms_use_context_and_evidence(service: Service) -> None:
    service.store.promote(service.v["b"])  # the version (threshold 0.5) this test is written for
    assert _reload(service, None).status_code == 200
    signup = {"form": {"title": "Create your account", "submit": "Register"}, "fields": [
        {"selector": "#a", "label": "Email", "type": "email", "autocomplete": "email"},
        {"selector": "#b", "label": "Choose a username", "name": "user"},
        {"selector": "#c", "label": "Password", "type": "password", "autocomplete": "new-password"},
        {"selector": "#d", "label": "Confirm password", "type": "password"},
        {"selector": "#e", "label": "Given name", "autocomplete": "given-name"},
        {"selector": "#f", "label": "Postcode", "autocomplete": "shipping postal-code"},
        {"selector": "#g", "label": "Send me the newsletter by email", "type": "checkbox"},
        {"selector": "#h", "label": "Hasło (powtórz)", "type": "password"},
        {"selector": "#i", "label": "Bitte wählen", "type": "select",
         "options": [{"label": "Bitte wählen", "value": ""}, "Deutschland", "Österreich", "Schweiz"]},
        {"selector": "#j", "label": "Surname", "pattern": "[0-9]{5}"},  # five digits: no name
        {"selector": "#k", "label": "Surname", "pattern": "[A-Za-z' -]+"},
        {"selector": "#l", "label": "Password hint", "name": "pw_hint", "type": "text"}]}
    out = service.post("/ml/classify", signup).json()
    got = {m["selector"]: (m["key"], m["reason"]) for m in out["matches"]}
    rejected = {m["selector"]: m for m in out["rejected"]}
    assert rejected["#g"]["reason"] == "type" and "checkbox" in rejected["#g"]["evidence"][0]
    assert got["#h"] == ("password", "type")  # a password input is a password in any language
    assert got["#i"] == ("country", "options")  # the options say what the select is
    assert got["#k"] == ("last_name", "lexical")  # a pattern that admits a name ...
    assert "#j" not in got and rejected["#j"]["key"] != "last_name"  # ... and one that does not
    # A text input near "Password" is no password input (the hints file's ``needs_types``).
    assert (rejected["#l"]["key"], rejected["#l"]["reason"]) == ("password", "type"), rejected["#l"]
    assert got["#a"] == ("email", "autocomplete") and got["#b"][0] == "username"
    assert got["#c"] == ("password", "autocomplete") and got["#d"][0] == "password"
    assert got["#e"] == ("first_name", "autocomplete") and got["#f"] == ("postal_code", "autocomplete")
    login = {"form": {"submit": "Sign in"}, "fields": [
        {"selector": "#u", "label": "Email address", "type": "email", "name": "login"},
        {"selector": "#p", "label": "Password", "type": "password"}]}
    out = service.post("/ml/classify", login).json()
    got = {m["selector"]: (m["key"], m["reason"]) for m in out["matches"]}
    assert got["#u"] == ("username", "form_rule")  # the login context rule, declared as data
    assert got["#p"][0] == "password"

    # The same two fields as part of a page (which may hold several forms): no kind is
    # inferred from them, so the email field is an email.
    page = {**login, "form": {"scope": "page"}}
    out = service.post("/ml/classify", page).json()
    got = {m["selector"]: (m["key"], m["reason"]) for m in out["matches"]}
    assert got["#u"][0] == "email" and got["#p"][0] == "password"


def test_a_name_field_is_read_by_its_siblings(service: Service) -> None:
    """The hints file's sibling rules: a bare "Name" in a contact form without a last-name
    field is the full name; beside "Surname" it is the first name; alone, what the model says;
    a label that says "First name" stays the first name (the rule's ``unless`` words)."""
    def classify(fields: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        r = service.post("/ml/classify", {"fields": fields})
        assert r.status_code == 200, r.text
        return {m["selector"]: m for m in r.json()["matches"]}

    name = {"selector": "#n", "label": "Name", "name": "name"}
    alone = classify([name])["#n"]
    assert alone["key"] == "first_name" and alone["reason"] == "semantic"
    contact = classify([name, {"selector": "#e", "label": "Email", "type": "email", "name": "email"},
                        {"selector": "#m", "label": "Message", "name": "message"}])
    assert (contact["#n"]["key"], contact["#n"]["reason"]) == ("full_name", "sibling")
    assert contact["#n"]["runner_up"]["key"] == "first_name"
    assert "without a last_name field is full_name" in contact["#n"]["evidence"][-1]
    signup = classify([name, {"selector": "#l", "label": "Surname", "name": "surname"},
                       {"selector": "#e", "label": "Email", "type": "email", "name": "email"}])
    assert (signup["#n"]["key"], signup["#n"]["reason"]) == ("first_name", "semantic")
    assert signup["#l"]["key"] == "last_name"
    # "First name" says which name it is: a newsletter form without a last name keeps it.
    newsletter = classify([{"selector": "#f", "label": "First name", "name": "fname"},
                           {"selector": "#e", "label": "Email", "type": "email", "name": "email"}])
    assert (newsletter["#f"]["key"], newsletter["#f"]["reason"]) == ("first_name", "lexical")
    # A login form asks for a name and a password only: the name is the login name, whether
    # the client says the form's kind or not; the form has no email, user-name or phone field.
    password = {"selector": "#p", "label": "Password", "type": "password", "name": "password"}
    for form in (None, {"kind": "login"}, {"scope": "page"}):
        login = service.post("/ml/classify", {"fields": [name, password], "form": form}).json()
        got = {m["selector"]: m for m in login["matches"]}
        assert (got["#n"]["key"], got["#n"]["reason"]) == ("username", "sibling"), form
        assert got["#p"]["key"] == "password"
        # The words said first_name (as alone, above): without a last name that is the full
        # name (the rule before), and beside a lone password the login name.
        assert got["#n"]["runner_up"]["key"] == "first_name"
        assert got["#n"]["evidence"][-1].endswith(
            "; then a full_name field beside a password field and without an email, username, "
            "phone or last_name field is username (sibling rule)")
    # "Nom" is the last name beside "Prénom"; a French contact form without a first name asks
    # for the whole name, unless the field says which name it is.
    nom = {"selector": "#l", "label": "Votre nom", "name": "nom"}
    email = {"selector": "#e", "label": "Email", "type": "email", "name": "email"}
    french = classify([nom, email])["#l"]
    assert (french["key"], french["reason"], french["runner_up"]["key"]) == ("full_name", "sibling",
                                                                            "last_name")
    french_signup = classify([{"selector": "#f", "label": "Prénom", "name": "prenom"}, nom, email])
    assert (french_signup["#f"]["key"], french_signup["#l"]["key"]) == ("first_name", "last_name")
    surname = classify([{"selector": "#l", "label": "Nom de famille", "name": "nom"}, email])["#l"]
    assert surname["key"] == "last_name"
    # A label that names the first and the last name asks for the whole name, whatever the
    # field's name says; beside another form's surname field on the same page it stays so.
    whole = classify([{"selector": "#w", "label": "Your first name and last name",
                       "name": "user_name"}, email])["#w"]
    assert (whole["key"], whole["reason"]) == ("full_name", "lexical")
    assert whole["evidence"] == ["the label names first_name and last_name: together full_name"]
    page = service.post("/ml/classify", {"fields": [
        {"selector": "#w", "label": "First and last name", "name": "name"},
        {"selector": "#c", "label": "Last name", "name": "lname"}], "form": {"scope": "page"}})
    got = {m["selector"]: m["key"] for m in page.json()["matches"]}
    assert got == {"#w": "full_name", "#c": "last_name"}
    # Beside an email field the same two fields are a sign-up's name and password.
    signup_name = classify([name, {"selector": "#e", "label": "Email", "type": "email", "name": "email"},
                            password])["#n"]
    assert signup_name["key"] == "full_name"


def test_a_qualified_label_is_read_without_its_qualifier(service: Service) -> None:
    """The hints file's ``qualifiers`` through the real service: "Adresse de livraison" and
    "Work telephone" are no synonyms, but "Adresse" and "Telephone" are once the words that
    say whose address and which phone are left out; the evidence names those words."""
    fields = [{"selector": "#a", "label": "Adresse de livraison", "name": "ship_addr"},
              {"selector": "#t", "label": "Work telephone", "name": "tel_w"}]
    r = service.post("/ml/classify", {"fields": fields})
    assert r.status_code == 200, r.text
    got = {m["selector"]: m for m in r.json()["matches"]}
    assert (got["#a"]["key"], got["#a"]["reason"], got["#a"]["synonym"]) == (
        "address_line1", "lexical", "Adresse")
    assert "once the qualifier 'de livraison' is left out" in got["#a"]["evidence"][0]
    assert (got["#t"]["key"], got["#t"]["reason"], got["#t"]["synonym"]) == (
        "phone", "lexical", "Telephone")
    assert "once the qualifier 'work' is left out" in got["#t"]["evidence"][0]


def test_a_label_that_offers_alternatives(service: Service) -> None:
    """The hints file's ``or_words`` through the real service and model: "Email or
    username" offers two keys; the field's ``id`` ("user_login") chooses one, and without
    such an attribute the field abstains with the reason and the keys offered, rather than
    guess; beside an email field it is the user name; "Nachname, Vorname" offers the parts
    of the full name."""
    alone = _classify_page(service, [{"selector": "#g", "label": "Email or username", "name": "log"}])
    assert (alone["#g"]["key"], alone["#g"]["accepted"], alone["#g"]["reason"]) == (None, False, "ambiguous")
    assert alone["#g"]["evidence"] == ["the label offers email or username and no other attribute "
                                       "says which"]
    assert alone["#g"]["alternatives"] == ["email", "username"] and alone["#g"]["either"] is True
    # Only the separators between the parts that name keys say whether they are a choice.
    polite = _classify_page(service, [{"selector": "#g", "label": "E-mail or username, please",
                                       "name": "log"}])["#g"]
    assert (polite["reason"], polite["alternatives"], polite["either"]) == (
        "ambiguous", ["email", "username"], True), polite
    # /ml/fill, given the decision as classify returned it: any one of a choice answers the
    # field, the first the profile holds; a list of parts ("E-mail, username") is not one part.
    listed = _classify_page(service, [{"selector": "#c", "label": "E-mail, username", "name": "log"}])["#c"]
    assert (listed["reason"], listed["alternatives"], listed["either"], listed["listed"]) == (
        "ambiguous", ["email", "username"], False, [])
    for profile, filled in [({"username": "ada"}, ("username", "ada", "filled")),
                            ({"email": "a@b.c", "username": "ada"}, ("email", "a@b.c", "filled")),
                            ({"phone": "555"}, (None, "", "missing"))]:
        r = service.post("/ml/fill", {"user_profile": {"city": "Paris", **profile},
                                      "matches": [alone["#g"], listed]})
        assert r.status_code == 200, r.text
        assert [(f["key"], f["value"], f["status"]) for f in r.json()["fills"]] == [
            filled, (None, "", "ambiguous")]
    login = _classify_page(service, [{"selector": "#g", "label": "Email or username", "name": "log"},
                                     {"selector": "#e", "label": "Your e-mail", "name": "mail"}])
    assert (login["#e"]["key"], login["#e"]["accepted"]) == ("email", True), login["#e"]
    assert (login["#g"]["key"], login["#g"]["accepted"], login["#g"]["reason"]) == (
        "username", True, "assignment"), login["#g"]
    assert login["#g"]["evidence"][-1] == ("email is another field's: the label's one alternative "
                                           "left is username")
    assert login["#g"]["alternatives"] == []
    fields = [{"selector": "#u", "label": "Email or username", "name": "log", "id": "user_login"},
              {"selector": "#p", "label": "Ville ou code postal", "name": "recherche_code_postal"},
              {"selector": "#n", "label": "Nachname, Vorname", "name": "kunde_name"}]
    got = _classify_page(service, fields)
    assert (got["#u"]["key"], got["#u"]["accepted"], got["#u"]["reason"]) == ("username", True, "lexical")
    assert got["#u"]["evidence"] == ["the label offers email or username; 'user login' mentions "
                                     "'Login', a synonym of username"]
    assert (got["#p"]["key"], got["#p"]["accepted"]) == ("postal_code", True), got["#p"]
    assert got["#p"]["evidence"] == ["the label offers city or postal_code; 'recherche code postal' "
                                     "mentions 'Code postal', a synonym of postal_code"]
    # The parts of one key (the hints file's ``composites``) ask for the whole.
    assert (got["#n"]["key"], got["#n"]["accepted"], got["#n"]["reason"]) == ("full_name", True, "lexical")
    assert got["#n"]["evidence"] == ["the label offers first_name or last_name: together, full_name"]


def test_a_label_that_lists_the_parts_of_an_address(service: Service) -> None:
    """The hints file's ``listed_parts`` through the real service: in one form (the
    one-key-per-field assignment runs), "Address" is the street and "City, State, ZIP code" a
    place written out, an address too, whose ``listed`` parts /ml/fill writes; neither takes
    the key from the other. A choice ("City or ZIP code") still asks for one of them."""
    fields = [{"selector": "#a", "label": "Address", "name": "input_4"},
              {"selector": "#c", "label": "City, State, ZIP code", "name": "input_5"},
              {"selector": "#o", "label": "City or ZIP code", "name": "input_6"}]
    r = service.post("/ml/classify", {"fields": fields})
    assert r.status_code == 200, r.text
    got = {m["selector"]: m for m in r.json()["matches"] + r.json()["rejected"]}
    assert (got["#a"]["key"], got["#a"]["accepted"], got["#a"]["listed"]) == ("address_line1", True, [])
    assert (got["#c"]["key"], got["#c"]["accepted"], got["#c"]["reason"]) == (
        "address_line1", True, "lexical"), got["#c"]
    assert got["#c"]["listed"] == ["city", "state", "postal_code"]
    assert got["#c"]["evidence"] == ["the label offers city or postal_code or state: together, "
                                     "address_line1"]
    assert (got["#o"]["key"], got["#o"]["reason"], got["#o"]["alternatives"]) == (
        None, "ambiguous", ["city", "postal_code"]), got["#o"]
    profile = {"address_line1": "1 Main St", "city": "Springfield", "state": "IL",
               "postal_code": "62704"}
    r = service.post("/ml/fill", {"user_profile": profile, "matches": [got["#a"], got["#c"]]})
    assert r.status_code == 200, r.text
    assert [(f["key"], f["value"], f["status"]) for f in r.json()["fills"]] == [
        ("address_line1", "1 Main St", "filled"),
        ("address_line1", "Springfield, IL, 62704", "filled")]
    r = service.post("/ml/fill", {"user_profile": profile,
                                  "matches": [{**got["#c"], "listed": ["city", "town"]}]})
    assert r.status_code == 422 and "matches[0].listed[1]: unknown key 'town'" in r.text, r.text


def test_a_numbered_label_takes_its_number(service: Service) -> None:
    """The hints file's ``numbered`` through the real service: "Street address 2" and
    "Adresse 2" read as the first line's "Street address" and "Adresse", but their number
    makes them the second line; "Street address 1" stays the first. A label that ends in no
    number leaves it to the identifier that names the address (both lines labelled alike)."""
    fields = [{"selector": "#1", "label": "Street address 1", "name": "addr_a"},
              {"selector": "#2", "label": "Street address 2", "name": "addr_b"},
              {"selector": "#3", "label": "Adresse 2", "name": "adr_b"},
              {"selector": "#4", "label": "Street address", "name": "street_address2"}]
    r = service.post("/ml/classify", {"fields": fields})
    assert r.status_code == 200, r.text
    got = {m["selector"]: m for m in r.json()["matches"]}
    assert got["#1"]["key"] == "address_line1"
    for sel, label in (("#2", "Street address 2"), ("#3", "Adresse 2"),
                       ("#4", "street_address2")):
        assert (got[sel]["key"], got[sel]["reason"]) == ("address_line2", "number"), got[sel]
        assert got[sel]["runner_up"]["key"] == "address_line1"
        assert f"{label!r} ends in 2: address_line2 is number 2" in got[sel]["evidence"][-1]


def test_a_birth_date_needs_birth_on_the_form(service: Service) -> None:
    """The hints file's ``needs_words``: through the real model a "Year" select and a
    departure date read as date_of_birth, but a form that never mentions birth holds none;
    where the form's heading says "Date of birth", the same select is one."""
    def classify(fields: list[dict[str, Any]], form: dict[str, Any] | None = None,
                 ) -> dict[str, dict[str, Any]]:
        r = service.post("/ml/classify", {"fields": fields, **({"form": form} if form else {})})
        assert r.status_code == 200, r.text
        return {m["selector"]: m for m in r.json()["matches"] + r.json()["rejected"]}

    year = {"selector": "#y", "label": "Year", "name": "year", "type": "select"}
    trip = classify([year, {"selector": "#d", "label": "Departure date", "name": "departure",
                            "type": "date"}])
    for sel in ("#y", "#d"):
        m = trip[sel]
        assert (m["key"], m["accepted"], m["reason"]) == ("date_of_birth", False, "missing_context")
        assert m["score"] >= m["threshold"]  # the model alone would have accepted it
        assert "needs a word such as 'birth'" in m["evidence"][-1]
    profile = classify([year], form={"heading": "Date of birth"})
    assert (profile["#y"]["key"], profile["#y"]["accepted"], profile["#y"]["reason"]) == (
        "date_of_birth", True, "semantic")


def test_a_birth_date_in_three_selects_is_filled_part_by_part(service: Service) -> None:
    """Day, month and year selects all take date_of_birth (a repeatable key in the sample
    hints) and /ml/fill, given the matches as /ml/classify returned them, writes each its
    part of the profile's date: the option values, not the whole date."""
    months = ["January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December"]
    fields = [
        {"selector": "#bd", "label": "Birth day", "name": "birth_day", "type": "select",
         "options": [{"value": "", "label": "Day"}, *[str(d) for d in range(1, 32)]]},
        {"selector": "#bm", "label": "Birth month", "name": "birth_month", "type": "select",
         "options": [{"value": "", "label": "Month"},
                     *[{"value": str(i), "label": m} for i, m in enumerate(months, 1)]]},
        {"selector": "#by", "label": "Birth year", "name": "birth_year", "type": "select",
         "options": [str(y) for y in range(2010, 1930, -1)]},
        {"selector": "#e", "label": "Email", "type": "email", "name": "email"}]
    r = service.post("/ml/classify", {"fields": fields})
    assert r.status_code == 200, r.text
    matches = {m["selector"]: m for m in r.json()["matches"]}
    assert {s: matches[s]["key"] for s in ("#bd", "#bm", "#by")} == dict.fromkeys(
        ("#bd", "#bm", "#by"), "date_of_birth")
    options = {f["selector"]: f["options"] for f in fields if "options" in f}
    body = {"user_profile": {"date_of_birth": "1990-04-23", "email": "ada@example.com"},
            "matches": [{**m, "options": options.get(m["selector"])} for m in matches.values()]}
    r = service.post("/ml/fill", body)
    assert r.status_code == 200, r.text
    got = {f["selector"]: (f["value"], f["status"]) for f in r.json()["fills"]}
    assert got == {"#bd": ("23", "filled"), "#bm": ("4", "filled"), "#by": ("1990", "filled"),
                   "#e": ("ada@example.com", "filled")}


def test_the_autofill_tokens_decide_and_rule_out(service: Service) -> None:
    """A checkout form through the real service: tokens that name a key decide it (the birth
    date's parts, the middle name), tokens that name none (a dialling code, a card number)
    rule every key out whatever the words say, a word that is no token says nothing, and
    /ml/fill writes each birth-date select the part its token declares."""
    months = [{"value": str(i), "label": m} for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)]
    fields = [
        {"selector": "#cc", "label": "Country", "name": "phone_country", "type": "select",
         "autocomplete": "tel-country-code", "options": ["+49", "+33", "+1"]},
        {"selector": "#ph", "label": "Phone", "name": "phone", "type": "tel",
         "autocomplete": "tel-national"},
        {"selector": "#card", "label": "Card number", "name": "card", "autocomplete": "cc-number"},
        {"selector": "#mn", "label": "Second forename", "autocomplete": "additional-name"},
        {"selector": "#em", "label": "Email", "type": "email", "autocomplete": "off"},
        {"selector": "#d1", "name": "dob1", "type": "select", "autocomplete": "bday-day",
         "options": [str(d) for d in range(1, 32)]},
        {"selector": "#d2", "name": "dob2", "type": "select", "autocomplete": "bday-month",
         "options": months},
        {"selector": "#d3", "name": "dob3", "type": "select", "autocomplete": "bday-year",
         "options": [str(y) for y in range(2010, 1930, -1)]}]
    r = service.post("/ml/classify", {"fields": fields})
    assert r.status_code == 200, r.text
    out = {m["selector"]: m for m in r.json()["matches"] + r.json()["rejected"]}
    got = {s: (m["key"], m["accepted"], m["reason"]) for s, m in out.items()}
    assert got["#cc"] == (None, False, "autocomplete") and got["#card"] == (None, False, "autocomplete")
    assert "'tel-country-code' names none of the keys" in out["#cc"]["evidence"][0]
    assert got["#ph"] == ("phone", True, "autocomplete")
    assert got["#mn"] == ("middle_name", True, "autocomplete")
    assert got["#em"][:2] == ("email", True) and got["#em"][2] != "autocomplete"
    assert [got[s] for s in ("#d1", "#d2", "#d3")] == [("date_of_birth", True, "autocomplete")] * 3
    by_selector = {f["selector"]: f for f in fields}
    matches = [{**m, "options": by_selector[s].get("options"),
                "autocomplete": by_selector[s]["autocomplete"]}
               for s, m in out.items() if m["accepted"]]
    r = service.post("/ml/fill", {"user_profile": {"date_of_birth": "1990-04-23", "phone": "030 1234",
                                                   "email": "ada@example.com"}, "matches": matches})
    assert r.status_code == 200, r.text
    filled = {f["selector"]: f["value"] for f in r.json()["fills"]}
    assert {s: filled[s] for s in ("#d1", "#d2", "#d3", "#ph")} == {
        "#d1": "23", "#d2": "4", "#d3": "1990", "#ph": "030 1234"}


def test_unlabelled_date_parts_are_the_birth_date_the_form_asks_for(service: Service) -> None:
    """The date-part step through the real model: selects that say only "dia", "mes", "ano"
    are the birth date where the form's heading says "Data de nascimento", and nothing where
    it asks for a trip's date; /ml/fill writes each its part."""
    fields = [{"selector": "#d", "name": "dia", "type": "select",
               "options": [str(d) for d in range(1, 32)]},
              {"selector": "#m", "name": "mes", "type": "select",
               "options": [str(m) for m in range(1, 13)]},
              {"selector": "#a", "name": "ano", "type": "select",
               "options": [str(y) for y in range(2010, 1930, -1)]}]

    def classify(heading: str) -> dict[str, dict[str, Any]]:
        r = service.post("/ml/classify", {"fields": fields, "form": {"heading": heading}})
        assert r.status_code == 200, r.text
        return {m["selector"]: m for m in r.json()["matches"] + r.json()["rejected"]}

    birth = classify("Data de nascimento")
    assert {s: (m["key"], m["accepted"], m["reason"]) for s, m in birth.items()} == dict.fromkeys(
        ("#d", "#m", "#a"), ("date_of_birth", True, "date_part"))
    assert "the field names the year of a date" in birth["#a"]["evidence"][-1]
    trip = classify("Data da viagem")
    assert not [m for m in trip.values() if m["accepted"] and m["key"] == "date_of_birth"]
    options = {f["selector"]: f["options"] for f in fields}
    r = service.post("/ml/fill", {"user_profile": {"date_of_birth": "1990-04-23"},
                                  "matches": [{**m, "options": options[s]} for s, m in birth.items()]})
    assert r.status_code == 200, r.text
    assert {f["selector"]: f["value"] for f in r.json()["fills"]} == {"#d": "23", "#m": "4", "#a": "1990"}


def test_metrics_are_exported(service: Service) -> None:
    import os

    port = os.environ.get("SEMINDEX_TEST_METRICS_PORT")
    if port is None:
        pytest.skip("Ray was started outside the test session's fixture")
    for _ in range(3):
        service.post("/ml/classify", {"fields": [{"label": "E-mail"}, {"label": "Coupon code"}]})
    deadline = time.time() + 60
    text = ""
    while time.time() < deadline:
        try:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        except httpx.HTTPError:
            text = ""
        if "semindex_decisions" in text and "semindex_served_version" in text:
            break
        time.sleep(2)
    assert 'key="email"' in text and "semindex_decisions" in text
    assert "semindex_served_version" in text
    assert "serve_num_http_requests" in text or "serve_deployment_request_counter" in text
