"""Quality measurement: score a version on labelled rows, and the feedback-loop protocol.

The loop protocol (``semindex evaluate loop``) is what shows whether training learns:
rows are split by group (site for forms, query for titles) into disjoint folds A and B;
the zero-shot model's decisions on A, abstentions ("unknown") included, become the
feedback CSV a reviewer would produce (``yes`` when right, ``no`` when wrong, and the
right answer as ``yes``: a key, or ``unknown`` for a field that is none of them); the
full training job runs on it; B is scored before and after. B is never seen by training
or calibration.
"""

from __future__ import annotations

import csv
import logging
import tempfile
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from semindex.bundle import Bundle, EncoderKind, load_bundle
from semindex.calibration import Example, calibrate
from semindex.config import JobConfig, load_job_config
from semindex.data import (
    UNKNOWN,
    Canonical,
    LabelledRow,
    csv_cell,
    load_canonical,
    load_eval_rows,
    with_synonyms,
)
from semindex.errors import SemindexError
from semindex.evaluation import score
from semindex.hints import Hints, load_hints
from semindex.index import KeyIndex
from semindex.matcher import Decision, Matcher
from semindex.remote_store import open_store
from semindex.splits import split_by_group

log = logging.getLogger(__name__)


#: The systems a loop scores, in report order.
BASELINE, ZERO_SHOT, AFTER_LOOP = "seed design (baseline)", "semindex zero-shot", "semindex after loop"
SYSTEMS = (BASELINE, ZERO_SHOT, AFTER_LOOP)


@dataclass(frozen=True)
class Outcome:
    """One system's answers on a held-out fold: the accepted key (None: abstained) and,
    for semindex, the step that decided, per row."""

    predicted: list[str | None]
    reasons: list[str] | None = None


def _outcome(matcher: Matcher, rows: list[LabelledRow]) -> Outcome:
    decisions = decide(matcher, rows)
    return Outcome([d.key if d.accepted else None for d in decisions], [d.reason for d in decisions])


def predict(matcher: Matcher, rows: list[LabelledRow]) -> list[str | None]:
    """The accepted key (or None) for each labelled row (see :func:`decide`)."""
    return _outcome(matcher, rows).predicted


def decide(matcher: Matcher, rows: list[LabelledRow]) -> list[Decision]:
    """The matcher's decision for each labelled row, through the full matcher.

    The rows of one page are one request with ``form.scope = "page"``: the evaluation data
    carries no form boundaries (a page holds several forms, e.g. login and sign-up, each
    with its own email field), so the page gives the sibling rules their siblings but no
    form kind is inferred and no key is assigned one per field. A row without a page is
    classified alone.
    """
    out: list[Decision | None] = [None] * len(rows)
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(f"page:{r.page}" if r.page else f"row:{i}", []).append(i)
    requests = [([rows[i].field for i in idx], {"scope": "page"} if g.startswith("page:") else None)
                for g, idx in groups.items()]
    for idx, decisions in zip(groups.values(), matcher.classify_many(requests), strict=True):
        for i, d in zip(idx, decisions, strict=True):
            out[i] = d
    return [d for d in out if d is not None]


def scored(matcher: Matcher, rows: list[LabelledRow]) -> dict[str, Any]:
    """:func:`~semindex.evaluation.score` of the matcher on ``rows``, with the by-reason table.
    Rows that expect a key the version does not have can never be right: they are scored
    (as such) and counted in ``unknown_expected``, with a warning (a typo in the file, or
    the wrong canonical file)."""
    foreign = foreign_keys(rows, set(matcher.bundle.index.keys))
    warn_foreign(foreign)
    return scored_outcome(_outcome(matcher, rows), rows, foreign)


def foreign_keys(rows: list[LabelledRow], keys: set[str]) -> Counter[str]:
    """How many rows expect each key that is not in ``keys``."""
    return Counter(r.expected for r in rows if r.expected is not None and r.expected not in keys)


def warn_foreign(foreign: Counter[str]) -> None:
    if foreign:
        log.warning("%d evaluation row(s) expect keys the version does not have: %s", sum(foreign.values()),
                    ", ".join(f"{k} x{n}" for k, n in sorted(foreign.items())))


def scored_outcome(outcome: Outcome, rows: list[LabelledRow], foreign: Counter[str]) -> dict[str, Any]:
    """:func:`~semindex.evaluation.score` of one system's answers on ``rows``; ``foreign``:
    :func:`foreign_keys` of ``rows``."""
    metrics = score(outcome.predicted, [r.expected for r in rows], outcome.reasons)
    if foreign:
        metrics["unknown_expected"] = dict(sorted(foreign.items()))
    return metrics


