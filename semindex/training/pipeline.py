"""The training job: validate, embed (Ray Data), fine-tune (Ray Train), calibrate, index,
evaluate, gate, promote, notify. ``train_job.py`` is a thin wrapper around :func:`run`.

Modes (as in the seed's orchestrator):

* ``smoke-test``: validate config, canonical data, feedback and the base model; write nothing.
* ``build-index``: base model, canonical synonyms only.
* ``build-index-feedback``: base model, synonyms enriched with confirmed feedback.
* ``full-train``: everything, with a triplet fine-tune of the model.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from semindex.artifacts import copy_model, write_descriptors, write_version
from semindex.bundle import load_bundle
from semindex.calibration import Example, calibrate, calibrate_lexical
from semindex.config import GateConfig, JobConfig
from semindex.data import (
    UNKNOWN,
    Canonical,
    Feedback,
    LabelledRow,
    SynonymRecord,
    file_sha256,
    load_canonical,
    load_eval_rows,
    load_feedback,
    load_unknowns,
    new_records,
    unknown_records,
    with_synonyms,
)
from semindex.encoder import (
    Encoder,
    SentenceTransformerEncoder,
    load_encoder,
    model_fingerprint,
    resolve_model_path,
)
from semindex.errors import ConfigError, SemindexError
from semindex.hints import Hints, load_hints
from semindex.matcher import Matcher
from semindex.quality import scored
from semindex.remote_store import AnyStore, open_store
from semindex.splits import split_by_group
from semindex.text import main_part, normalize
from semindex.training.embedding import EmbedStats, embed_texts, write_embeddings
from semindex.training.selection import retrieval_set
from semindex.training.triplets import build_triplets

log = logging.getLogger("semindex.train")


@dataclass
class Inputs:
    """Everything the job reads, validated before any work starts."""

    canonical: Canonical
    hints: Hints
    feedback: Feedback
    unknowns: list[str]
    eval_rows: list[LabelledRow]
    model_path: str
    log_rows: int = 0  # of ``feedback``, the rows read from ``data.feedback_log`` (the last ones)

    @property
    def index_only(self) -> frozenset[str]:
        """Normalised texts of the hints file's synonyms that the canonical file lacks:
        indexed, never trained on (as anchors and positives they pulled English queries
        towards scripts the base model cannot align: held-out top-1 0.90 -> 0.75 on the
        forms loop); lexical-only evidence in the matcher."""
        return self.canonical.lexical_only


def load_inputs(cfg: JobConfig) -> Inputs:
    own = load_canonical(cfg.data.canonical)
    hints = load_hints(cfg.data.hints, own.keys)
    canonical = with_synonyms(own, hints.synonyms)
    feedback = load_feedback(cfg.data.feedback, known_keys=canonical.keys,
                             strict=cfg.data.strict_feedback)
    log = load_feedback(cfg.data.feedback_log, known_keys=canonical.keys,
                        strict=cfg.data.strict_feedback)
    feedback = feedback.then(log) if cfg.data.feedback_log else feedback
    unknowns = load_unknowns(cfg.data.unknowns) + feedback.unknowns()
    eval_rows = load_eval_rows(cfg.data.eval_file) if cfg.data.eval_file else []
    model_path = cfg.base_model if cfg.base_model.startswith("hash:") else resolve_model_path(cfg.base_model)
    return Inputs(canonical, hints, feedback, unknowns, eval_rows, model_path, len(log.rows))


@dataclass
class Split:
    """Feedback and unknowns split by normalised query: no text is in two parts."""

    train_confirmed: list[tuple[str, str]]
    train_rejected: list[tuple[str, str]]
    train_unknown: list[str]
    calib: list[Example | tuple[str, str | None, str | None]]
    eval_rows: list[LabelledRow]
    calib_confirmed: list[tuple[str, str]] = field(default_factory=list)
    calib_unknown: list[str] = field(default_factory=list)
    #: Confirmed texts left out of training, as (text, confirmed key, the key the canonical
    #: file gives it).
    overruled: list[tuple[str, str, str]] = field(default_factory=list)
    #: The calibration part's rejected (text, key) pairs.
    calib_rejected: list[tuple[str, str]] = field(default_factory=list)

    def version_rejected(self) -> list[tuple[str, str]]:
        """The rejections a version holds: those of the parts it indexes (training and
        calibration), never the evaluation part's, which would score the gate."""
        return self.train_rejected + self.calib_rejected


