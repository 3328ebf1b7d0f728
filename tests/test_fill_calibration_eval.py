from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from semindex.calibration import (
    Example,
    bagged_threshold,
    best_threshold,
    calibrate,
    calibrate_lexical,
    confusion_at,
)
from semindex.encoder import HashEncoder
from semindex.evaluation import score, wilson
from semindex.fill import choose_option, date_format_from_hint, fill
from semindex.hints import Hints

PROFILE = {"first_name": "  Ada ", "date_of_birth": "1815-12-10", "country": "United States",
           "postal_code": "1000177", "email": ""}


@pytest.mark.parametrize(("match", "value", "status"), [
    ({"key": "first_name"}, "Ada", "filled"),
    ({"key": "postal_code", "maxlength": 5}, "10001", "truncated"),  # "1000177" does not fit
    ({"key": "postal_code", "maxlength": 7}, "1000177", "filled"),
    ({"key": "date_of_birth", "type": "date"}, "1815-12-10", "filled"),
    ({"key": "date_of_birth", "placeholder": "MM/DD/YYYY"}, "12/10/1815", "filled"),
    ({"key": "date_of_birth", "placeholder": "dd.mm.yyyy"}, "10.12.1815", "filled"),
    ({"key": "country", "options": ["Germany", "United States"]}, "United States", "filled"),
    ({"key": "country", "options": [{"value": "US", "label": "united states"}]}, "US", "filled"),
    ({"key": "country", "options": ["Narnia"]}, "", "no_option"),
    ({"key": "email"}, "", "missing"),
    ({"key": "phone"}, "", "missing"),
])
def test_fill(match: dict[str, Any], value: str, status: str) -> None:
    r = fill(PROFILE, [{"selector": "#f", **match}])[0]
    assert (r.value, r.status, r.selector) == (value, status, "#f")


@pytest.mark.parametrize(("profile", "match", "key", "value", "status"), [
    # "Email or username": any one answers it, the first the profile holds
    ({"email": "a@b.c", "username": "ada"}, {"alternatives": ["email", "username"], "either": True},
     "email", "a@b.c", "filled"),
    ({"email": "a@b.c", "username": "ada"}, {"alternatives": ["username", "email"], "either": True},
     "username", "ada", "filled"),
    ({"email": " ", "username": "ada"}, {"alternatives": ["email", "username"], "either": True},
     "username", "ada", "filled"),  # a blank value is not held
    ({"email": "a@b.c"}, {"alternatives": ["postal_code", "email"], "either": True, "maxlength": 3},
     "email", "a@b", "truncated"),  # then filled as that key is
    ({"phone": "1"}, {"alternatives": ["email", "username"], "either": True}, None, "", "missing"),
    # "Email or phone" whose pattern wants digits: the address is passed over for the number
    ({"email": "a@b.c", "phone": "+1 555 0100"},
     {"alternatives": ["email", "phone"], "either": True, "pattern": "[0-9]+"},
     "phone", "15550100", "filled"),
    ({"email": "a@b.c", "phone": "+1 555 0100"},  # none fits: the first one's answer
     {"alternatives": ["email", "phone"], "either": True, "pattern": "[0-9]{3}"}, "email", "",
     "pattern_mismatch"),
    # "City, State, Zip": the parts may all be wanted, and one is not the answer
    ({"city": "Paris", "postal_code": "75001"}, {"alternatives": ["city", "postal_code"]},
     None, "", "ambiguous"),
    # a label that lists an address's parts ("City, State, Zip"): the parts held, in order
    ({"city": "Springfield", "state": "IL", "postal_code": "62704", "address_line1": "1 Main St"},
     {"key": "address_line1", "listed": ["city", "state", "postal_code"]},
     "address_line1", "Springfield, IL, 62704", "filled"),
    ({"city": "Springfield", "state": " ", "postal_code": "62704"},
     {"key": "address_line1", "listed": ["city", "state", "postal_code"], "maxlength": 15},
     "address_line1", "Springfield, 62", "truncated"),
    ({"address_line1": "1 Main St"}, {"key": "address_line1", "listed": ["city", "state"]},
     "address_line1", "", "missing"),  # never the street for the place
    # a key, where classify chose one, is what is filled
    ({"email": "a@b.c", "username": "ada"},
     {"key": "username", "alternatives": ["email", "username"], "either": True}, "username", "ada", "filled"),
])
def test_fill_an_ambiguous_match_from_its_alternatives(profile: dict[str, str], match: dict[str, Any],
                                                       key: str | None, value: str, status: str) -> None:
    r = fill(profile, [{"selector": "#f", **match}])[0]
    assert (r.key, r.value, r.status) == (key, value, status)


