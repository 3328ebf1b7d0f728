"""`semindex evaluate loop` end to end: real model, real Ray (Data, Train), real FAISS.

The labelled rows are made up here (never copied from the dev data): German field labels on
twelve "sites", against English-only canonical synonyms, so the base model misses many of
them and the reviewed feedback of fold A is what teaches fold B.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from semindex.cli import main
from semindex.data import load_eval_rows
from semindex.splits import split_by_group
from semindex.store import ModelStore

pytestmark = pytest.mark.ray

CANONICAL = {
    "first_name": ["First name", "Given name"],
    "last_name": ["Last name", "Surname"],
    "postal_code": ["Postal code", "ZIP code"],
    "city": ["City", "Town"],
    "phone": ["Phone number", "Telephone"],
    "email": ["Email address", "E-mail"],
}
FIELDS = [("Vorname", "first_name"), ("Nachname", "last_name"), ("Postleitzahl", "postal_code"),
          ("Wohnort", "city"), ("Handynummer", "phone"), ("E-Mail-Adresse", "email"),
          ("Gutscheincode", None), ("Anmerkungen zur Bestellung", None)]
SITES = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
         "juliett", "kilo", "lima"]


@pytest.fixture
def eval_file(tmp_path: Path) -> Path:
    p = tmp_path / "rows.jsonl"
    with p.open("w", encoding="utf-8") as fh:
        for site in SITES:
            for label, key in FIELDS:
                fh.write(json.dumps({"label": label, "placeholder": "", "name": "feld",
                                     "id": f"kunde_{site}", "input_type": "text", "expected": key,
                                     "site": site}, ensure_ascii=False) + "\n")
    return p


def test_feedback_loop_learns_fold_b_from_fold_a(tmp_path: Path, eval_file: Path, ray_session: None,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    canonical = tmp_path / "canonical.json"
    canonical.write_text(json.dumps(CANONICAL))
    store = tmp_path / "loop"
    rc = main(["--store", str(store), "evaluate", "loop", "--eval", str(eval_file),
               "--canonical", str(canonical), "--epochs", "1", "--json",
               "--set", "calibration.precision_floor=0.95"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    rows = load_eval_rows(str(eval_file))
    fold_a_sites = {r.group for r in split_by_group(rows, lambda r: r.group, [0.5], 0)[0]}
    assert out["fold_a"] + out["fold_b"] == len(rows) == 96 and 0 < out["fold_a"] < 96
    assert (out["fold_seed"], out["train_seed"]) == (0, 42)  # what reproduces the run

    # The reviewer CSV: one verdict per fold-A decision, plus the right answer when wrong.
    with (store / "fold_a_feedback.csv").open(encoding="utf-8") as fh:
        feedback = list(csv.DictReader(fh))
    assert out["feedback_rows"] == len(feedback) >= out["fold_a"]
    expected = {label: key or "unknown" for label, key in FIELDS}
    for row in feedback:
        label = row["query"].split(" | ")[0]
        assert (row["correct"] == "yes") == (row["matched_key"] == expected[label]), row
    assert len(feedback) - out["fold_a"] == sum(r["correct"] == "no" for r in feedback)

    reports = out["reports"]
    assert set(reports) == {"seed design (baseline)", "semindex zero-shot", "semindex after loop"}
    zero, after = reports["semindex zero-shot"], reports["semindex after loop"]
    assert zero["n"] == after["n"] == out["fold_b"]
    assert zero["accuracy"] < 0.9 and after["accuracy"] > zero["accuracy"]  # the loop learned
    # the report says which evidence decided each fold-B field, and how often it was right
    for rep in (zero, after):
        assert sum(r["n"] for r in rep["by_reason"].values()) == rep["n"]
        assert sum(r["correct"] for r in rep["by_reason"].values()) == round(rep["accuracy"] * rep["n"])

    # Fold B was never seen by training or calibration: no feedback text names a fold-B site.
    fold_b_sites = set(SITES) - fold_a_sites
    assert fold_b_sites and fold_a_sites
    assert not {w for r in feedback for w in r["query"].split()} & fold_b_sites
    # --set reached the training config.
    trained = ModelStore(store / "model_store").resolve(out["trained_version"])
    manifest = json.loads((trained / "manifest.json").read_text())
    assert manifest["mode"] == "full-train"
    assert manifest["config"]["calibration"]["precision_floor"] == 0.95


def test_cross_validation_scores_every_row_once_by_a_version_that_never_saw_its_site(
        tmp_path: Path, eval_file: Path, ray_session: None, capsys: pytest.CaptureFixture[str]) -> None:
    canonical = tmp_path / "canonical.json"
    canonical.write_text(json.dumps(CANONICAL))
    store = tmp_path / "cross"
    rc = main(["--store", str(store), "evaluate", "loop", "--cross", "--eval", str(eval_file),
               "--canonical", str(canonical), "--epochs", "1", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    rows = load_eval_rows(str(eval_file))
    parts = split_by_group(rows, lambda r: r.group, [0.5], 0)
    assert out["cross_validated"] == 2 and [f["held_out"] for f in out["folds"]] == [0, 1]
    assert [f["fold_b"] for f in out["folds"]] == [len(p) for p in parts]
    assert out["feedback_rows"] == sum(f["feedback_rows"] for f in out["folds"])
    for i, fold in enumerate(out["folds"]):
        # each fold trained on the other fold's feedback only: no text of its own sites
        with (store / f"fold{i}" / "fold_a_feedback.csv").open(encoding="utf-8") as fh:
            words = {w for r in csv.DictReader(fh) for w in r["query"].split()}
        held_sites, other_sites = {r.group for r in parts[i]}, {r.group for r in parts[1 - i]}
        assert other_sites <= words and not held_sites & words
        versions = ModelStore(store / f"fold{i}" / "model_store").names()
        assert {fold["zero_shot_version"], fold["trained_version"]} <= set(versions)
    # The pooled report is every row scored once: its counts are the folds' counts added.
    for name in ("seed design (baseline)", "semindex zero-shot", "semindex after loop"):
        pooled, per_fold = out["reports"][name], [f["reports"][name] for f in out["folds"]]
        assert pooled["n"] == len(rows) == sum(m["n"] for m in per_fold)
        assert round(pooled["accuracy"] * len(rows)) == sum(round(m["accuracy"] * m["n"]) for m in per_fold)
        accepted = [round((1 - m["abstain_rate"]) * m["n"]) for m in per_fold]
        assert round(pooled["precision"] * round((1 - pooled["abstain_rate"]) * len(rows))) == sum(
            round(m["precision"] * a) for m, a in zip(per_fold, accepted, strict=True))
    after = out["reports"]["semindex after loop"]
    assert sum(r["n"] for r in after["by_reason"].values()) == len(rows)
    for fold in out["folds"]:  # the loop learned in both directions
        zero_f, after_f = fold["reports"]["semindex zero-shot"], fold["reports"]["semindex after loop"]
        assert after_f["accuracy"] > zero_f["accuracy"]


def test_cross_validation_needs_a_group_for_every_fold(tmp_path: Path, eval_file: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    canonical = tmp_path / "canonical.json"
    canonical.write_text(json.dumps(CANONICAL))
    rc = main(["--store", str(tmp_path / "s"), "evaluate", "loop", "--cross", "--folds", "40",
               "--eval", str(eval_file), "--canonical", str(canonical)])
    assert rc == 2
    assert f"{eval_file} has too few groups (sites, queries) for 40 folds" in capsys.readouterr().err
    rc = main(["--store", str(tmp_path / "s"), "evaluate", "loop", "--folds", "1",
               "--eval", str(eval_file), "--canonical", str(canonical)])
    assert rc == 2 and "--folds must be 2 or more, not 1" in capsys.readouterr().err