def split_inputs(inputs: Inputs, cfg: JobConfig) -> Split:
    fractions = (cfg.split.calibration_fraction, cfg.split.eval_fraction)
    rows = [r for r in inputs.feedback.resolved() if r.matched_key != UNKNOWN]
    calib_fb, eval_fb, train_fb = split_by_group(rows, lambda r: normalize(r.query), fractions,
                                                 cfg.train.seed)
    calib_unk, eval_unk, train_unk = split_by_group(inputs.unknowns, normalize, fractions,
                                                    cfg.train.seed)
    confirmed_eval = {normalize(r.query) for r in eval_fb if r.correct}
    calib: list[Any] = [(r.query, r.matched_key, None) if r.correct else (r.query, None, r.matched_key)
                        for r in calib_fb]
    # Unknowns the version indexes (as known-unknown examples) would find themselves.
    calib += [(u, None, None) for u in calib_unk + ([] if indexes_feedback(cfg) else train_unk)]
    calib += [(r.query, None, r.matched_key) for r in eval_fb
              if not r.correct and normalize(r.query) not in confirmed_eval]
    eval_rows = [LabelledRow({"label": r.query}, r.matched_key, normalize(r.query))
                 for r in eval_fb if r.correct]
    eval_rows += [LabelledRow({"label": u}, None, normalize(u)) for u in eval_unk]
    eval_rows += inputs.eval_rows
    # A text the canonical file (or the hints file's synonyms) gives one key is not trained
    # as another's: "Address" confirmed on a form as its second line stays address_line1,
    # else the index holds the text under two keys and the fine-tune learns both.
    held = inputs.canonical.key_of()
    confirmed = [(r.query, r.matched_key, held.get(normalize(r.query), r.matched_key))
                 for r in train_fb if r.correct]
    return Split([(q, k) for q, k, canonical in confirmed if canonical == k],
                 [(r.query, r.matched_key) for r in train_fb if not r.correct], train_unk, calib,
                 eval_rows, [(r.query, r.matched_key) for r in calib_fb if r.correct], calib_unk,
                 [c for c in confirmed if c[2] != c[1]],
                 [(r.query, r.matched_key) for r in calib_fb if not r.correct])


def leave_one_out_records(split: Split, records: list[SynonymRecord]) -> list[SynonymRecord]:
    """The calibration split's confirmed texts and unknowns as extra index records (a text
    already in ``records`` is not repeated: it stays what the synonyms or training say)."""
    extra = new_records(((k, q) for q, k in split.calib_confirmed), records)
    return extra + unknown_records(split.calib_unknown, records + extra)


def indexes_feedback(cfg: JobConfig) -> bool:
    """Whether the mode puts feedback (confirmed queries, known unknowns) in the index."""
    return cfg.mode in ("build-index-feedback", "full-train")


@dataclass
class RunSummary:
    mode: str
    version: str | None = None
    promoted: bool = False
    reason: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    embed_stats: dict[str, Any] = field(default_factory=dict)

    def table(self) -> str:
        lines = ["", "=" * 60, f"semindex train  mode={self.mode}  version={self.version or '-'}",
                 "-" * 60, "data:"]
        lines += [f"  {k:28} {v}" for k, v in self.counts.items()]
        lines.append("timings (s):")
        lines += [f"  {k:28} {v:8.2f}" for k, v in self.timings.items()]
        new = self.metrics.get("new", {})
        old = self.metrics.get("latest") or {}
        if new:
            lines.append("metrics:          new      latest")
            for k in ("n", "accuracy", "precision", "recall", "abstain_rate"):
                o = old.get(k)
                lines.append(f"  {k:14} {new.get(k, 0):8.3f}  {o if o is None else f'{o:8.3f}'}")
        lines.append(f"promoted: {'yes' if self.promoted else 'no'}  ({self.reason})")
        lines.append("=" * 60)
        return "\n".join(lines)


