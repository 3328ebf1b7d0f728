from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from semindex.config import load_job_config
from semindex.errors import ConfigError
from semindex.splits import split_by_group
from semindex.training.triplets import build_triplets, hard_negatives

ROOT = Path(__file__).resolve().parents[1]


def test_config_defaults_env_and_cli_overrides() -> None:
    cfg = load_job_config(ROOT / "configs" / "train.yaml", environ={})
    assert cfg.gate.min_accuracy == 0.8 and cfg.mode == "full-train"
    assert cfg.gate.min_precision == 0.0 and cfg.gate.precision_tolerance == 0.03
    cfg = load_job_config(ROOT / "configs" / "train.yaml",
                          environ={"MIN_ACCURACY": "0.9", "MIN_PRECISION": "0.96", "BASE_MODEL": "/m",
                                   "SEMINDEX_RELOAD_URL": "http://x",
                                   "SEMINDEX_FEEDBACK_LOG": "/logs/feedback.csv"},
                          overrides={"train.epochs": "7", "gate.min_accuracy": "0.95"})
    assert cfg.gate.min_accuracy == 0.95  # the command line beats the environment
    assert cfg.gate.min_precision == 0.96
    assert cfg.base_model == "/m" and cfg.notify.reload_url == "http://x" and cfg.train.epochs == 7
    assert cfg.data.feedback_log == "/logs/feedback.csv" and cfg.data.feedback == "data/sample/feedback.csv"


@pytest.mark.parametrize(("yaml_text", "overrides", "message"), [
    ("train:\n  epochs: 0\n", {}, "train.epochs"),
    ("bogus: 1\n", {}, "bogus: Extra inputs are not permitted"),
    ("mode: [\n", {}, "line 2"),
    ("- a\n", {}, "top level must be a mapping"),
    ("", {"gate.min_accuracy": "high"}, "gate.min_accuracy"),
    ("", {"gate.min_precision": "1.5"}, "gate.min_precision"),
    ("", {"mode": "fly"}, "mode"),
])
def test_config_errors(tmp_path: Path, yaml_text: str, overrides: dict[str, str], message: str) -> None:
    p = tmp_path / "c.yaml"
    p.write_text(yaml_text)
    with pytest.raises(ConfigError, match=message) as info:
        load_job_config(p, overrides=overrides, environ={})
    assert "c.yaml" in str(info.value)


@pytest.mark.parametrize(("overrides", "nodes", "fits"), [
    ({}, [{"CPU": 4.0}], True),                                         # 1 worker of 2 CPUs
    ({"train.num_workers": "2"}, [{"CPU": 4.0}], True),
    ({"train.num_workers": "3"}, [{"CPU": 4.0}], False),                # 6 CPUs asked, 4 there
    ({"train.num_workers": "2"}, [{"CPU": 3.0}, {"CPU": 3.0}], True),   # one per node
    ({"train.cpus_per_worker": "8"}, [{"CPU": 4.0}, {"CPU": 4.0}], False),  # no node has 8
    ({"train.use_gpu": "true"}, [{"CPU": 16.0}], False),                # no GPU
    ({"train.use_gpu": "true", "train.num_workers": "2"}, [{"CPU": 16.0, "GPU": 1.0}], False),
    ({"train.use_gpu": "true"}, [{"CPU": 16.0, "GPU": 1.0}], True),
])
def test_train_workers_must_fit_the_cluster(overrides: dict[str, str], nodes: list[dict[str, float]],
                                            fits: bool) -> None:
    from semindex.training.pipeline import train_resources_problem

    problem = train_resources_problem(load_job_config(None, overrides=overrides, environ={}), nodes)
    assert (problem is None) == fits, problem
    if problem:
        assert "do not fit on this cluster" in problem and "train.num_workers" in problem


@pytest.mark.parametrize("word", ["null", "None", ""])
def test_an_override_can_name_no_file(word: str) -> None:
    cfg = load_job_config(None, overrides={"data.hints": word, "data.unknowns": word}, environ={})
    assert cfg.data.hints is None and cfg.data.unknowns is None
    assert load_job_config(None, environ={}).data.hints == "data/sample/canonical.hints.json"


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: config file not found"):
        load_job_config(tmp_path / "nope.yaml")


