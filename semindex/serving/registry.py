"""The version registry: one named Ray actor that every replica, on every node, follows.

Why this mechanism (and not Serve's ``user_config``/``reconfigure`` or a watched file):

* ``reconfigure`` takes a replica out of routing while it runs and, if it raises, Serve
  restarts the replica and may mark the deployment DEPLOY_FAILED: a bad version would
  cost capacity instead of being refused. It also needs the declarative config PUT.
* polling a ``latest`` file serves mixed versions for a poll interval and only works on
  a filesystem every node shares; it cannot refuse a version some replica fails to load.
* a registry actor gives a two-phase reload that works across nodes: every live replica
  *prepares* the version in the background (model, index, thresholds, hints together),
  and only when all have succeeded is it *committed*; replicas then swap one reference.
  If any replica fails, the attempt is aborted and every replica keeps its version.
  A replica that starts later (autoscaling, a restarted node) asks the registry for the
  committed version, so it never comes up on the deploy-time version.

Replicas report with a heartbeat (every ``poll_interval_s``); a replica not heard from
for ``liveness_s`` is considered gone and is not waited for.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

REGISTRY_NAMESPACE = "semindex"


def registry_name(store_root: str) -> str:
    return "semindex-registry-" + hashlib.sha256(store_root.encode()).hexdigest()[:10]


@dataclass
class Attempt:
    id: str
    version: str
    state: str = "preparing"  # preparing | committed | aborted
    started: float = field(default_factory=time.time)


class VersionRegistry:
    """Async Ray actor; created with ``get_if_exists=True`` by the first replica."""

    def __init__(self, liveness_s: float = 10.0) -> None:
        self.committed: str | None = None
        self.attempt: Attempt | None = None
        self.replicas: dict[str, dict[str, Any]] = {}
        self.liveness_s = liveness_s
        self.history: list[dict[str, Any]] = []

    # -- replicas ----------------------------------------------------------------
    def poll(self, replica: str, serving: str | None, prepared: dict[str, Any] | None,
             node: str | None = None, rss_mb: float | None = None) -> dict[str, Any]:
        """Heartbeat: record what the replica serves and prepared; say what it should do."""
        self.replicas[replica] = {"serving": serving, "prepared": prepared, "seen": time.time(),
                                  "node": node, "rss_mb": rss_mb}
        if self.committed is None and serving is not None and self.attempt is None:
            # A restarted registry (its node was lost) relearns the version from survivors.
            self.committed = serving
        attempt = None
        if self.attempt is not None:
            attempt = {"id": self.attempt.id, "version": self.attempt.version,
                       "state": self.attempt.state}
        return {"committed": self.committed, "attempt": attempt}

    def propose_initial(self, version: str) -> str:
        """A starting replica's choice of version, kept only if nothing is committed yet."""
        if self.committed is None:
            self.committed = version
        return self.committed

    def get_committed(self) -> str | None:
        return self.committed

    def live(self) -> dict[str, dict[str, Any]]:
        cutoff = time.time() - self.liveness_s
        return {r: s for r, s in self.replicas.items() if s["seen"] >= cutoff}

    # -- reload ------------------------------------------------------------------
    async def reload(self, version: str, timeout_s: float = 180.0) -> dict[str, Any]:
        """Two-phase reload to ``version``; returns ``{"ok": bool, ...}`` with reasons."""
        if self.attempt is not None and self.attempt.state == "preparing":
            return {"ok": False, "status": 409, "error": f"a reload to {self.attempt.version} "
                    "is already in progress"}
        attempt = Attempt(uuid.uuid4().hex, version)
        self.attempt = attempt
        deadline = time.time() + timeout_s
        # Phase 1: every live replica prepares the version.
        while True:
            live = self.live()
            if not live:
                attempt.state = "aborted"
                return {"ok": False, "status": 503, "error": "no live replica to reload"}
            reports = {r: (s["prepared"] or {}) for r, s in live.items()}
            mine = {r: p for r, p in reports.items() if p.get("attempt") == attempt.id}
            failed = {r: p["error"] for r, p in mine.items() if p.get("error")}
            if failed:
                attempt.state = "aborted"
                return {"ok": False, "status": 422, "error": "version refused by replicas",
                        "version": version, "replicas": failed}
            if len(mine) == len(live) and all(p.get("ok") for p in mine.values()):
                break
            if time.time() > deadline:
                attempt.state = "aborted"
                return {"ok": False, "status": 504, "error": f"replicas did not prepare {version} "
                        f"within {timeout_s}s", "prepared": sorted(mine), "live": sorted(live)}
            await asyncio.sleep(0.05)
        # Phase 2: commit; replicas swap on their next heartbeat.
        previous = self.committed
        self.committed = version
        attempt.state = "committed"
        while True:
            live = self.live()
            if all(s["serving"] == version for s in live.values()):
                break
            if time.time() > deadline:
                return {"ok": False, "status": 504, "error": "replicas did not swap in time",
                        "serving": {r: s["serving"] for r, s in live.items()}}
            await asyncio.sleep(0.05)
        self.history.append({"at": time.time(), "version": version, "previous": previous})
        return {"ok": True, "version": version, "previous": previous,
                "replicas": sorted(self.live())}

    def status(self) -> dict[str, Any]:
        return {"committed": self.committed,
                "attempt": None if self.attempt is None else self.attempt.__dict__,
                "replicas": self.live(), "history": self.history[-20:]}


def get_registry(store_root: str, liveness_s: float = 10.0) -> Any:
    """The registry actor for this model store, created on first use (detached, 0 CPU)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    remote: Any = ray.remote
    actor_cls = remote(num_cpus=0, max_restarts=-1, max_concurrency=1000)(VersionRegistry)
    # On the head node, beside Serve's controller: losing a worker node must not lose the
    # committed version (soft: any node if the head is unknown).
    head = next((n["NodeID"] for n in ray.nodes()
                 if n.get("Alive") and "node:__internal_head__" in n.get("Resources", {})), None)
    options: dict[str, Any] = {}
    if head is not None:
        options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(head, soft=True)
    return actor_cls.options(name=registry_name(store_root), namespace=REGISTRY_NAMESPACE,
                             lifetime="detached", get_if_exists=True, **options).remote(liveness_s)