class Timer:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        log.info("step %s ...", name)
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = time.perf_counter() - start
            log.info("step %s done in %.1fs", name, self.timings[name])


def calibration_examples(matcher: Matcher, calib: list[Any], records: list[SynonymRecord],
                         vectors: np.ndarray, own: dict[str, int] | None = None,
                         ) -> tuple[list[Example], list[tuple[float, bool]]]:
    """Scored examples for :func:`calibrate` and (ratio, right) pairs for the lexical cut.

    ``own`` maps a normalised calibration text to its own index record (leave-one-out:
    that record is ignored when the text is scored).
    """
    own = own or {}
    texts = [c[0] for c in calib]
    hits = matcher.candidates(texts, [own.get(normalize(t)) for t in texts])
    # A text whose nearest example is a known unknown, or a lexical-only synonym it shares
    # no word stem with, is abstained on by the semantic step whatever the thresholds are:
    # it calibrates nothing. (A contradicted text is not left out: the lexicon holds the
    # calibration texts' own reviewed answers, so the check would read the answer.)
    examples = [Example(h[0].key, h[0].score, exp, not_key)
                for h, (text, exp, not_key) in zip(hits, calib, strict=True)
                if h and h[0].key != UNKNOWN and matcher.lexicon.similarity_counts(main_part(text), h[0])]
    lex_pairs = []
    for text, exp, not_key in calib:
        # The matcher's lexical step compares the field's main text, not the joined text.
        main = main_part(text)
        key, ratio, _ = matcher.lexicon.best(main, leave_out=normalize(main) in own)
        if key not in (None, UNKNOWN) and (exp is not None or not_key is None or key == not_key):
            lex_pairs.append((ratio, key == exp))
    if sum(e.expected is not None for e in examples) < 10 and len(records) > 1:
        # Too little labelled feedback: leave-one-out over the synonyms gives positives.
        keys = np.asarray([r.key for r in records])
        sims = vectors @ vectors.T
        np.fill_diagonal(sims, -np.inf)
        sims[:, keys == UNKNOWN] = -np.inf
        sims[:, [r.lexical_only for r in records]] = -np.inf
        for i, rec in enumerate(records):
            if rec.key == UNKNOWN or (keys == rec.key).sum() < 2:
                continue
            j = int(np.argmax(sims[i]))
            if np.isfinite(sims[i, j]):
                examples.append(Example(str(keys[j]), float(sims[i, j]), rec.key))
    return examples, lex_pairs


def notify(url: str | None, token: str | None, version: str, timeout: float,
           attempts: int = 5, wait_s: float = 2.0) -> str:
    """POST the reload request; a failure is reported, never raised. A 409 (another reload
    is in progress) or a 503 (no replica up yet) is tried again after ``wait_s``, up to
    ``attempts`` times."""
    if not url:
        return "no reload URL configured"
    req = urllib.request.Request(url, data=json.dumps({"version": version}).encode(),
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": f"Bearer {token}"} if token else {})},
                                 method="POST")
    for attempt in range(1, attempts + 1):
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return f"reload answered {resp.status}" + (f" (try {attempt})" if attempt > 1 else "")
        except urllib.error.HTTPError as exc:
            if exc.code not in (409, 503) or attempt == attempts:
                detail = exc.read().decode("utf-8", "replace")[:300]
                log.warning("reload notification to %s answered %s: %s", url, exc.code, detail)
                return f"reload failed: {exc.code} {detail}"
            log.info("reload answered %s (try %d of %d): trying again in %.0fs", exc.code,
                     attempt, attempts, wait_s)
            time.sleep(wait_s)
        except (urllib.error.URLError, OSError) as exc:
            log.warning("reload notification to %s failed: %s", url, exc)
            return f"reload failed: {exc}"
    return "reload failed"  # not reached: the last try returns