def rebind(bundle: Bundle, canonical: Canonical, hints: Hints | None = None, *,
           joined: bool = False, text_mode: str | None = None) -> Bundle:
    """The same model over another canonical set (in memory; nothing is written).

    ``joined`` indexes one vector per key (all synonyms joined), as the seed did.
    """
    from semindex.data import SynonymRecord

    records = ([SynonymRecord(d["id"], d["text"]) for d in canonical.flattened()] if joined
               else canonical.records())
    vectors = bundle.encoder.encode([r.synonym for r in records])
    manifest = dict(bundle.manifest)
    if text_mode is not None:
        manifest["config"] = {**manifest.get("config", {}), "text_mode": text_mode}
    return replace(bundle, index=KeyIndex.build(records, vectors),
                   hints=hints if hints is not None else bundle.hints, manifest=manifest)


def evaluate_version(store_root: str, version: str, eval_path: str, *, canonical: str | None = None,
                     hints: str | None = None, encoder_kind: EncoderKind = "torch") -> dict[str, Any]:
    store = open_store(store_root)
    bundle = load_bundle(store.resolve(version), encoder_kind=encoder_kind)
    if canonical:
        canon = load_canonical(canonical)
        extra = load_hints(hints, canon.keys) if hints else None
        bundle = rebind(bundle, with_synonyms(canon, extra.synonyms) if extra else canon, extra)
    rows = load_eval_rows(eval_path)
    metrics = scored(Matcher(bundle), rows)
    return {"version": bundle.name, "eval": eval_path, "reports": {bundle.name: metrics}}


def reviewer_feedback(matcher: Matcher, rows: list[LabelledRow], path: Path) -> int:
    """Write the feedback CSV a reviewer would produce for the model's decisions on ``rows``."""
    preds = predict(matcher, rows)
    texts = matcher.texts([r.field for r in rows])
    n = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["query", "matched_key", "correct"])
        for text, pred, row in zip(texts, preds, rows, strict=True):
            if not text:
                continue
            # The decision, "unknown" included, is confirmed or rejected ...
            w.writerow([csv_cell(text), pred or UNKNOWN, "yes" if pred == row.expected else "no"])
            n += 1
            if pred != row.expected:  # ... and a wrong one corrected.
                w.writerow([csv_cell(text), row.expected or UNKNOWN, "yes"])
                n += 1
    return n


def seed_baseline(bundle: Bundle, canonical: Canonical, feedback_csv: Path,
                  fold_b: list[LabelledRow]) -> list[str | None]:
    """The predecessor's design: label>placeholder>name>id text, one joined vector per key,
    one global threshold (calibrated on the same reviewer feedback the loop gets), no
    field evidence, no assignment. Returns its key (or None) for each row of ``fold_b``."""
    from semindex.data import load_feedback

    base = rebind(bundle, canonical, Hints(), joined=True, text_mode="precedence")
    matcher = Matcher(base, assign=False)
    rows = load_feedback(feedback_csv).resolved()
    hits = matcher.candidates([r.query for r in rows])
    examples = []
    for h, r in zip(hits, rows, strict=True):
        if not h or (r.matched_key == UNKNOWN and not r.correct):
            continue
        known = r.matched_key != UNKNOWN
        examples.append(Example(h[0].key, h[0].score, r.matched_key if r.correct and known else None,
                                None if r.correct else r.matched_key))
    base = replace(base, thresholds=replace(base.thresholds, global_=calibrate(examples).global_,
                                            per_key={}))
    return predict(Matcher(base, assign=False), fold_b)


