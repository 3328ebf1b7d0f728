"""The Ray Serve application: HTTP classify, fill, feedback, health, version, reload, train.

One deployment (``SemindexService``) is both the FastAPI ingress and the model holder, so
a request is one hop; concurrent classify requests are batched with ``@serve.batch`` and
all their fields embedded in one call. Reload is coordinated by
:mod:`semindex.serving.registry` (the reasons for that choice are there).
"""


import asyncio
import hmac
import logging
import os
import re
import threading
import time
import uuid
from typing import Any

import ray
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from ray import serve

from semindex import __version__
from semindex.data import UNKNOWN
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
from semindex.matcher import Decision
from semindex.remote_store import open_store
from semindex.serving.logs import decision_log, feedback_log, now
from semindex.serving.registry import get_registry
from semindex.serving.schemas import (
    ClassifyIn,
    ClassifyOut,
    FeedbackIn,
    FieldIn,
    FillIn,
    FillOut,
    ReloadIn,
    TrainIn,
    problems,
)
from semindex.serving.settings import ServeArgs, Settings, resolve_settings
from semindex.serving.state import PROBE_TEXT, Served, load_served, release_memory
from semindex.text import field_text

log = logging.getLogger("ray.serve")

api = FastAPI(title="semindex", version=__version__,
              description="Map form fields and short texts to canonical keys; learn from feedback.")

# The one place where errors become HTTP statuses.
_STATUS: list[tuple[type[SemindexError], int]] = [
    (NotReady, 503), (VersionNotFound, 404), (StoreError, 400), (ModelLoadError, 422),
    (DataError, 422), (ConfigError, 500), (SemindexError, 400)]