def init_ray(cfg: JobConfig, address: str | None) -> bool:
    """Join the cluster at ``address`` (``ray job submit`` sets RAY_ADDRESS), else start one;
    True when this call started it (a cluster that cannot grow).

    A local Ray gets extra logical CPUs: on a 2-core machine an actor pool holding every
    CPU silently starves the tasks that feed it (ray issue 44687).
    """
    import ray

    if ray.is_initialized():
        return False
    if address:
        ray.init(address=address, log_to_driver=True)
        return False
    cpus = max(4, (os.cpu_count() or 2) + 2)
    ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=True)
    return True


def train_resources_problem(cfg: JobConfig, nodes: list[dict[str, float]]) -> str | None:
    """Why the fine-tune's Ray Train workers cannot be placed on nodes with these total
    resources (``ray.nodes()``' ``Resources``), else None. Ray Train would wait for them
    and retry without end."""
    t = cfg.train
    per_worker = {"CPU": t.cpus_per_worker, **({"GPU": 1.0} if t.use_gpu else {})}
    fits = sum(int(min(n.get(r, 0.0) / need for r, need in per_worker.items())) for n in nodes)
    if fits >= t.num_workers:
        return None
    asked = " and ".join(f"{need:g} {r}" for r, need in per_worker.items())
    have = ", ".join(" + ".join(f"{n.get(r, 0.0):g} {r}" for r in per_worker) for n in nodes)
    return (f"train.num_workers={t.num_workers} workers of {asked} each do not fit on this "
            f"cluster (nodes: {have}; {fits} fit): lower train.num_workers or "
            "train.cpus_per_worker, or add nodes")