@pytest.mark.parametrize(("profile_value", "match", "value", "status"), [
    ("+1 (555) 010-9999", {"pattern": r"\+?[0-9 ()\-]+"}, "+1 (555) 010-9999", "filled"),
    ("+1 (555) 010-9999", {"pattern": r"\+[0-9]{11}"}, "+15550109999", "filled"),  # separators out
    ("+1 (555) 010-9999", {"pattern": r"[0-9]{11}"}, "15550109999", "filled"),  # digits only
    ("+1 (555) 010-9999", {"pattern": r"[0-9]{10}"}, "", "pattern_mismatch"),
    ("+1 (555) 010-9999", {"pattern": r"[0-9]{5}", "maxlength": 5}, "15550", "truncated"),
    ("+1 (555) 010-9999", {"pattern": r"[0-9]{11}", "maxlength": 11}, "15550109999", "filled"),
    ("+1 (555) 010-9999", {"pattern": r"[a-z"}, "+1 (555) 010-9999", "filled"),  # unreadable
    ("+1 (555) 010-9999", {"pattern": "x" * 600}, "+1 (555) 010-9999", "filled"),  # too long
])
def test_fill_checks_the_html_pattern(profile_value: str, match: dict[str, Any], value: str,
                                      status: str) -> None:
    r = fill({"phone": profile_value}, [{"key": "phone", **match}])[0]
    assert (r.value, r.status) == (value, status)


def test_fill_unparsed_date() -> None:
    r = fill({"date_of_birth": "sometime"}, [{"key": "date_of_birth", "type": "date"}])[0]
    assert r.status == "unparsed_date"


def test_select_by_embedding() -> None:
    options = [{"value": "de", "label": "Germany"}, {"value": "us", "label": "United States of America"}]
    assert choose_option("United States", options, HashEncoder(256)) == "us"
    assert choose_option("United States", options) is None  # no encoder: exact/normalised only


DAYS = [{"value": "", "label": "Day"}] + [str(d) for d in range(1, 32)]
MONTHS = [{"value": str(m), "label": name} for m, name in enumerate(
    ["January", "February", "March", "April", "May", "June", "July", "August", "September",
     "October", "November", "December"], 1)]
MONATE = ["Monat", "Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
          "September", "Oktober", "November", "Dezember"]


@pytest.mark.parametrize(("match", "value", "status"), [
    ({"text": "Day | dob day", "options": DAYS}, "10", "filled"),
    ({"text": "dob[month]", "options": MONTHS}, "12", "filled"),  # "12" is the option's value
    ({"text": "Month", "options": [{"value": "", "label": "--"}, "Jan", "Nov", "Dec"]}, "Dec", "filled"),
    ({"text": "Monat", "options": [{"value": "", "label": "Monat"}, *MONATE[1:]]}, "Dezember", "filled"),
    ({"text": "Geburtsjahr | jahr", "options": ["1815", "1816"]}, "1815", "filled"),  # the word "jahr"
    ({"text": "YYYY", "options": ["2000", "2001"]}, "", "no_option"),
    ({"text": "Year", "maxlength": 2}, "15", "filled"),
    ({"text": "", "placeholder": "YYYY"}, "1815", "filled"),
    ({"text": "Date of birth | dd mm yyyy", "placeholder": "DD.MM.YYYY"}, "10.12.1815", "filled"),
    ({"text": "Birthday"}, "1815-12-10", "filled"),  # no part named: the whole date
    ({"text": "dob1", "autocomplete": "bday-month", "options": MONTHS}, "12", "filled"),  # declared
    ({"text": "Month", "autocomplete": "section-a bday-year"}, "1815", "filled"),  # declared first
    ({"text": "Birthday", "autocomplete": "bday"}, "1815-12-10", "filled"),
])
def test_fill_writes_the_part_of_a_date_that_the_field_names(
        sample_hints: Hints, match: dict[str, Any], value: str, status: str) -> None:
    r = fill(PROFILE, [{"key": "date_of_birth", **match}], parts=sample_hints.date_parts)[0]
    assert (r.value, r.status) == (value, status)