class HTTPError(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


@api.exception_handler(HTTPError)
async def _http_error(_: Request, exc: HTTPError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse({"error": exc.message, **exc.extra}, status_code=exc.status, headers=headers)


@api.exception_handler(SemindexError)
async def _semindex_error(_: Request, exc: SemindexError) -> JSONResponse:
    status = next(code for cls, code in _STATUS if isinstance(exc, cls))
    return JSONResponse({"error": str(exc)}, status_code=status)


@api.exception_handler(RequestValidationError)
async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
    found = problems(exc.errors())
    first = found[0] if found else {"field": "body", "message": "invalid"}
    return JSONResponse({"error": f"{first['field']}: {first['message']}", "problems": found[:20]},
                        status_code=422)


@api.middleware("http")
async def _edge(request: Request, call_next: Any) -> Any:
    """What every request passes first (one middleware: each costs ~0.2 ms a request):

    * CORS for the origins in ``args.cors_origins`` (a web page that calls the service from
      the browser; none by default). Preflights are answered here, before authentication;
      every answer to an allowed origin, errors included, carries the header, and lets the
      page read ``Server-Timing`` (the classify batch) and ``Location`` (a training job).
    * the body-size limit (413).
    """
    allowed: tuple[str, ...] = getattr(request.app.state, "cors_origins", ())
    origin = request.headers.get("origin")
    cors = ({"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
            if origin and ("*" in allowed or origin in allowed) else {})
    if cors and request.method == "OPTIONS" and "access-control-request-method" in request.headers:
        return Response(status_code=204, headers={
            **cors, "Access-Control-Allow-Methods": "GET, POST",
            "Access-Control-Allow-Headers": "Authorization, Content-Type",
            "Access-Control-Max-Age": "600"})
    response = await _limit_body(request) or await call_next(request)
    if cors:  # and the headers a page may read beyond the simple ones
        response.headers.update({**cors, "Access-Control-Expose-Headers": "Server-Timing, Location"})
    return response


async def _limit_body(request: Request) -> JSONResponse | None:
    """A 413 for a body over ``args.max_body_bytes``, else None."""
    limit = getattr(request.app.state, "max_body_bytes", 1_000_000)
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        return JSONResponse({"error": f"body: {length} bytes exceeds the limit of {limit}"},
                            status_code=413)
    if request.method == "POST" and length is None:
        body = await request.body()
        if len(body) > limit:
            return JSONResponse({"error": f"body exceeds the limit of {limit} bytes"}, status_code=413)
    return None


def _rss_mb() -> float:
    """This process's resident memory (Linux), reported with the registry heartbeat."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return float("nan")


def _as_field(d: Decision) -> dict[str, Any]:
    return d.to_json()


@serve.deployment(name="SemindexService")
@serve.ingress(api)
class SemindexService:
    """Holds one :class:`Served` reference; a reload swaps it after a full load."""

    def __init__(self, settings: Settings) -> None:
        from ray.util import metrics

        self.settings = settings
        self.args: ServeArgs = settings.args
        api.state.max_body_bytes = self.args.max_body_bytes
        api.state.cors_origins = tuple(self.args.cors_origins)
        self.store = open_store(settings.store_root)
        self.decisions = decision_log(settings.decision_log)
        self.feedback = feedback_log(settings.feedback_log)
        ctx = serve.get_replica_context()
        self.replica_id = str(getattr(ctx, "replica_id", None) or uuid.uuid4().hex)
        self.node_id = ray.get_runtime_context().get_node_id()
        self._served: Served | None = None
        self._reason = "starting"
        self._prepared: dict[str, Any] | None = None
        self._pending: tuple[str | None, str, Served] | None = None
        self._loading: threading.Thread | None = None
        self._stop = threading.Event()
        self.m_decisions = metrics.Counter("semindex_decisions", "classify decisions",
                                           tag_keys=("key", "accepted"))
        self.m_reloads = metrics.Counter("semindex_reloads", "reloads", tag_keys=("outcome",))
        self.m_failures = metrics.Counter("semindex_load_failures", "version load failures")
        self.m_log_failures = metrics.Counter("semindex_log_failures", "decision log rows not written")
        self.m_version = metrics.Gauge("semindex_served_version", "1 for the version served",
                                       tag_keys=("version",))
        batcher: Any = self._classify_batch
        batcher.set_max_batch_size(self.args.max_batch_size)
        self._in_flight = 0  # classify requests of this replica (one event loop: no lock)
        liveness = max(10.0, 20 * self.args.poll_interval_s)
        self.registry = get_registry(settings.store_root, liveness_s=liveness)
        # Load in __init__ (a replica may start without reconfigure ever being called).
        committed = ray.get(self.registry.get_committed.remote())
        target = committed or self.store.latest_name()
        if target is None:
            self._reason = (f"no version promoted in {settings.store_root} yet: run "
                            "train_job.py, then POST /ml/reload")
        else:
            try:
                self._swap(load_served(self.store, target, self.args.encoder))
                if committed is None:
                    chosen = ray.get(self.registry.propose_initial.remote(target))
                    if chosen != target:
                        self._swap(load_served(self.store, chosen, self.args.encoder))
                    self._record_served(chosen)
            except SemindexError as exc:
                self.m_failures.inc()
                self._reason = f"cannot load version {target}: {exc}"
                log.error(self._reason)
        self._poller = threading.Thread(target=self._poll_loop, daemon=True, name="semindex-poll")
        self._poller.start()

    # -- version following -----------------------------------------------------
    def _swap(self, served: Served) -> None:
        old = self._served
        self._served = served  # the one reference every request reads
        if old is not None:
            self.m_version.set(0, tags={"version": old.version})
        self.m_version.set(1, tags={"version": served.version})
        self._reason = ""
        del old
        release_memory()
        log.info("replica %s now serves %s", self.replica_id, served.version)

    def _record_served(self, version: str) -> None:
        """Tell the store which version the service serves, so that pruning keeps it."""
        try:
            self.store.mark_served(version, self.args.service_name)
        except Exception as exc:  # best effort: a read-only store can still be served
            log.warning("cannot record the served version %s in %s: %s", version,
                        self.settings.store_root, exc)

    def _load_in_background(self, version: str, attempt: str | None) -> None:
        def work() -> None:
            try:
                served = load_served(self.store, version, self.args.encoder)
                self._pending = (attempt, version, served)
                self._prepared = {"attempt": attempt, "version": version, "ok": True}
            except Exception as exc:  # any load failure refuses the version
                self.m_failures.inc()
                log.error("replica %s cannot load %s: %s", self.replica_id, version, exc)
                self._prepared = {"attempt": attempt, "version": version, "ok": False,
                                  "error": str(exc) or type(exc).__name__}

        self._loading = threading.Thread(target=work, daemon=True, name=f"semindex-load-{version}")
        self._loading.start()

    def _poll_loop(self) -> None:
        retry_at = 0.0
        while not self._stop.is_set():
            try:
                serving = self._served.version if self._served else None
                resp = ray.get(self.registry.poll.remote(self.replica_id, serving, self._prepared,
                                                         self.node_id, _rss_mb()), timeout=30)
                self._follow(resp, serving)
                if self._prepared and not self._prepared.get("ok") and time.time() > retry_at:
                    retry_at = time.time() + 10
            except Exception as exc:  # the registry restarting must not kill the replica
                log.warning("registry poll failed: %s", exc)
            self._stop.wait(self.args.poll_interval_s)

    def _follow(self, resp: dict[str, Any], serving: str | None) -> None:
        busy = self._loading is not None and self._loading.is_alive()
        attempt = resp.get("attempt")
        committed = resp.get("committed")
        if attempt and attempt["state"] == "preparing" and not busy and \
                (self._prepared or {}).get("attempt") != attempt["id"]:
            self._pending = None
            self._load_in_background(attempt["version"], attempt["id"])
            return
        if attempt and attempt["state"] == "aborted" and self._pending and \
                self._pending[0] == attempt["id"]:
            self._pending = None
            release_memory()
        if committed and committed != serving and not busy:
            if self._pending is not None and self._pending[1] == committed:
                self._swap(self._pending[2])
                self._pending = None
            elif (self._prepared or {}).get("version") != committed or (self._prepared or {}).get("ok"):
                self._load_in_background(committed, None)  # a late or restarted replica

    def check_health(self) -> None:
        """Serve's health check: the replica is broken only if it stopped following."""
        if not self._poller.is_alive():
            raise RuntimeError("registry poll thread died")

    def __del__(self) -> None:
        self._stop.set()

    # -- helpers ---------------------------------------------------------------
    def _ready(self) -> Served:
        served = self._served
        if served is None:
            raise NotReady(f"not ready: {self._reason}")
        return served

    def _auth(self, request: Request, scope: str) -> None:
        admin, client = self.settings.admin_token, self.settings.client_token
        if scope == "client" and client is None:
            return
        if scope == "admin" and admin is None:
            raise HTTPError(403, "admin endpoints are disabled: no admin token is configured "
                            f"(set {self.args.admin_token_env} or admin_token_file)")
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer ") or not header[7:].strip():
            raise HTTPError(401, "missing bearer token (Authorization: Bearer <token>)")
        token = header[7:].strip().encode()
        is_admin = admin is not None and hmac.compare_digest(token, admin.encode())
        is_client = client is not None and hmac.compare_digest(token, client.encode())
        if (scope == "admin" and is_admin) or (scope == "client" and (is_admin or is_client)):
            return
        if is_client:
            raise HTTPError(403, "this token has the client scope; the endpoint needs admin")
        raise HTTPError(401, "invalid token")

    def _check_text(self, where: str, value: str | None) -> None:
        if value is not None and len(value) > self.args.max_text_length:
            raise HTTPError(422, f"{where}: {len(value)} characters exceeds the limit of "
                            f"{self.args.max_text_length}")

    def _check_field(self, where: str, f: FieldIn) -> None:
        for attr in ("selector", "label", "placeholder", "name", "id", "type", "autocomplete"):
            self._check_text(f"{where}.{attr}", getattr(f, attr))

    # -- endpoints ---------------------------------------------------------------
    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.005)
    async def _classify_batch(self, jobs: list[tuple[list[dict[str, Any]], dict[str, Any] | None]],
                              ) -> list[tuple[str, list[Decision], int]]:
        served = self._ready()  # the whole batch uses one bundle
        results = await asyncio.to_thread(served.matcher.classify_many, jobs)
        return [(served.version, r, len(jobs)) for r in results]

    async def _classify_batched(self, job: tuple[list[dict[str, Any]], dict[str, Any] | None],
                                ) -> tuple[str, list[Decision], int]:
        """Classify one request in a batch with the concurrent ones. A batch waits up to
        ``batch_wait_timeout_s`` for more requests only while others are in flight: a lone
        request would wait for nobody (docs/benchmarks.md: 8 ms of a 33 ms one-field call)."""
        self._in_flight += 1
        try:
            batcher: Any = self._classify_batch
            batcher.set_batch_wait_timeout_s(self.args.batch_wait_timeout_s if self._in_flight > 1
                                             else 0.0)
            result: tuple[str, list[Decision], int] = await batcher(job)
            return result
        finally:
            self._in_flight -= 1

    @api.post("/ml/classify", response_model=ClassifyOut, tags=["ml"])
    async def classify(self, body: ClassifyIn, request: Request, response: Response) -> dict[str, Any]:
        """Classify the fields of one form; accepted matches and rejected candidates. The
        ``Server-Timing`` header says how long the batch took and how many requests it held."""
        self._auth(request, "client")
        if len(body.fields) > self.args.max_fields:
            raise HTTPError(413, f"fields: {len(body.fields)} fields exceeds the limit of "
                            f"{self.args.max_fields}")
        for i, f in enumerate(body.fields):
            self._check_field(f"fields[{i}]", f)
        self._ready()
        fields = [f.model_dump(exclude_none=True) for f in body.fields]
        form = body.form.model_dump(exclude_none=True) if body.form else None
        start = time.perf_counter()
        version, decisions, batch = await self._classify_batched((fields, form))
        response.headers["Server-Timing"] = (f'batch;dur={(time.perf_counter() - start) * 1000:.1f};'
                                             f'desc="size {batch}"')
        stamp = now()
        rows = [{"timestamp": stamp, "event": "classify", "selector": d.selector, "text": d.text,
                 "key": d.key, "score": round(d.score, 4), "threshold": round(d.threshold, 4),
                 "accepted": d.accepted, "reason": d.reason, "model_version": version}
                for d in decisions]
        await self._log_decisions(rows)
        for d in decisions:
            self.m_decisions.inc(tags={"key": d.key or "none", "accepted": str(d.accepted).lower()})
        return {"matches": [_as_field(d) for d in decisions if d.accepted],
                "rejected": [_as_field(d) for d in decisions if not d.accepted],
                "model_version": version}

    @api.post("/ml/fill", response_model=FillOut, tags=["ml"])
    async def fill_values(self, body: FillIn, request: Request) -> dict[str, Any]:
        """Values for previously classified fields from a user profile."""
        self._auth(request, "client")
        served = self._ready()
        keys = set(served.bundle.index.keys)
        for i, m in enumerate(body.matches):
            if m.key is None and not m.alternatives:
                raise HTTPError(422, f"matches[{i}].key: required (or the alternatives of an "
                                     "ambiguous match)")
            if m.key is not None and m.key not in keys:
                raise HTTPError(422, f"matches[{i}].key: unknown key {m.key!r}")
            for name, given in (("alternatives", m.alternatives), ("listed", m.listed)):
                for j, other in enumerate(given or []):
                    if other not in keys:
                        raise HTTPError(422, f"matches[{i}].{name}[{j}]: unknown key {other!r}")
            self._check_text(f"matches[{i}].selector", m.selector)
        for k, v in body.user_profile.items():
            if k not in keys:
                raise HTTPError(422, f"user_profile.{k}: unknown key")
            self._check_text(f"user_profile.{k}", v)
        matches = [m.model_dump(exclude_none=True) for m in body.matches]
        results = await asyncio.to_thread(fill, body.user_profile, matches, served.bundle.encoder,
                                          served.bundle.hints.date_parts)
        stamp = now()
        await self._log_decisions([
            {"timestamp": stamp, "event": "fill", "selector": r.selector, "key": r.key,
             "accepted": r.status == "filled", "reason": r.status, "model_version": served.version}
            for r in results])
        return {"fills": [r.to_json() for r in results], "model_version": served.version}

    @api.post("/ml/feedback", tags=["ml"], status_code=201)
    async def post_feedback(self, body: FeedbackIn, request: Request) -> dict[str, Any]:
        """A person confirmed or rejected a match: appended to the feedback log. The
        field's text is ``query`` (the ``text`` of a classify answer) or is built from
        ``field`` as classify builds it; either way the log holds that text."""
        self._auth(request, "client")
        served = self._served
        self._check_text("selector", body.selector)
        query, selector, where = body.query, body.selector, "query"
        if body.field is not None:
            self._check_field("field", body.field)
            fld = body.field.model_dump(exclude_none=True)
            query = served.matcher.texts([fld])[0] if served is not None else field_text(fld)
            if not query:
                raise HTTPError(422, "field: no text to record (label, placeholder, name or id)")
            selector = selector if selector is not None else body.field.selector
            where = "field"
        self._check_text(where, query)
        if (served is not None and body.matched_key not in served.bundle.index.keys
                and body.matched_key != UNKNOWN):
            raise HTTPError(422, f"matched_key: unknown key {body.matched_key!r} "
                                 f"(a canonical key, or {UNKNOWN!r} for none of them)")
        row = {"timestamp": now(), "query": query, "matched_key": body.matched_key,
               "correct": "yes" if body.correct else "no", "selector": selector,
               "score": body.score, "model_version": served.version if served else None}
        try:
            await asyncio.to_thread(self.feedback.append, [row])
        except OSError as exc:  # not recorded (disk full, the log gone): the client may retry
            log.error("feedback not recorded: %s: %s", self.feedback.path, exc)
            raise HTTPError(503, f"feedback not recorded: cannot write the feedback log "
                                 f"({exc.strerror or exc})") from exc
        return {"recorded": True, **row}

    async def _log_decisions(self, rows: list[dict[str, Any]]) -> None:
        """Append to the decision log. An answer is not withheld because its audit row
        cannot be written (disk full, a log directory gone): the failure is logged and
        counted (``semindex_log_failures``)."""
        try:
            await asyncio.to_thread(self.decisions.append, rows)
        except OSError as exc:
            self.m_log_failures.inc()
            log.error("decision log not written: %s: %s", self.decisions.path, exc)

    @api.get("/ml/health", tags=["ops"])
    async def health(self) -> JSONResponse:
        """200 with details when this replica can classify; 503 with the reason otherwise."""
        served = self._served
        if served is None:
            return JSONResponse({"status": "not_ready", "reason": self._reason,
                                 "replica": self.replica_id}, status_code=503)
        try:
            vec = await asyncio.to_thread(served.bundle.encoder.encode, [PROBE_TEXT])
            ok = vec.shape == (1, served.bundle.index.dim) and served.bundle.index.size > 0 \
                and bool(served.bundle.index.keys)
        except Exception as exc:
            return JSONResponse({"status": "error", "reason": str(exc)}, status_code=503)
        body = {"status": "ok" if ok else "error", "version": served.version,
                "replica": self.replica_id, "keys": len(served.bundle.index.keys),
                "vectors": served.bundle.index.size, "dim": served.bundle.index.dim}
        return JSONResponse(body, status_code=200 if ok else 503)

    @api.get("/ml/version", tags=["ops"])
    async def version(self) -> dict[str, Any]:
        """The version this replica serves and its manifest summary."""
        served = self._ready()
        return {"model_version": served.version, "replica": self.replica_id,
                "node": self.node_id, "manifest": served.bundle.summary()}

    @api.post("/ml/reload", tags=["admin"])
    async def reload(self, request: Request, body: ReloadIn | None = None) -> JSONResponse:
        """Every replica loads the version (default: latest), then all swap; admin only."""
        self._auth(request, "admin")
        name = (body.version if body else None) or self.store.latest_name()
        if name is None:
            raise VersionNotFound("no version has been promoted yet")
        await asyncio.to_thread(self.store.resolve, name)  # refuses bad names, escapes, unknown
        result = await self.registry.reload.remote(name, self.args.reload_timeout_s)
        self.m_reloads.inc(tags={"outcome": "ok" if result.get("ok") else "refused"})
        if result.get("ok"):
            await asyncio.to_thread(self._record_served, name)
        status = 200 if result.pop("ok") else int(result.pop("status", 500))
        return JSONResponse(result, status_code=status)

    @api.get("/ml/registry", tags=["admin"])
    async def registry_status(self, request: Request) -> dict[str, Any]:
        """The registry's view: committed version, live replicas and what they serve."""
        self._auth(request, "admin")
        status: dict[str, Any] = await self.registry.status.remote()
        return status

    @api.post("/ml/train", tags=["admin"], status_code=202)
    async def train(self, request: Request, body: TrainIn | None = None) -> JSONResponse:
        """Submit ``train_job.py`` as a Ray job; poll ``Location`` for its status."""
        self._auth(request, "admin")
        from semindex.serving.jobs import reload_url, submit_training

        job_id = await asyncio.to_thread(submit_training, self.settings, body or TrainIn(),
                                         reload_url(str(request.url), self.args.reload_url))
        return JSONResponse({"id": job_id, "status": "PENDING"}, status_code=202,
                            headers={"Location": f"/ml/train/{job_id}"})

    @api.get("/ml/train/{job_id}", tags=["admin"])
    async def train_status(self, job_id: str, request: Request) -> dict[str, Any]:
        """The training job's status, as the seed's status payload."""
        self._auth(request, "admin")
        if not re.fullmatch(r"[A-Za-z0-9_\-]{1,128}", job_id):
            raise HTTPError(400, "job id: invalid")
        from semindex.serving.jobs import training_status

        return await asyncio.to_thread(training_status, self.settings, job_id)


def build_app(args: ServeArgs) -> Any:
    """The application builder (``serve run configs/serve.yaml`` passes ``args:`` here)."""
    settings = resolve_settings(args)
    if "://" not in settings.store_root:  # a path that is a file fails here, not in every replica
        open_store(settings.store_root)
    options: dict[str, Any] = {
        "max_ongoing_requests": max(args.max_ongoing_requests, args.max_batch_size),
        "ray_actor_options": {"num_cpus": args.replica_cpus,
                              **({"resources": args.replica_resources} if args.replica_resources else {})},
        "health_check_period_s": 10,
    }
    if args.num_replicas == "auto":
        options["autoscaling_config"] = {"min_replicas": args.min_replicas,
                                         "max_replicas": args.max_replicas,
                                         "target_ongoing_requests": args.target_ongoing_requests}
    else:
        options["num_replicas"] = int(args.num_replicas)
    deployment: Any = SemindexService
    return deployment.options(**options).bind(settings)