def run(cfg: JobConfig, *, ray_address: str | None = None,
        on_stage: Callable[[str], None] | None = None) -> RunSummary:
    """Run one job in ``cfg.mode``; raises :class:`SemindexError` on bad input before work."""
    timer = Timer()
    summary = RunSummary(cfg.mode)
    stage = on_stage or (lambda _name: None)
    with timer.step("validate"):
        inputs = load_inputs(cfg)
    fb = inputs.feedback
    summary.counts = {"keys": len(inputs.canonical.keys),
                      "synonyms": len(inputs.canonical.records()),
                      "hints synonyms (index only)": len(inputs.index_only),
                      "feedback rows": len(fb.rows), "of them from the feedback log": inputs.log_rows,
                      "feedback problems": len(fb.problems),
                      "confirmed": len(fb.confirmed()), "rejected": len(fb.rejected()),
                      "unknowns": len(inputs.unknowns), "eval file rows": len(inputs.eval_rows)}
    if cfg.mode == "smoke-test":
        with timer.step("load model"):
            enc = load_encoder(inputs.model_path)
            probe = enc.encode(["smoke test"])
            if probe.shape != (1, enc.dim):
                raise SemindexError(f"{inputs.model_path}: probe embedding has shape {probe.shape}")
        summary.reason = "smoke test passed: nothing written"
        summary.timings = timer.timings
        return summary

    started = init_ray(cfg, ray_address or cfg.ray_address)
    if cfg.mode == "full-train":
        import ray

        problem = train_resources_problem(cfg, [n["Resources"] for n in ray.nodes() if n.get("Alive")])
        if problem and started:  # the Ray this job started cannot grow: fail before any work
            raise ConfigError(problem)
        if problem:
            log.warning("%s (waiting for an autoscaler to add them)", problem)
    store = open_store(cfg.model_store)
    split = split_inputs(inputs, cfg)
    if split.overruled:
        summary.counts["overruled by canonical"] = len(split.overruled)
        log.warning("%d confirmed feedback text(s) not trained on: the canonical data gives them "
                    "another key (%s); edit the canonical file to move a text", len(split.overruled),
                    "; ".join(f"{q!r} confirmed as {k}, canonical {c}" for q, k, c in split.overruled[:3]))
    use_gpu_embed = _use_gpu(cfg.embed.use_gpu)
    cache_root = store.root / ".cache" / "embeddings" if cfg.embed.cache else None
    parent = store.latest_name()
    with store.create() as (name, staging):
        summary.version = name
        log.info("building version %s in %s", name, staging)
        base_dim = load_encoder(inputs.model_path).dim if inputs.model_path.startswith("hash:") else None

        def embed(texts: list[str], model_path: str) -> tuple[np.ndarray, EmbedStats]:
            dim = base_dim or _model_dim(model_path)
            cache = cache_root / model_fingerprint(model_path) if cache_root else None
            return embed_texts(texts, model_path, dim=dim, num_actors=cfg.embed.num_actors,
                               batch_size=cfg.embed.batch_size,
                               cpus_per_actor=cfg.embed.cpus_per_actor, use_gpu=use_gpu_embed,
                               cache_dir=cache)

        canonical = inputs.canonical
        if indexes_feedback(cfg):
            canonical = canonical.with_extra(((k, q) for q, k in split.train_confirmed),
                                             reviewed=True)
        records = canonical.records()
        if indexes_feedback(cfg):
            records += unknown_records(split.train_unknown, records)
        syn_texts = [r.synonym for r in records]
        syn_keys = [r.key for r in records]
        # Indexed, never trained on: calibrated leave-one-out (see CalibrationConfig).
        loo = (leave_one_out_records(split, records)
               if indexes_feedback(cfg) and cfg.calibration.leave_one_out else [])
        loo_texts = [r.synonym for r in loo]
        summary.counts["calibration texts indexed"] = len(loo)

        stage("embed")
        with timer.step("embed (base model)"):
            anchor_pairs = ([(r.synonym, r.key) for r in records if r.key != UNKNOWN]
                            if cfg.train.synonym_anchors else [])
            anchor_pairs += [(q, k) for q, k in split.train_confirmed
                             if normalize(q) not in {normalize(t) for t, _ in anchor_pairs}]
            all_texts = (syn_texts + [q for q, _ in anchor_pairs]
                         + [q for q, _ in split.train_rejected] + loo_texts)
            vecs, stats = embed(all_texts, inputs.model_path)
            summary.embed_stats["base"] = stats.__dict__
        n_syn = len(syn_texts)
        syn_vecs, anchor_vecs, rejected_vecs, base_loo_vecs = np.split(
            vecs, np.cumsum([n_syn, len(anchor_pairs), len(split.train_rejected)]))

        model_dir = staging / "model"
        if cfg.mode == "full-train":
            stage("triplets")
            with timer.step("triplets"):
                triplets = build_triplets(
                    syn_texts, syn_keys, syn_vecs, anchor_pairs, anchor_vecs,
                    split.train_rejected, rejected_vecs,
                    {normalize(q): k for q, k in split.train_confirmed},
                    n_negatives=cfg.train.hard_negatives, index_only=inputs.index_only)
                train_t, val_t = split_by_group(triplets, lambda t: normalize(t.anchor),
                                                (1 - cfg.train.validation_fraction,), cfg.train.seed)
                summary.counts["triplets train"] = len(train_t)
                summary.counts["triplets validation"] = len(val_t)
                key_of = {normalize(t): k for t, k in anchor_pairs}
                val_anchors = {t.anchor: key_of[normalize(t.anchor)] for t in val_t
                               if normalize(t.anchor) in key_of}
                retrieval = retrieval_set(list(val_anchors.items()), list(zip(syn_texts, syn_keys)))
                summary.counts["retrieval check queries"] = len(retrieval.queries) if retrieval else 0
            stage("finetune")
            if inputs.model_path.startswith("hash:"):
                raise SemindexError("full-train needs a real model, not the hash test encoder")
            if not train_t:
                # No anchor has both a positive (another text of its key) and a negative
                # (a text of another key): one key, or one synonym per key and no feedback.
                why = (f"no training triplets from {len(inputs.canonical.keys)} key(s) and "
                       f"{len(split.train_confirmed)} confirmed feedback text(s)")
                log.warning("fine-tune skipped: %s; the base model is kept", why)
                summary.metrics["train"] = {"skipped": why}
                copy_model(inputs.model_path, model_dir)
            else:
                with timer.step("fine-tune (Ray Train)"):
                    from semindex.training.finetune import finetune

                    summary.metrics["train"] = finetune(
                        inputs.model_path, train_t, val_t, model_dir, epochs=cfg.train.epochs,
                        batch_size=cfg.train.batch_size, learning_rate=cfg.train.learning_rate,
                        margin=cfg.train.margin, seed=cfg.train.seed,
                        patience=cfg.train.early_stopping_patience,
                        num_workers=cfg.train.num_workers, use_gpu=cfg.train.use_gpu,
                        cpus_per_worker=cfg.train.cpus_per_worker,
                        storage_path=cfg.train.storage_path or str(store.root / ".ray_train"),
                        run_name=name, placement_strategy=cfg.train.placement_strategy,
                        retrieval=retrieval)
                if cfg.train.weight_mix < 1:
                    with timer.step("weight mix"):
                        from semindex.training.mixing import mix_into

                        mix_into(model_dir, inputs.model_path, cfg.train.weight_mix)
                        summary.metrics["train"]["weight_mix"] = cfg.train.weight_mix
        else:
            copy_model(inputs.model_path, model_dir)
        model_path = str(model_dir) if not inputs.model_path.startswith("hash:") else inputs.model_path

        stage("index")
        with timer.step("embed (final model)"):
            final_all, stats = embed(syn_texts + loo_texts, model_path)
            final_vecs = final_all[:n_syn]
            summary.embed_stats["final"] = stats.__dict__
        held_out = [(c[0], c[1]) for c in split.calib if isinstance(c, tuple) and c[1] is not None]
        tuned = cfg.mode == "full-train" and "skipped" not in summary.metrics["train"]
        # The driver loads the final model once: selection's copy serves the index step.
        encoder: Encoder | None = None
        if tuned and len(held_out) >= cfg.train.min_selection_examples:
            with timer.step("select (fine-tuned vs base)"):
                from semindex.training.selection import choose

                queries = [q for q, _ in held_out]
                base_encoder, encoder = load_encoder(inputs.model_path), load_encoder(model_path)
                choice = choose(records, [k for _, k in held_out], base_vecs=syn_vecs,
                                base_queries=base_encoder.encode(queries),
                                tuned_vecs=final_vecs,
                                tuned_queries=encoder.encode(queries),
                                tuned_name="mixed" if cfg.train.weight_mix < 1 else "fine-tuned")
                summary.metrics["model_selection"] = choice.to_json()
                log.info("held-out top-1: base %.3f, trained %.3f (n=%d): keeping the %s model",
                         choice.base_top1, choice.finetuned_top1, choice.n, choice.kept)
                if choice.kept == "base":
                    shutil.rmtree(model_dir)
                    copy_model(inputs.model_path, model_dir)
                    final_all = np.concatenate([syn_vecs, base_loo_vecs])
                    encoder = base_encoder
        index_records = records + loo
        write_embeddings(staging / "embeddings.parquet", [r.key for r in index_records],
                         [r.synonym for r in index_records], final_all)
        if cfg.onnx_int8 and not model_path.startswith("hash:"):
            with timer.step("export ONNX int8"):
                from semindex.onnx_encoder import ONNX_DIR, export_int8

                export_int8(model_dir, model_dir / ONNX_DIR)
        with timer.step("index"):
            if encoder is None:
                encoder = load_encoder(str(model_dir))
            cal = cfg.calibration
            from semindex.calibration import Thresholds

            provisional = Thresholds(cal.default_threshold, {}, cal.lexical_threshold)
            metrics: dict[str, Any] = {}
            manifest = _manifest(cfg, inputs, parent, name)
            rejected = split.version_rejected() if indexes_feedback(cfg) else []
            summary.counts["rejections held by the version"] = len(rejected)
            index = write_version(staging, records=index_records, vectors=final_all,
                                  thresholds=provisional, hints=inputs.hints, metrics=metrics,
                                  manifest=manifest, index_exact_max=cfg.index_exact_max,
                                  index_ef_search=cfg.index_ef_search, rejected=rejected)

        stage("calibrate")
        with timer.step("calibrate"):
            bundle = load_bundle(staging, encoder=encoder)
            matcher = Matcher(bundle)
            own = {normalize(r.synonym): len(records) + i for i, r in enumerate(loo)}
            examples, lex_pairs = calibration_examples(matcher, split.calib, index_records,
                                                       final_all, own)
            lex_t, lex_fig = calibrate_lexical(lex_pairs, default=cal.lexical_threshold)
            thresholds = calibrate(examples, precision_floor=cal.precision_floor,
                                   min_key_examples=cal.min_key_examples,
                                   prior_weight=cal.key_prior_weight,
                                   default=cal.default_threshold, lexical=lex_t,
                                   resamples=cal.resamples, seed=cfg.train.seed)
            thresholds.figures["lexical"] = lex_fig
            summary.counts["calibration examples"] = len(examples)

        stage("evaluate")
        with timer.step("evaluate"):
            bundle = replace(bundle, thresholds=thresholds)  # the index is built once, above
            new = scored(Matcher(bundle), split.eval_rows)

            def score_latest(version: str | None) -> dict[str, Any] | None:
                if version is None:
                    return None
                try:
                    return scored(Matcher(load_bundle(store.resolve(version))), split.eval_rows)
                except SemindexError as exc:
                    log.warning("cannot evaluate current latest %s: %s", version, exc)
                    return None

            old = score_latest(parent)
            promote, reason = gate(new, old, cfg.gate)
            metrics = {"new": new, "latest": old, "latest_version": parent,
                       "eval_rows": len(split.eval_rows),
                       "gate": {"promote": promote, "reason": reason, **cfg.gate.model_dump()},
                       "train": summary.metrics.get("train"),
                       "model_selection": summary.metrics.get("model_selection")}
            manifest["metrics"] = {k: new[k] for k in ("n", "accuracy", "precision", "recall",
                                                        "abstain_rate")}
            manifest["thresholds"] = {"global": thresholds.global_, "lexical": thresholds.lexical}
            write_descriptors(staging, index, thresholds=thresholds, hints=inputs.hints,
                              metrics=metrics, manifest=manifest)
            summary.metrics.update(metrics)
        stage("commit")
    # The version is now complete and visible; only promotion remains.
    summary.reason = reason
    if promote:
        promote, summary.reason = promote_gated(
            store, name, parent, reason, score_latest,
            lambda old: gate(new, old, cfg.gate),
            reason=f"train {cfg.mode}")
    if promote:
        summary.promoted = True
        stage("promoted")
        with timer.step("notify"):
            summary.reason += "; " + notify(cfg.notify.reload_url, cfg.notify.token, name,
                                            cfg.notify.timeout_s)
    summary.timings = timer.timings
    return summary