def test_date_parts_need_a_date_value_and_the_hints() -> None:
    parts = {"day": frozenset({"day"})}
    day_phone = fill({"phone": "555 0100"}, [{"key": "phone", "text": "Day phone"}], parts=parts)
    assert day_phone[0].value == "555 0100"  # not a date: written whole
    assert fill(PROFILE, [{"key": "date_of_birth", "text": "Day"}])[0].value == "1815-12-10"  # no parts
    assert fill(PROFILE, [{"key": "date_of_birth", "text": "Day"}], parts=parts)[0].value == "10"
    declared = {"key": "date_of_birth", "text": "dob", "autocomplete": "bday-day"}
    assert fill(PROFILE, [declared])[0].value == "10"  # a declared part needs no hints


@pytest.mark.parametrize(("hint", "fmt"), [("MM/DD/YYYY", "%m/%d/%Y"), ("yyyy-mm-dd", "%Y-%m-%d"),
                                           ("DD.MM.YY", "%d.%m.%y"), ("Birthday", None)])
def test_date_hint(hint: str, fmt: str | None) -> None:
    assert date_format_from_hint(hint) == fmt


def test_best_threshold_respects_precision_floor() -> None:
    ex = [Example("a", 0.9, "a"), Example("a", 0.8, "a"), Example("b", 0.7, None),
          Example("a", 0.6, "a"), Example("b", 0.5, "c")]
    fig = best_threshold(ex, precision_floor=0.95)
    assert fig["threshold"] == pytest.approx(0.8) and fig["precision"] == 1.0
    loose = best_threshold(ex, precision_floor=0.5)
    assert loose["threshold"] <= 0.6 and loose["recall"] == 0.75  # "c" is never predicted


def test_rejected_only_examples_count_as_false_positives() -> None:
    ex = [Example("a", 0.9, "a"), Example("b", 0.85, None, not_key="b"), Example("a", 0.7, "a")]
    assert best_threshold(ex, precision_floor=1.0)["threshold"] == pytest.approx(0.9)


def _brute_best(ex: list[Example], floor: float, default: float) -> float:
    """best_threshold's definition, one candidate cut at a time."""
    rows = []
    for t in sorted({round(e.score, 4) for e in ex} | {default}):
        tp, fp, pos = confusion_at(ex, t)
        p = tp / (tp + fp) if tp + fp else 1.0
        r = tp / pos if pos else 0.0
        rows.append((t, p, r, 2 * p * r / (p + r) if p + r else 0.0))
    ok = [row for row in rows if row[1] >= floor and row[2] > 0]
    return (max(ok, key=lambda row: (row[3], -row[0])) if ok
            else max(rows, key=lambda row: (row[1], row[2])))[0]