def feedback_loop(eval_path: str, canonical: str, *, hints: str | None = None,
                  store_root: str | None = None, base_model: str = "packaged:all-MiniLM-L6-v2",
                  folds: int = 2, epochs: int = 3, text_mode: str = "rich", seed: int = 0,
                  fold_b_index: int = 1, cross: bool = False,
                  overrides: dict[str, str] | None = None) -> dict[str, Any]:
    """Zero-shot vs after-the-loop on a held-out fold, plus the seed-design baseline.

    The rows are split by group into ``folds`` disjoint parts (``seed``); part
    ``fold_b_index`` is fold B and the others are fold A. With ``cross`` every part is held
    out in turn (k-fold cross-validation, each under ``store_root/fold<i>``): every row is
    then scored once, by a version that never saw its group, and ``reports`` pool all rows
    while ``folds`` holds each part's own run.
    ``overrides`` (``section.field`` -> value) change the training config of every run.
    """
    if folds < 2:
        raise SemindexError(f"evaluate loop: --folds must be 2 or more, not {folds}")
    rows = load_eval_rows(eval_path)
    canon = load_canonical(canonical)
    foreign = foreign_keys(rows, set(canon.keys))
    warn_foreign(foreign)
    parts = split_by_group(rows, lambda r: r.group, [1 / folds] * (folds - 1), seed)
    if not all(parts):
        raise SemindexError(f"evaluate loop: {eval_path} has too few groups (sites, queries) "
                            f"for {folds} folds")
    work = Path(store_root or tempfile.mkdtemp(prefix="semindex-loop-"))
    head = {"eval": eval_path, "rows": len(rows), "fold_seed": seed}
    if not cross:
        result, _ = _loop_on_fold(parts, fold_b_index % folds, canonical, canon, hints, work, base_model,
                                  epochs, text_mode, overrides)
        return {**head, **result}
    runs = [_loop_on_fold(parts, i, canonical, canon, hints, work / f"fold{i}", base_model, epochs,
                          text_mode, overrides) for i in range(folds)]
    pooled = [r for p in parts for r in p]
    reports = {}
    for name in SYSTEMS:
        reasons = [x for _, o in runs for x in o[name].reasons or []] or None
        reports[name] = scored_outcome(Outcome([k for _, o in runs for k in o[name].predicted], reasons),
                                       pooled, foreign)
    return {**head, "cross_validated": folds, "train_seed": runs[0][0]["train_seed"],
            "feedback_rows": sum(r["feedback_rows"] for r, _ in runs),
            "folds": [r for r, _ in runs], "reports": reports}


def _loop_on_fold(parts: list[list[LabelledRow]], held_out: int, canonical: str, canon: Canonical,
                  hints: str | None, work: Path, base_model: str, epochs: int, text_mode: str,
                  overrides: dict[str, str] | None) -> tuple[dict[str, Any], dict[str, Outcome]]:
    """One loop: part ``held_out`` is fold B, the other parts fold A. Returns the report and
    each system's answers on fold B."""
    from semindex.training.pipeline import run

    fold_b = parts[held_out]
    fold_a = [r for i, p in enumerate(parts) if i != held_out for r in p]
    settings: dict[str, Any] = {
        "model_store": str(work / "model_store"), "base_model": base_model, "text_mode": text_mode,
        "data.canonical": canonical, "data.hints": hints, "data.unknowns": None,
        "data.eval_file": None, "gate.min_accuracy": "0", "train.epochs": str(epochs),
        # fold A's feedback: 30 % calibrates; fold B, not a split of A, is the evaluation
        "split.calibration_fraction": "0.3", "split.eval_fraction": "0",
        **(overrides or {})}
    cfg: JobConfig = load_job_config(None, overrides={**settings, "mode": "build-index",
                                                      "data.feedback": None}, environ={})
    cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update={"hints": hints, "unknowns": None,
                                                                     "feedback": None})})
    work.mkdir(parents=True, exist_ok=True)
    log.info("loop: fold %d held out (%d rows), fold A %d rows, in %s", held_out, len(fold_b),
             len(fold_a), work)
    zero = run(cfg)
    store = open_store(cfg.model_store)
    zero_bundle = load_bundle(store.resolve(zero.version or ""))
    outcomes = {ZERO_SHOT: _outcome(Matcher(zero_bundle), fold_b)}
    feedback_csv = work / "fold_a_feedback.csv"
    n_feedback = reviewer_feedback(Matcher(zero_bundle), fold_a, feedback_csv)
    full_cfg = cfg.model_copy(update={
        "mode": "full-train",
        "data": cfg.data.model_copy(update={"feedback": str(feedback_csv)})})
    trained = run(full_cfg)
    tuned = load_bundle(store.resolve(trained.version or ""))
    outcomes[AFTER_LOOP] = _outcome(Matcher(tuned), fold_b)
    outcomes[BASELINE] = Outcome(seed_baseline(zero_bundle, canon, feedback_csv, fold_b))
    foreign = foreign_keys(fold_b, set(canon.keys))
    reports = {name: scored_outcome(outcomes[name], fold_b, foreign) for name in SYSTEMS}
    return ({"held_out": held_out, "fold_a": len(fold_a), "fold_b": len(fold_b),
             "feedback_rows": n_feedback, "train_seed": full_cfg.train.seed,
             "zero_shot_version": zero.version, "trained_version": trained.version,
             "timings": trained.timings, "reports": reports}, outcomes)
