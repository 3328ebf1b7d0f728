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