@pytest.mark.parametrize("seed", range(6))
def test_best_threshold_is_its_definition(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ex = []
    for s in rng.uniform(0.3, 1.0, 60).round(3):  # rounded: ties between examples
        kind = rng.integers(0, 4)
        ex.append(Example("a", float(s), "a" if kind < 2 else None if kind == 2 else "b",
                          "a" if kind == 3 and rng.random() < 0.5 else None))
    for floor in (0.5, 0.8, 0.95, 1.0):
        assert best_threshold(ex, floor, 0.55)["threshold"] == pytest.approx(_brute_best(ex, floor, 0.55))


def _band(hi: float, lo: float, right: int, wrong: int) -> list[Example]:
    """``right + wrong`` examples of key "a" with scores evenly from ``hi`` down to ``lo``,
    the wrong ones spread evenly among them."""
    n = right + wrong
    wrong_at = set(np.linspace(0, n - 1, wrong + 2)[1:-1].round().astype(int)) if wrong else set()
    return [Example("a", round(float(s), 4), None if i in wrong_at else "a")
            for i, s in enumerate(np.linspace(hi, lo, n))]


def test_bagged_threshold_does_not_jump_with_one_example() -> None:
    # Precision sits exactly at the floor at the bottom and under it in the middle: the
    # single best cut takes everything, and one more false positive at the top sends it
    # up past the middle. The bagged cut moves with the evidence, a fraction of that.
    ex = _band(0.95, 0.90, 30, 1) + _band(0.89, 0.70, 40, 9) + _band(0.69, 0.60, 20, 0)
    more = [*ex, Example("a", 0.99, None)]
    single = best_threshold(more)["threshold"] - best_threshold(ex)["threshold"]
    bagged = bagged_threshold(more)["threshold"] - bagged_threshold(ex)["threshold"]
    assert single > 0.2
    assert 0 < bagged < single / 4


def test_bagged_threshold_is_deterministic_and_optional() -> None:
    ex = _band(0.95, 0.6, 80, 12)
    fig = bagged_threshold(ex, resamples=300, seed=3)
    assert fig == bagged_threshold(ex, resamples=300, seed=3) and fig["resamples"] == 300
    assert fig["threshold"] != bagged_threshold(ex, resamples=300, seed=4)["threshold"]
    assert bagged_threshold(ex, resamples=0) == best_threshold(ex)
    assert bagged_threshold([], default=0.42)["threshold"] == 0.42
    t = calibrate(ex, resamples=300, seed=3)
    assert t.global_ == fig["threshold"] and t.figures["global"]["resamples"] == 300
    assert calibrate(ex, resamples=0).global_ == best_threshold(ex)["threshold"]


def test_calibrate_per_key_and_empty() -> None:
    rng = np.random.default_rng(1)
    ex = [Example("a", float(s), "a") for s in rng.uniform(0.6, 1.0, 10)]
    ex += [Example("a", float(s), None) for s in rng.uniform(0.3, 0.55, 10)]
    t = calibrate(ex, precision_floor=0.9, min_key_examples=8, prior_weight=0)
    wrong, right = max(e.score for e in ex[10:]), min(e.score for e in ex[:10])
    assert "a" in t.per_key and wrong < t.per_key["a"] <= right  # between the two groups
    assert calibrate([], default=0.42).global_ == 0.42
    assert calibrate(ex, precision_floor=0.9, min_key_examples=21).per_key == {}  # 20 examples


def test_per_key_thresholds_shrink_towards_the_global_one() -> None:
    # Key "a" alone would take 0.6 (its lowest right score); "b" needs 0.9 for precision.
    ex = [Example("a", 0.6 + i / 100, "a") for i in range(10)]
    ex += [Example("b", 0.9 + i / 100, "b") for i in range(5)]
    ex += [Example("b", 0.8, None) for _ in range(5)]
    t = calibrate(ex, precision_floor=0.9, prior_weight=10)
    g = t.global_
    own_a, own_b = (t.figures["per_key"][k]["threshold"] for k in ("a", "b"))
    assert own_a == pytest.approx(0.6) and 0.8 < own_b <= 0.9  # above b's wrong examples
    assert t.per_key["a"] == pytest.approx((10 * own_a + 10 * g) / 20)  # ten examples: halfway
    assert t.per_key["b"] == pytest.approx((10 * own_b + 10 * g) / 20)
    assert calibrate(ex, precision_floor=0.9, prior_weight=0).per_key["a"] == pytest.approx(own_a)
    few = calibrate(ex[:4] + ex[10:], precision_floor=0.9, prior_weight=10)
    assert "a" not in few.per_key  # 4 examples < min_key_examples (5)


def test_per_key_threshold_must_meet_the_floor() -> None:
    # Key "b" never reaches the floor on its own examples: it keeps the global threshold.
    ex = [Example("a", 0.6 + i / 100, "a") for i in range(30)]
    ex += [Example("b", 0.9, "b")] + [Example("b", 0.95, None) for _ in range(29)]
    t = calibrate(ex, precision_floor=0.9, prior_weight=0)
    assert "a" in t.per_key and "b" not in t.per_key
    assert t.figures["per_key"]["b"]["precision"] < 0.9 and t.for_key("b") == t.global_


def test_calibrate_lexical() -> None:
    pairs = [(1.0, True), (0.95, True), (0.9, False), (0.88, True)]
    t, fig = calibrate_lexical(pairs, precision_floor=0.99)
    assert t == pytest.approx(0.92) and fig["precision"] == 1.0


def test_calibrate_lexical_falls_back_to_exact_matches() -> None:
    # No ratio reaches the floor: only exact matches may short-circuit.
    pairs = [(1.0, True), (1.0, True), (1.0, False), (0.95, False), (0.9, True)]
    t, fig = calibrate_lexical(pairs, precision_floor=0.99)
    assert t == 1.0 and fig["accepted"] == 3 and fig["precision"] == pytest.approx(2 / 3)
    assert "exact matches only" in fig["note"]
    assert calibrate_lexical([], default=0.93)[0] == pytest.approx(0.93)  # nothing to go on


def test_score() -> None:
    m = score(["a", None, "b", "a", None], ["a", None, "a", None, "b"])
    assert m["accuracy"] == pytest.approx(2 / 5)  # the correct abstention counts
    assert m["precision"] == pytest.approx(1 / 3)
    assert m["recall"] == pytest.approx(1 / 3)
    assert m["abstain_rate"] == pytest.approx(2 / 5)
    assert m["per_key"]["a"]["support"] == 2
    assert ("a -> b", 1) in m["confusions"]
    assert "by_reason" not in m
    assert m["accuracy_interval"] == wilson(2, 5) and m["precision_interval"] == wilson(1, 3)


@pytest.mark.parametrize(("k", "n", "low", "high"), [
    (0, 10, 0.0, 0.2775), (5, 10, 0.2366, 0.7634), (10, 10, 0.7225, 1.0),
    (857, 913, 0.9212, 0.9525),  # forms fold B after the loop: precision 0.939
])
def test_wilson_interval(k: int, n: int, low: float, high: float) -> None:
    assert wilson(k, n) == pytest.approx((low, high), abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)


def test_score_by_reason() -> None:
    m = score(["a", None, "b", "a", None], ["a", None, "a", None, "b"],
              ["lexical", "known_unknown", "semantic", "semantic", "below_threshold"])
    # 3 accepted, 1 right: without the semantic step's 2 wrong accepts 1 of 1 would be right,
    # without lexical's none 1 of 3 stays.
    assert m["by_reason"] == {
        "semantic": {"n": 2, "accepted": 2, "correct": 0, "wrong": 2, "precision": 0.0,
                     "precision_without_wrong": 1.0},
        "lexical": {"n": 1, "accepted": 1, "correct": 1, "wrong": 0, "precision": 1.0,
                    "precision_without_wrong": 0.3333},
        "known_unknown": {"n": 1, "accepted": 0, "correct": 1, "wrong": 0, "precision": 0.0,
                          "precision_without_wrong": 0.3333},  # a right abstention
        "below_threshold": {"n": 1, "accepted": 0, "correct": 0, "wrong": 0, "precision": 0.0,
                            "precision_without_wrong": 0.3333},
    }
    with pytest.raises(ValueError, match="differ in length"):
        score(["a"], ["a"], [])