def promote_gated(store: AnyStore, name: str, parent: str | None, why: str,
                  score: Callable[[str | None], dict[str, Any] | None],
                  gate_against: Callable[[dict[str, Any] | None], tuple[bool, str]],
                  reason: str, attempts: int = 3) -> tuple[bool, str]:
    """Promote ``name``, which passed the gate against ``parent`` (``why``), only while
    ``latest`` is still ``parent``. If another job or an operator moved ``latest`` meanwhile,
    the version is scored against the new latest (``score``, ``gate_against``) and promoted
    only if it passes again. Returns (promoted, why)."""
    for attempt in range(attempts):
        if store.promote_if(name, parent, reason=reason if attempt == 0 else
                            f"{reason}; gated again against {parent}"):
            return True, why
        moved = store.latest_name()
        log.warning("latest moved from %s to %s while this job ran: gating %s again",
                    parent, moved, name)
        parent = moved
        ok, why = gate_against(score(parent))
        why = f"latest moved to {parent} while this job ran; against it: {why}"
        if not ok:
            return False, why
    return False, f"latest kept moving while this job ran (last {parent}): not promoted"


def gate(new: dict[str, Any], old: dict[str, Any] | None, cfg: GateConfig) -> tuple[bool, str]:
    """Promote only if accuracy and the precision of accepted matches meet their floors and
    neither is worse than latest's (scored on the same rows) beyond its tolerance."""
    if new["n"] == 0:
        return False, "no evaluation rows: nothing shows the version is good"
    acc, prec = new["accuracy"], new["precision"]
    if acc < cfg.min_accuracy:
        return False, f"accuracy {acc:.3f} < MIN_ACCURACY {cfg.min_accuracy:.3f}"
    if prec < cfg.min_precision:
        return False, f"precision {prec:.3f} < MIN_PRECISION {cfg.min_precision:.3f}"
    if old is not None and acc < old["accuracy"] - cfg.tolerance:
        return False, (f"accuracy {acc:.3f} is worse than latest {old['accuracy']:.3f} "
                       f"beyond tolerance {cfg.tolerance}")
    if old is not None and prec < old["precision"] - cfg.precision_tolerance:
        return False, (f"precision {prec:.3f} is worse than latest {old['precision']:.3f} "
                       f"beyond precision_tolerance {cfg.precision_tolerance}")
    return True, f"accuracy {acc:.3f}, precision {prec:.3f} pass the gate"