def test_a_config_file_that_is_not_utf8(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_bytes("gate:\n  min_accuracy: 0.5\n# café\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"c.yaml: line 3: not UTF-8 \(byte 0xe9\)"):
        load_job_config(p)


def test_split_is_group_disjoint_and_stable() -> None:
    items = [(f"q{i % 30}", i) for i in range(300)]
    a, b, c = split_by_group(items, lambda x: x[0], (0.25, 0.25), seed=3)
    groups = [{x[0] for x in part} for part in (a, b, c)]
    assert not (groups[0] & groups[1]) and not (groups[1] & groups[2]) and not (groups[0] & groups[2])
    assert split_by_group(items, lambda x: x[0], (0.25, 0.25), seed=3)[0] == a


def test_a_confirmed_text_the_canonical_file_keys_otherwise_is_not_trained() -> None:
    from semindex.data import Feedback, FeedbackRow, parse_canonical
    from semindex.hints import Hints
    from semindex.training.pipeline import Inputs, split_inputs

    canonical = parse_canonical({"address_line1": ["Address"], "address_line2": ["Address line 2"],
                                 "email": ["Email"]}, "c")
    rows = [FeedbackRow(q, k, True, i + 2) for i, (q, k) in enumerate(
        [("ADDRESS:", "address_line2"), ("Apt", "address_line2"), ("E-mail", "email")])]
    cfg = load_job_config(ROOT / "configs" / "train.yaml", environ={}, overrides={
        "split.calibration_fraction": "0", "split.eval_fraction": "0"})
    split = split_inputs(Inputs(canonical, Hints(), Feedback(rows, [], {}), [], [], "hash:8"), cfg)
    # The canonical file's "Address" stays address_line1 ("ADDRESS:" is the same text).
    assert split.overruled == [("ADDRESS:", "address_line2", "address_line1")]
    assert sorted(split.train_confirmed) == [("Apt", "address_line2"), ("E-mail", "email")]


def test_hard_negatives_are_key_aware() -> None:
    cand = np.eye(4, dtype=np.float32)
    anchors = np.array([[1, 0.9, 0.1, 0]], dtype=np.float32)
    # candidate 0 is the most similar but has the anchor's own key: never a negative
    assert hard_negatives(anchors, ["k0"], cand, ["k0", "k1", "k2", "k3"], 2) == [[1, 2]]


def test_build_triplets() -> None:
    syn_texts = ["First name", "Given name", "Last name", "Surname"]
    syn_keys = ["first", "first", "last", "last"]
    vecs = np.array([[1, 0, 0], [0.9, 0.1, 0], [0.6, 0.8, 0], [0.1, 1, 0]], dtype=np.float32)
    anchors = [("Vorname", "first")]
    anchor_vecs = np.array([[0.5, 0.5, 0.7]], dtype=np.float32)
    rejected = [("Search", "last"), ("Vorname", "last")]
    rej_vecs = np.array([[0, 0, 1], [0.5, 0.5, 0.7]], dtype=np.float32)
    t = build_triplets(syn_texts, syn_keys, vecs, anchors, anchor_vecs, rejected, rej_vecs,
                       {"vorname": "first"}, n_negatives=1)
    assert all(x.negative in ("Last name", "Surname") for x in t)
    assert any(x.anchor == "Vorname" and x.positive in ("First name", "Given name") for x in t)
    search = [x for x in t if x.anchor == "Search"]
    assert search and search[0].positive == "Search"  # unknown right key: itself as positive
    vor_rej = [x for x in t if x.anchor == "Vorname" and x.positive in ("First name", "Given name")]
    assert vor_rej  # a rejected query with a confirmed key uses that key's synonym


def test_index_only_synonyms_take_no_part_in_training() -> None:
    syn_texts = ["First name", "Vorname", "Last name", "Nachname"]
    syn_keys = ["first", "first", "last", "last"]
    vecs = np.array([[1, 0, 0], [0, 0, 1], [0, 1, 0], [0.1, 0.1, 0.9]], dtype=np.float32)
    anchors = [("First name", "first"), ("Vorname", "first"), ("Given name", "first")]
    anchor_vecs = np.array([[1, 0, 0], [0, 0, 1], [0.9, 0.1, 0]], dtype=np.float32)
    args = (syn_texts, syn_keys, vecs, anchors, anchor_vecs, [], np.zeros((0, 3), np.float32), {})
    texts = {x for t in build_triplets(*args, n_negatives=1) for x in (t.anchor, t.positive, t.negative)}
    assert {"Vorname", "Nachname"} <= texts  # trained on by default
    t = build_triplets(*args, n_negatives=1, index_only=frozenset({"vorname", "nachname"}))
    assert t and not {x for tr in t for x in (tr.anchor, tr.positive, tr.negative)} & {"Vorname", "Nachname"}
    assert ("Given name", "First name", "Last name") in {(x.anchor, x.positive, x.negative) for x in t}


def test_known_unknowns_are_pushed_from_their_nearest_key() -> None:
    syn_texts = ["First name", "Last name", "Coupon code"]
    syn_keys = ["first", "last", "unknown"]
    vecs = np.array([[1, 0, 0], [0, 1, 0], [0.2, 0.9, 0.1]], dtype=np.float32)
    anchors = [("Vorname", "first"), ("Nachname", "last")]
    anchor_vecs = np.array([[0.9, 0.1, 0], [0.1, 0.9, 0.1]], dtype=np.float32)
    t = build_triplets(syn_texts, syn_keys, vecs, anchors, anchor_vecs, [],
                       np.zeros((0, 3), dtype=np.float32), {}, n_negatives=1)
    assert ("Coupon code", "Coupon code", "Last name") in {(x.anchor, x.positive, x.negative) for x in t}
    # An unknown example is a negative for the key it sits next to, never a positive.
    assert any(x.anchor == "Nachname" and x.negative == "Coupon code" for x in t)
    assert all(x.positive != "Coupon code" for x in t if x.anchor != "Coupon code")


def test_model_selection_keeps_the_better_retriever() -> None:
    from semindex.data import SynonymRecord
    from semindex.training.selection import choose, top1_accuracy

    records = [SynonymRecord("a", "A"), SynonymRecord("b", "B"), SynonymRecord("unknown", "U")]
    vecs = np.eye(3, dtype=np.float32)
    good = np.array([[1, 0.1, 0], [0.1, 1, 0], [0, 0.2, 1]], dtype=np.float32)   # a, b, b->unknown
    bad = np.array([[0.1, 1, 0], [0, 0.1, 1], [0, 0, 1]], dtype=np.float32)     # b, unknown x2
    assert top1_accuracy(records, vecs, good, ["a", "b", "b"]) == pytest.approx(2 / 3)
    kept = choose(records, ["a", "b", "b"], base_vecs=vecs, base_queries=good, tuned_vecs=vecs,
                  tuned_queries=bad)
    assert (kept.kept, kept.n) == ("base", 3) and kept.finetuned_top1 == 0.0
    assert kept.base_top1 == pytest.approx(2 / 3)
    tie = choose(records, ["a"], base_vecs=vecs, base_queries=good[:1], tuned_vecs=vecs,
                 tuned_queries=good[:1])
    assert tie.kept == "fine-tuned"  # a tie keeps the training's result
    mixed = choose(records, ["a"], base_vecs=vecs, base_queries=bad[:1], tuned_vecs=vecs,
                   tuned_queries=good[:1], tuned_name="mixed")
    assert mixed.to_json()["kept"] == "mixed"  # the record names the model kept


def test_retrieval_check_leaves_the_queries_out_of_the_corpus() -> None:
    from semindex.training.selection import retrieval_set

    corpus = [("Email", "email"), ("E-mail address", "email"), ("Surname", "last_name"),
              ("Coupon code", "unknown"), ("Your mail", "email")]
    rs = retrieval_set([("Your mail", "email"), ("Nachname", "last_name"), ("Gift card", "unknown"),
                        ("Tel", "phone")], corpus)
    assert rs is not None
    texts = {rs.queries[q]: {rs.corpus[d] for d in rs.relevant[q]} for q in rs.queries}
    # a query never finds itself; unknowns and keys without a corpus text are not asked ...
    assert texts == {"Your mail": {"Email", "E-mail address"}, "Nachname": {"Surname"}}
    assert "Your mail" not in rs.corpus.values()
    assert "Coupon code" in rs.corpus.values()  # ... unknowns stay in the corpus as distractors
    assert retrieval_set([("Tel", "phone")], corpus) is None