def _manifest(cfg: JobConfig, inputs: Inputs, parent: str | None, name: str) -> dict[str, Any]:
    return {
        "mode": cfg.mode, "base_model": cfg.base_model, "base_model_path": inputs.model_path,
        "parent_version": parent, "config": _redacted(cfg),
        "inputs": {"canonical": {"path": cfg.data.canonical, "sha256": file_sha256(cfg.data.canonical)},
                   "hints": {"path": cfg.data.hints, "sha256": file_sha256(cfg.data.hints)},
                   "feedback": {"path": cfg.data.feedback, "sha256": file_sha256(cfg.data.feedback),
                                "rows": len(inputs.feedback.rows) - inputs.log_rows},
                   # append-only and written while the job runs: its first ``rows`` were read
                   "feedback_log": {"path": cfg.data.feedback_log, "rows": inputs.log_rows},
                   "unknowns": {"path": cfg.data.unknowns, "sha256": file_sha256(cfg.data.unknowns)},
                   "eval_file": {"path": cfg.data.eval_file, "sha256": file_sha256(cfg.data.eval_file)}},
    }


def _redacted(cfg: JobConfig) -> dict[str, Any]:
    """The config for the manifest, without the admin token."""
    dumped = cfg.model_dump(mode="json")
    if dumped["notify"].get("token"):
        dumped["notify"]["token"] = "***"
    return dumped


def _use_gpu(setting: bool | str) -> bool:
    if setting == "auto":
        import ray

        return bool(ray.cluster_resources().get("GPU", 0))
    return bool(setting)


def _model_dim(model_path: str) -> int:
    """The embedding dimension from the model's config, without loading the weights."""
    p = Path(model_path)
    for rel in ("1_Pooling/config.json",):
        f = p / rel
        if f.exists():
            conf = json.loads(f.read_text())
            for key in ("word_embedding_dimension", "embedding_dimension"):
                if key in conf:
                    return int(conf[key])
    return SentenceTransformerEncoder(model_path).dim
