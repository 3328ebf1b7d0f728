from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from semindex.artifacts import build_local_version
from semindex.bundle import REJECTED_FILE, load_bundle
from semindex.calibration import Thresholds
from semindex.data import UNKNOWN, parse_canonical
from semindex.encoder import HashEncoder
from semindex.errors import ModelLoadError
from semindex.hints import Hints, SiblingRule, parse_hints, pattern_accepts
from semindex.index import KeyHit
from semindex.matcher import (
    Decision,
    Lexicon,
    Matcher,
    apply_numbers,
    apply_sibling_rules,
    assign_jointly,
)
from semindex.store import ModelStore
from semindex.text import field_text, normalize
from tests.conftest import SAMPLE


@pytest.fixture
def matcher(tmp_path: Path, tiny, sample_hints: Hints) -> Matcher:  # type: ignore[no-untyped-def]
    hints = parse_hints({**sample_hints.to_json(), "autocomplete": {
        k: v for k, v in sample_hints.autocomplete.items() if v is None or v in tiny.synonyms},
        "types": {
        "email": ["email", "username"], "password": ["password"], "date": ["date_of_birth"],
        "select": ["date_of_birth", "postal_code", "email"], "checkbox": []},
        "type_means": {"password": "password"},
        "inputmode": {"email": ["email", "username"], "numeric": ["postal_code", "date_of_birth"]},
        "min_length": {"email": 5, "username": 3},
        "options": {"postal_code": ["10115", "75001", "SW1A 1AA"]},
        "values": {"last_name": ["Doe", "García"], "email": ["jane@example.com"]},
        "synonyms": {}, "repeatable": ["password"], "sibling_rules": [], "numbered": [],
        "composites": {}, "listed_parts": {}}, "hints", None)
    store = ModelStore(tmp_path / "ms")
    build_local_version(store, tiny, "hash:64", HashEncoder(64),
                        thresholds=Thresholds(0.5, {"postal_code": 0.45}, 0.9), hints=hints)
    return Matcher(load_bundle(store.resolve("latest")))


@pytest.mark.parametrize(("pattern", "value", "accepts"), [
    ("[0-9]{5}", "10115", True), ("[0-9]{5}", "10115 Berlin", False),    # the whole value
    (r"[\p{L}--[a-z]]+", "ÄÖÜ", True), (r"[\p{L}--[a-z]]+", "abc", False),  # v-flag difference
    (r"[\p{L}&&\p{Lu}]+", "ABC", True), (r"[\p{L}&&\p{Lu}]+", "Abc", False),  # intersection
    ("(unclosed", "x", None), ("a" * 501, "a", None),                     # unreadable: None
])
def test_html_pattern_reads_like_a_browser(pattern: str, value: str, accepts: bool | None) -> None:
    assert pattern_accepts(pattern, value) is accepts


@pytest.mark.parametrize(("pattern", "admitted"), [
    (r"[0-9]{5}", {"postal_code"}),             # only the postal samples are five digits
    (r"\d{5}(-\d{4})?", {"postal_code"}),
    (r"[^@]+@[^@]+\.[a-z]{2,}", {"email"}),
    (r"\d{3}-\d{3}-\d{4}", {"phone"}),
    (r"https?://.+", {"website"}),
    (r"[0-9]{2}/[0-9]{2}/[0-9]{4}", {"date_of_birth"}),
    (r"[0-9]*", {"postal_code", "phone", "date_of_birth"}),
    (r"\p{L}+", {"first_name", "last_name", "middle_name", "city", "username", "company",
                 "country", "state", "gender"}),   # letters only: no digits, no spaces
    (r"(", None),                               # unreadable: says nothing
    (r"[a-z]{40}", None),                       # accepts no sample: says nothing
])
def test_pattern_admits_keys_whose_samples_it_accepts(sample_hints: Hints, pattern: str,
                                                      admitted: set[str] | None) -> None:
    from semindex.data import load_canonical

    keys = load_canonical(SAMPLE / "canonical.json").keys
    got = sample_hints.pattern_keys(pattern, keys)
    assert got == admitted
    fld = {"label": "x", "pattern": pattern, "type": "text"}
    assert sample_hints.admitted(fld, keys) == (None if admitted is None else
                                                [k for k in keys if k in admitted])


@pytest.mark.parametrize(("field", "lexical"), [
    ({"label": "Surname"}, True),
    ({"label": "Surname", "pattern": "[A-Za-z]+"}, True),     # the pattern admits a name
    ({"label": "Surname", "pattern": "[0-9]{5}"}, False),     # ... this one does not
    ({"label": "Surname", "pattern": "(unclosed"}, True),     # unreadable: ignored
])
def test_pattern_narrows_the_keys(matcher: Matcher, field: dict[str, Any], lexical: bool) -> None:
    d = matcher.classify([field])[0]
    assert ((d.key, d.reason) == ("last_name", "lexical")) is lexical
    if not lexical:
        assert d.key != "last_name" and d.reason != "lexical"


@pytest.mark.parametrize(("field", "key", "reason"), [
    ({"label": "Surname"}, "last_name", "lexical"),
    ({"label": "Given-name:"}, "first_name", "lexical"),  # normalised exact match
    ({"label": "Emal address"}, "email", "lexical"),        # fuzzy match above lex threshold
    ({"name": "zip_code_user"}, "postal_code", "semantic"),
    ({"name": "user_zip_code"}, "postal_code", "lexical"),  # the identifier's head names it
    ({"label": "Qwxz vbnm"}, None, "below_threshold"),
    ({"type": "text"}, None, "no_text"),
    ({"label": "Whatever", "autocomplete": "shipping given-name"}, "first_name", "autocomplete"),
    ({"label": "x", "autocomplete": "section-a billing bday"}, "date_of_birth", "autocomplete"),
    ({"label": "x", "autocomplete": "bday-month"}, "date_of_birth", "autocomplete"),
    # A token that names none of the keys rules them out ...
    ({"label": "Surname", "autocomplete": "cc-number"}, None, "autocomplete"),
    ({"label": "ZIP code", "autocomplete": "shipping tel-country-code"}, None, "autocomplete"),
    # ... a word that is no declared token says nothing.
    ({"label": "Surname", "autocomplete": "off"}, "last_name", "lexical"),
    ({"label": "Surname", "autocomplete": "nope-4711"}, "last_name", "lexical"),
    ({"label": "Surname", "type": "checkbox"}, None, "type"),  # a checkbox holds no key
    ({"label": "Surname", "type": "CheckBox"}, None, "type"),
    ({"label": "Hasło", "type": "password"}, "password", "type"),  # the type decides
    ({"type": "password"}, "password", "type"),
    ({"label": "Surname", "options": ["10115", "75001", "SW1A 1AA", "Other"]}, "postal_code", "options"),
    ({"options": [{"text": "10115"}, {"value": "75001"}, "Choose..."]}, "postal_code", "options"),
    ({"label": "Surname", "options": ["10115", "Red", "Blue"]}, "last_name", "lexical"),  # 1 of 3
    ({"label": "Your surname, please"}, "last_name", "lexical"),  # filler words are left out
    ({"label": "Votre E-mail *"}, "email", "lexical"),
    ({"label": "Qwxz vbnm", "name": "e_mail"}, "email", "lexical"),  # another attribute names it
    ({"label": "Qwxz vbnm", "placeholder": "Surname", "id": "user_surname"}, "last_name", "lexical"),
    ({"label": "Qwxz vbnm", "name": "e_mail", "id": "surname"}, None, "below_threshold"),  # disagree
    ({"label": "Qwxz vbnm", "name": "surname", "type": "select"}, None, "below_threshold"),  # not admitted
])
def test_reasons(matcher: Matcher, field: dict[str, Any], key: str | None, reason: str) -> None:
    d = matcher.classify([field])[0]
    assert d.reason == reason
    assert (d.key if d.accepted else None) == key


@pytest.mark.parametrize(("value", "found"), [
    ("given-name", ("given-name", "first_name")),
    ("section-a shipping postal-code", ("postal-code", "postal_code")),
    ("work tel", ("tel", "phone")),                  # a contact kind qualifies the number ...
    ("fax tel", ("fax", None)),                      # ... but a fax number is no phone
    ("mobile tel-country-code", ("tel-country-code", None)),
    ("username webauthn", ("username", "username")),
    ("bday-year", ("bday-year", "date_of_birth")),
    ("off", None), ("nope-4711", None), ("shipping", None), ("", None),
])
def test_the_sample_hints_read_autocomplete_tokens(sample_hints: Hints, value: str,
                                                   found: tuple[str, str | None] | None) -> None:
    assert sample_hints.autocomplete_token(value) == found


def test_an_autocomplete_token_that_names_no_key_is_final(matcher: Matcher, tiny) -> None:  # type: ignore[no-untyped-def]
    """A declared token that the hints file maps to null (the autofill spec's card, dialling
    code, one-time code ...) is none of the keys, whatever the field's words; the form-level
    steps (assignment, sibling rules) leave it, and the hints file round-trips it."""
    fields = [{"selector": "#a", "label": "Email address", "autocomplete": "one-time-code"},
              {"selector": "#b", "label": "Email address"}]
    first, second = matcher.classify(fields)
    assert (first.key, first.accepted, first.reason) == (None, False, "autocomplete")
    assert first.evidence == ["autocomplete=one-time-code: 'one-time-code' names none of the keys"]
    assert (second.key, second.accepted) == ("email", True)
    hints = matcher.bundle.hints
    assert hints.autocomplete_token("section-x mobile tel-local") == ("tel-local", None)
    assert hints.autocomplete_token("shipping") is None
    again = parse_hints(json.loads(json.dumps(hints.to_json())), "hints", tiny.keys)
    assert again.autocomplete == hints.autocomplete and None in again.autocomplete.values()


def test_decision_carries_explanation(matcher: Matcher) -> None:
    d = matcher.classify([{"selector": "#z", "name": "zip_code_user"}])[0]
    assert d.selector == "#z" and d.synonym == "ZIP code"
    assert d.threshold == pytest.approx(0.45)  # per-key threshold
    assert d.runner_up is not None and d.margin == pytest.approx(d.score - d.runner_up["score"])
    assert "semantic" in d.evidence


@pytest.mark.parametrize(("field", "delta"), [
    ({"label": "Birth date"}, 0.0),
    ({"label": "Birth date", "required": True}, -0.02),
    ({"label": "Birth date", "type": "date"}, -0.10),       # the type agrees with the key
    ({"label": "Birth date", "type": "number"}, 0.0),       # an undeclared type says nothing
    ({"label": "Birth date", "type": "select"}, 0.0),       # admits three keys: says little
])
def test_dynamic_threshold(matcher: Matcher, field: dict[str, Any], delta: float) -> None:
    t, _ = matcher.threshold_for("date_of_birth", field, "Birth date")
    assert t == pytest.approx(0.5 + delta)


def test_generic_wording_raises_threshold(matcher: Matcher) -> None:
    t, why = matcher.threshold_for("email", {"label": "Value"}, "Value")
    assert t == pytest.approx(0.6) and "generic wording" in why


def test_login_form_rule(matcher: Matcher) -> None:
    login = [{"label": "Email", "type": "email"}, {"label": "Password", "type": "password"}]
    d = matcher.classify(login, form={"kind": "login"})
    assert (d[0].key, d[0].reason) == ("username", "form_rule")
    inferred = matcher.classify(login, form={"submit": "Sign in"})
    assert inferred[0].key == "username"
    extra = [{"label": "Confirm password", "type": "password"}, {"label": "First name"}]
    signup = matcher.classify([*login, *extra], form={"submit": "Create account"})
    assert signup[0].key == "email"


def _dec(key: str, score: float, cands: list[tuple[str, float]], t: float = 0.5,
         reason: str = "semantic", accepted: bool = True) -> Decision:
    hits = [KeyHit(k, s, k) for k, s in cands]
    return Decision(None, key, key, score, t, 0.0, key, reason, accepted, None, [], hits)


def test_assignment_is_joint_not_first_come() -> None:
    # Field 0 slightly prefers email but could be username; field 1 is clearly email.
    d = [_dec("email", 0.80, [("email", 0.80), ("username", 0.78)]),
         _dec("email", 0.95, [("email", 0.95), ("username", 0.40)])]
    assign_jointly(d, frozenset())
    assert [x.key for x in d] == ["username", "email"]
    assert d[0].reason == "assignment" and d[0].accepted


def test_assignment_abstains_without_alternative_and_keeps_repeatable() -> None:
    d = [_dec("email", 0.7, [("email", 0.7)]), _dec("email", 0.9, [("email", 0.9)])]
    assign_jointly(d, frozenset())
    assert [(x.key, x.accepted) for x in d] == [("email", False), ("email", True)]
    p = [_dec("password", 0.9, [("password", 0.9)]), _dec("password", 0.8, [("password", 0.8)])]
    assign_jointly(p, frozenset({"password"}))
    assert all(x.accepted and x.key == "password" for x in p)


NAME_RULES = (SiblingRule("full_name", "first_name", beside=("last_name",)),
              SiblingRule("first_name", "full_name", without=("last_name",)))
NAME_KEYS = {"first_name", "full_name", "last_name", "email", "username"}


def _field(key: str, reason: str = "lexical", accepted: bool = True) -> Decision:
    """An exact decision (score and threshold 1.0) without candidates."""
    return _dec(key, 1.0, [], 1.0, reason, accepted)


@pytest.mark.parametrize(("request_keys", "expected"), [
    # "Name" beside a last name is the first name, in either order ...
    ([("full_name", "lexical"), ("last_name", "lexical")], ["first_name", "last_name"]),
    ([("last_name", "semantic"), ("full_name", "mention")], ["last_name", "first_name"]),
    # ... and "Nome" in a form without one the full name.
    ([("first_name", "lexical"), ("email", "lexical")], ["full_name", "email"]),
    ([("first_name", "lexical"), ("last_name", "lexical")], ["first_name", "last_name"]),
    ([("full_name", "lexical"), ("email", "lexical")], ["full_name", "email"]),
    # A lone field says nothing of its form.
    ([("first_name", "lexical")], ["first_name"]),
    # Declared evidence is not revised.
    ([("first_name", "autocomplete"), ("email", "lexical")], ["first_name", "email"]),
    ([("full_name", "form_rule"), ("last_name", "lexical")], ["full_name", "last_name"]),
    # Only accepted fields are siblings; the rules read the decisions before any rule.
    ([("full_name", "lexical"), ("last_name", "below_threshold")], ["full_name", "last_name"]),
    ([("full_name", "lexical"), ("first_name", "lexical"), ("last_name", "lexical")],
     ["first_name", "first_name", "last_name"]),
])
def test_sibling_rules(request_keys: list[tuple[str, str]], expected: list[str]) -> None:
    d = [_field(k, r, accepted=r not in ("below_threshold",)) for k, r in request_keys]
    before = [(x.key, x.reason) for x in d]
    apply_sibling_rules(d, NAME_RULES, NAME_KEYS)
    assert [x.key for x in d] == expected
    for x, (key, reason) in zip(d, before, strict=True):
        if x.key != key:  # a revised decision says so, and what it was
            assert x.reason == "sibling" and x.runner_up == {"key": key, "score": 1.0}
            assert "sibling rule" in x.evidence[-1] and "last_name" in x.evidence[-1]
        else:
            assert x.reason == reason and not x.evidence


@pytest.mark.parametrize(("text", "key"), [
    ("Nome", "full_name"), ("Nombre | nombre", "full_name"), ("Имя", "full_name"),
    ("First name", "first_name"), ("Ihr Vorname", "first_name"), ("Nombre de pila", "first_name"),
    ("Nome | first_name", "first_name"),  # an identifier that says it counts too
    ("Nombre | pila", "full_name"),  # a word of several words matches only in sequence
])
def test_a_sibling_rule_keeps_a_field_that_says_an_unless_word(text: str, key: str) -> None:
    rule = SiblingRule("first_name", "full_name", without=("last_name",),
                       unless=tuple(normalize(w) for w in ("first", "Vorname", "nombre de pila")))
    d = [_field("first_name"), _field("email")]
    d[0].text = text
    apply_sibling_rules(d, (rule,), NAME_KEYS)
    assert d[0].key == key


LOGIN = SiblingRule("full_name", "username", beside=("password",),
                    without=("email", "username", "phone", "last_name"))
LOGIN_KEYS = NAME_KEYS | {"password", "phone"}


@pytest.mark.parametrize(("request_keys", "expected"), [
    # A name beside a password with no other identifier is the login name ...
    (["full_name", "password"], ["username", "password"]),
    (["password", "full_name", "password"], ["password", "username", "password"]),
    # ... and "Имя" there too: without a last name it is the full name, and that the login.
    (["first_name", "password"], ["username", "password"]),
    # Where the form has an identifier (email, user name, phone), the name is a name.
    (["full_name", "email", "password"], ["full_name", "email", "password"]),
    (["full_name", "username", "password"], ["full_name", "username", "password"]),
    (["full_name", "phone", "password"], ["full_name", "phone", "password"]),
    # A last name beside it makes it the first name, not the login.
    (["full_name", "last_name", "password"], ["first_name", "last_name", "password"]),
    # No password: nothing to log in to.
    (["full_name", "first_name"], ["full_name", "full_name"]),
])
def test_the_login_name_rule_chains_after_the_name_rules(request_keys: list[str],
                                                         expected: list[str]) -> None:
    d = [_field(k) for k in request_keys]
    apply_sibling_rules(d, (*NAME_RULES, LOGIN), LOGIN_KEYS)
    assert [x.key for x in d] == expected
    for x, before in zip(d, request_keys, strict=True):
        if x.key == before:
            assert x.reason == "lexical" and not x.evidence
            continue
        # One revision: the runner-up is the words' key; the evidence says every rule applied.
        assert x.reason == "sibling" and x.runner_up == {"key": before, "score": 1.0}
        assert len(x.evidence) == 1
        rules_said = x.evidence[0].split("; then ")
        assert len(rules_said) == (2 if (before, x.key) == ("first_name", "username") else 1)
        if x.key == "username":
            assert rules_said[-1] == ("a full_name field beside a password field and without an "
                                      "email, username, phone or last_name field is username "
                                      "(sibling rule)")


def test_a_chained_rule_stops_where_the_field_says_an_unless_word() -> None:
    keep_first = SiblingRule("first_name", "full_name", without=("last_name",),
                             unless=(normalize("Vorname"),))
    d = [_field("first_name"), _field("password")]
    d[0].text = "Vorname"
    apply_sibling_rules(d, (keep_first, LOGIN), LOGIN_KEYS)
    assert (d[0].key, d[0].reason) == ("first_name", "lexical")


def test_sibling_rules_round_trip_through_the_hints_json(sample_hints: Hints) -> None:
    rules = parse_hints({"sibling_rules": [r.to_json() for r in (*NAME_RULES, LOGIN)]}, "hints",
                        sorted(LOGIN_KEYS)).sibling_rules
    assert rules == (*NAME_RULES, LOGIN)
    assert rules[0].to_json() == {"key": "full_name", "with": "last_name", "becomes": "first_name"}
    assert rules[2].to_json()["without"] == ["email", "username", "phone", "last_name"]
    shipped = sample_hints.sibling_rules  # the hints file carries the login rule
    assert any(r.becomes == "username" and "password" in r.beside for r in shipped)


def test_a_rule_names_a_shared_word_list() -> None:
    # Two rules read one declared list; the version's hints.json carries the words themselves.
    obj = {"word_lists": {"last_name_words": ["Nachname", "nom de famille"]},
           "sibling_rules": [{"key": "full_name", "with": "last_name", "becomes": "first_name",
                              "unless": "last_name_words"},
                             {"key": "last_name", "without": "first_name", "becomes": "full_name",
                              "unless": "last_name_words"}]}
    rules = parse_hints(obj, "hints", sorted(NAME_KEYS)).sibling_rules
    assert [r.unless for r in rules] == [("nachname", "nom de famille")] * 2
    assert parse_hints({"sibling_rules": [r.to_json() for r in rules]}, "hints",
                       sorted(NAME_KEYS)).sibling_rules == rules


def test_the_assignment_keeps_a_revised_key_on_a_tie() -> None:
    # "Vorname" (exactly a first-name synonym) in a contact form became full_name; a second
    # field contests email. Taking first_name back would score the same: the field keeps
    # full_name.
    name = Decision(None, "Vorname", "full_name", 1.0, 1.0, 0.0, "Vorname", "sibling", True,
                    {"key": "first_name", "score": 1.0}, [],
                    [KeyHit("first_name", 1.0, "Vorname"), KeyHit("full_name", 0.7, "Full name")])
    d = [name, _dec("email", 1.0, [("email", 1.0)]), _dec("email", 0.6, [("email", 0.6)])]
    assign_jointly(d, frozenset())
    assert (d[0].key, d[0].reason) == ("full_name", "sibling")
    assert [(x.key, x.accepted) for x in d[1:]] == [("email", True), ("email", False)]


def test_a_sibling_rule_needs_its_key_in_the_version_and_admitted() -> None:
    d = [_field("first_name"), _field("email")]
    apply_sibling_rules(d, NAME_RULES, NAME_KEYS - {"full_name"})
    assert [x.key for x in d] == ["first_name", "email"]
    apply_sibling_rules(d, NAME_RULES, NAME_KEYS, [frozenset({"first_name", "last_name"}), None])
    assert [x.key for x in d] == ["first_name", "email"]
    apply_sibling_rules(d, NAME_RULES, NAME_KEYS, [None, frozenset({"email"})])
    assert [x.key for x in d] == ["full_name", "email"]


def test_a_sibling_rule_keeps_to_what_the_pattern_admits(names: Matcher) -> None:
    # A pattern of one word (no space) admits a first name but not a full name: no revision.
    one_word = names.classify([{"label": "Nome", "pattern": "[A-Za-z]+"}, {"label": "Email"}])
    assert (one_word[0].key, one_word[0].reason) == ("first_name", "lexical")
    assert names.classify([{"label": "Nome"}, {"label": "Email"}])[0].key == "full_name"


@pytest.fixture
def names(tmp_path: Path, sample_hints: Hints) -> Matcher:
    from semindex.data import parse_canonical

    canon = parse_canonical({"first_name": ["First name", "Nome"],
                             "last_name": ["Last name", "Cognome", "Nom"],
                             "full_name": ["Full name", "Name"], "email": ["Email"],
                             "username": ["Username"], "password": ["Password"],
                             "phone": ["Phone"]}, "names")
    hints = parse_hints({**{k: v for k, v in sample_hints.to_json().items()
                            if k in ("sibling_rules", "context_rules", "form_kinds")},
                         "type_means": {"password": "password"}, "repeatable": ["password"],
                         "values": {"first_name": ["Jane"], "full_name": ["Jane Doe"]}}, "hints", canon.keys)
    store = ModelStore(tmp_path / "ms")
    build_local_version(store, canon, "hash:64", HashEncoder(64), thresholds=Thresholds(0.5),
                        hints=hints)
    return Matcher(load_bundle(store.resolve("latest")))


def test_the_matcher_reads_names_by_their_siblings(names: Matcher) -> None:
    signup = names.classify([{"label": "Name"}, {"label": "Last name"}, {"label": "Email"}])
    assert [(d.key, d.reason) for d in signup] == [("first_name", "sibling"), ("last_name", "lexical"),
                                                  ("email", "lexical")]
    contact = names.classify([{"label": "Nome"}, {"label": "Email"}])
    assert [(d.key, d.reason) for d in contact] == [("full_name", "sibling"), ("email", "lexical")]
    assert names.classify([{"label": "Nome"}])[0].key == "first_name"  # alone: as the label says
    newsletter = names.classify([{"label": "First name"}, {"label": "Email"}])  # says "first"
    assert [(d.key, d.reason) for d in newsletter] == [("first_name", "lexical"), ("email", "lexical")]
    login = names.classify([{"label": "Name"}, {"label": "Password", "type": "password"}])
    assert [(d.key, d.reason) for d in login] == [("username", "sibling"), ("password", "type")]
    assert login[0].runner_up == {"key": "full_name", "score": 1.0}
    login_with_email = names.classify([{"label": "Name"}, {"label": "Email"}, {"label": "Password"}])
    assert login_with_email[0].key == "full_name"
    # "Nom" is the last name beside a first name, the whole name without one, unless the
    # field says which name it is ("Cognome" is the surname whatever its siblings).
    contact = names.classify([{"label": "Votre nom"}, {"label": "Email"}])
    assert [(d.key, d.reason) for d in contact] == [("full_name", "sibling"), ("email", "lexical")]
    assert contact[0].runner_up is not None and contact[0].runner_up["key"] == "last_name"
    signup = names.classify([{"label": "First name"}, {"label": "Nom"}, {"label": "Email"}])
    assert [(d.key, d.reason) for d in signup][:2] == [("first_name", "lexical"), ("last_name", "lexical")]
    assert names.classify([{"label": "Cognome"}, {"label": "Email"}])[0].key == "last_name"


def test_a_page_scope_request_infers_no_kind_and_assigns_no_key(names: Matcher) -> None:
    # A page with a login form and a sign-up form: two email fields, two password fields.
    page = [{"label": "Email", "type": "email"}, {"label": "Password", "type": "password"},
            {"label": "Email"}, {"label": "Nome"}, {"label": "Cognome"}]
    as_page = names.classify(page, form={"scope": "page"})
    assert [d.key for d in as_page] == ["email", "password", "email", "first_name", "last_name"]
    assert all(d.accepted for d in as_page)
    as_form = names.classify(page)  # one form: one email field, and the name rules still hold
    assert [d.key for d in as_form if d.accepted].count("email") == 1
    assert as_form[3].key == "first_name"
    login = [{"label": "Email", "type": "email"}, {"label": "Password", "type": "password"}]
    assert names.classify(login)[0].key == "username"  # a login form, inferred from its fields
    assert names.classify(login, form={"scope": "page"})[0].key == "email"  # a page: not inferred
    assert names.classify(login, form={"scope": "page", "kind": "login"})[0].key == "username"


def test_evaluation_classifies_the_rows_of_a_page_as_one_request(names: Matcher) -> None:
    from semindex.data import LabelledRow
    from semindex.quality import decide

    rows = [LabelledRow({"label": "Nome"}, "first_name", "s1", "s1/signup"),
            LabelledRow({"label": "Email"}, "email", "s1", "s1/login"),
            LabelledRow({"label": "Cognome"}, "last_name", "s1", "s1/signup"),
            LabelledRow({"label": "Email"}, "email", "s1", "s1/signup"),
            LabelledRow({"label": "Email"}, "email", "s1", "s1/signup"),
            LabelledRow({"label": "Nome"}, "full_name", "s1", "s1/contact"),
            LabelledRow({"label": "Email"}, "email", "s1", "s1/contact"),
            LabelledRow({"label": "Nome"}, "first_name", "s2", None)]
    got = [(d.key if d.accepted else None, d.reason) for d in decide(names, rows)]
    assert [k for k, _ in got] == [r.expected for r in rows]  # in the rows' order
    # the contact page has no last name: its "Nome" is the full name; a row without a page
    # is classified alone, and a page keeps both its email fields (no assignment).
    assert got[5] == ("full_name", "sibling") and got[0] == ("first_name", "lexical")
    assert got[7] == ("first_name", "lexical") and got[3] == got[4] == ("email", "lexical")


@pytest.fixture
def dates(tmp_path: Path, sample_hints: Hints) -> Matcher:
    from semindex.data import parse_canonical

    canon = parse_canonical({"date_of_birth": ["Date of birth", "Day", "Month", "Year"],
                             "email": ["Email"]}, "dates")
    hints = parse_hints({"autocomplete": {"bday": "date_of_birth"},
                         "repeatable": ["date_of_birth"],  # day, month and year of one date
                         "needs_words": sample_hints.to_json()["needs_words"]}, "hints", canon.keys)
    store = ModelStore(tmp_path / "ms")
    build_local_version(store, canon, "hash:64", HashEncoder(64), thresholds=Thresholds(0.5),
                        hints=hints)
    return Matcher(load_bundle(store.resolve("latest")))


DAY, MONTH, YEAR = {"label": "Day"}, {"label": "Month"}, {"label": "Year"}


@pytest.mark.parametrize(("fields", "form", "accepted"), [
    ([DAY, MONTH, YEAR], None, [False, False, False]),  # a date range, an event: no birth
    ([DAY, MONTH, YEAR], {"heading": "Date of birth"}, [True, True, True]),  # the form says it
    ([DAY, MONTH, YEAR], {"title": "Geburtsdatum angeben"}, [True, True, True]),  # a word's start
    ([{"label": "Date of birth"}, DAY, MONTH, YEAR], None, [True, True, True, True]),  # a sibling
    ([{"label": "Day", "name": "tbxDOBDay"}, MONTH], None, [True, True]),  # an identifier
    ([{"label": "Day", "placeholder": "生年月日"}], None, [True]),
    ([{"label": "Day", "name": "adobe_day"}], None, [False]),  # "dob" inside a word is not it
    ([{"label": "Day", "autocomplete": "bday"}], None, [True]),  # declared evidence stands
    ([DAY, {"label": "Email"}], {"scope": "page", "heading": "Date de naissance"}, [True, True]),
])
def test_a_key_that_needs_words_is_withdrawn_where_the_request_says_none(
        dates: Matcher, fields: list[dict[str, Any]], form: dict[str, Any] | None,
        accepted: list[bool]) -> None:
    got = dates.classify(fields, form)
    assert [d.accepted for d in got] == accepted
    for d in got:
        if d.key == "date_of_birth" and not d.accepted:
            assert d.reason == "missing_context"
            assert "needs a word such as 'birth'" in d.evidence[-1]


def typed_matcher(tmp_path: Path, threshold: float) -> Matcher:
    from semindex.data import parse_canonical

    canon = parse_canonical({"password": ["Password"], "email": ["Email"]}, "typed")
    hints = parse_hints({"needs_types": {"password": ["Password"]}}, "hints", canon.keys)
    store = ModelStore(tmp_path / f"ms{threshold}")
    build_local_version(store, canon, "hash:64", HashEncoder(64),
                        thresholds=Thresholds(threshold), hints=hints)
    return Matcher(load_bundle(store.resolve("latest")))


@pytest.mark.parametrize(("field", "reason", "accepted"), [
    ({"label": "Password hint", "type": "text"}, "type", False),  # near "Password", not one
    ({"label": "Password hint", "type": "password"}, "semantic", True),
    ({"label": "Password hint", "type": "PASSWORD"}, "semantic", True),
    ({"label": "Password hint"}, "semantic", True),               # no declared type: no constraint
    ({"label": "Password", "type": "text"}, "lexical", True),     # its words name it
    ({"name": "password", "type": "text"}, "lexical", True),
])
def test_a_key_that_needs_a_type_is_not_taken_by_similarity_on_another(
        tmp_path: Path, field: dict[str, str], reason: str, accepted: bool) -> None:
    """The hints file's ``needs_types``: a text input near "Password" by similarity alone
    ("Password hint", "Recovery word") is no password input; one whose words say so is."""
    d = typed_matcher(tmp_path, 0.3).classify([field])[0]
    assert (d.key, d.reason, d.accepted) == ("password", reason, accepted), d
    if reason == "type":
        assert "password needs type=password unless the field's words name it; type=text" in d.evidence


def test_a_key_that_needs_a_type_is_not_taken_by_a_mention_on_another(tmp_path: Path) -> None:
    strict = typed_matcher(tmp_path, 0.99)  # every semantic score is under it
    label = {"label": "Choose a password reminder"}
    untyped, texted = strict.classify([label, {**label, "type": "text"}])
    assert (untyped.key, untyped.reason, untyped.accepted) == ("password", "mention", True), untyped
    assert (texted.key, texted.reason, texted.accepted) == ("password", "type", False), texted
    other = strict.classify([{"label": "Choose an email reminder", "type": "text"}])[0]
    assert (other.key, other.reason, other.accepted) == ("email", "mention", True), other


def test_needed_words_apply_only_to_the_keys_that_declare_them(dates: Matcher) -> None:
    got = dates.classify([{"label": "Email"}, DAY])
    assert [(d.key, d.accepted, d.reason) for d in got] == [
        ("email", True, "lexical"), ("date_of_birth", False, "missing_context")]
    hints = Hints(needs_words={"date_of_birth": ("birth", "ngày sinh")})
    assert hints.missing_words("email", "email") == ()
    assert hints.missing_words("date_of_birth", "day month") == ("birth", "ngày sinh")
    assert hints.missing_words("date_of_birth", "ngày sinh day") == ()  # several words
    assert hints.missing_words("date_of_birth", "rebirth") == ("birth", "ngày sinh")  # a word's start


@pytest.mark.parametrize(("text", "part"), [
    ("Day", "day"), ("MM", "month"), ("aaaa", "year"), ("Año", "year"), ("Jahr", "year"),
    ("your month", "month"),  # a filler word
    ("birth year", "year"), ("annee naissance", "year"),  # the date key's own words
    ("day of arrival", None), ("dd mm yyyy", None),  # another word; the whole date
    ("rebirth day", None), ("", None), ("tag cloud", None),
])
def test_a_date_part_named_alone(sample_hints: Hints, text: str, part: str | None) -> None:
    need = sample_hints.needs_words["date_of_birth"]
    assert sample_hints.date_part_named(normalize(text), need) == part


@pytest.fixture
def split_dates(tmp_path: Path, sample_hints: Hints) -> Matcher:
    """Date parts that no synonym names: only the date-part step can read them."""
    from semindex.data import parse_canonical

    canon = parse_canonical({"date_of_birth": ["Date of birth"], "email": ["Email"],
                             "gender": ["Gender"]}, "dates")
    hints = parse_hints({k: v for k, v in sample_hints.to_json().items()
                         if k in ("needs_words", "date_parts", "fillers")}
                        | {"repeatable": ["date_of_birth"], "autocomplete": {"email": "email"},
                           "types": {"date": ["date_of_birth"], "email": ["email"],
                                     "select": ["date_of_birth", "gender"]}},
                        "hints", canon.keys)
    store = ModelStore(tmp_path / "ms")
    build_local_version(store, canon, "hash:64", HashEncoder(64), thresholds=Thresholds(0.99),
                        hints=hints, unknowns=["Day of arrival", "Jour"])
    return Matcher(load_bundle(store.resolve("latest")))


SELECTS = [{"label": "Day", "type": "select"}, {"name": "mm", "type": "select"},
           {"placeholder": "aaaa", "type": "select"}]
BIRTH = {"heading": "Date of birth"}


@pytest.mark.parametrize(("fields", "form", "got"), [
    (SELECTS, BIRTH, ["day", "month", "year"]),
    (SELECTS, {"title": "Data de nascimento"}, ["day", "month", "year"]),
    (SELECTS, None, [None, None, None]),  # nothing says birth: a date range, an event
    ([{"placeholder": "DD", "name": "tbxDOBDay"}], None, ["day"]),  # the field says it
    ([{"name": "annee_naissance"}], None, ["year"]),
    ([{"label": "Day of arrival"}, {"label": "Day"}], BIRTH, [None, "day"]),  # more than a part
    ([{"label": "DD/MM/YYYY"}], BIRTH, [None]),  # the whole date, not a part
    ([{"label": "Day", "type": "email"}], BIRTH, [None]),  # its type admits no date
    ([{"label": "Day", "autocomplete": "email"}], BIRTH, [None]),  # declared evidence stands
    ([{"label": "Jour"}], BIRTH, [None]),  # its own text is a confirmed unknown
])
def test_a_field_that_names_a_date_part_is_the_date_the_form_asks_for(
        split_dates: Matcher, fields: list[dict[str, Any]], form: dict[str, Any] | None,
        got: list[str | None]) -> None:
    decisions = split_dates.classify(fields, form)
    for d, part in zip(decisions, got, strict=True):
        assert (d.reason == "date_part") == (part is not None), (d.text, d.reason)
        if part is not None:
            assert d.accepted and d.key == "date_of_birth"
            assert d.evidence[-1].startswith(f"the field names the {part} of a date")
            assert d.evidence[-1].endswith(f": the {part} of date_of_birth")
        else:
            assert not (d.accepted and d.key == "date_of_birth")


def test_the_date_part_step_needs_a_date_key_the_hints_declare(split_dates: Matcher) -> None:
    from dataclasses import replace

    said = split_dates.classify(SELECTS, {"title": "Geburtsdatum"})[0].evidence[-1]
    assert "the request says 'geburt'" in said  # the word it found, as the hints spell it

    hints = split_dates.bundle.hints
    for other in (replace(hints, types={k: v for k, v in hints.types.items() if k != "date"}),
                  replace(hints, needs_words={})):  # which date would "Day" be a part of?
        m = Matcher(replace(split_dates.bundle, hints=other))
        assert not [d for d in m.classify(SELECTS, BIRTH) if d.reason == "date_part" or d.accepted]


def test_classify_many_matches_classify(matcher: Matcher) -> None:
    a = [{"label": "Surname"}, {"name": "zip"}]
    b = [{"label": "E-mail"}]
    many = matcher.classify_many([(a, None), (b, None)])
    assert [d.key for d in many[0]] == [d.key for d in matcher.classify(a)]
    assert [d.key for d in many[1]] == [d.key for d in matcher.classify(b)]


@pytest.mark.parametrize(("field", "admitted"), [
    ({"label": "Birth date", "type": "email"}, {"email", "username"}),
    ({"label": "Surname", "inputmode": "numeric"}, {"postal_code", "date_of_birth"}),
    ({"label": "Surname", "type": "email", "inputmode": "numeric"}, set()),  # both narrow
    ({"label": "E-mail", "maxlength": 4},
     {"first_name", "last_name", "username", "password", "postal_code", "date_of_birth"}),
    ({"label": "Surname", "type": "email"}, {"email", "username"}),
    ({"label": "Surname", "type": "date"}, {"date_of_birth"}),
])
def test_declared_type_admits_only_its_keys(matcher: Matcher, field: dict[str, Any],
                                            admitted: set[str]) -> None:
    d = matcher.classify([field])[0]
    assert {h.key for h in d.candidates} <= admitted
    assert d.key is None or d.key in admitted
    assert matcher.classify([{"label": field["label"]}])[0].key not in admitted
    # The search itself is restricted: even the single best candidate is an admitted key,
    # though the label's nearest synonyms belong to a key the field does not admit.
    one = Matcher(matcher.bundle, top_k=1).classify([field])[0].candidates
    assert len(one) == (1 if admitted else 0) and {h.key for h in one} <= admitted


def test_known_unknown_examples_make_the_field_abstain(tmp_path: Path, tiny) -> None:  # type: ignore[no-untyped-def]
    store = ModelStore(tmp_path / "ms")
    build_local_version(store, tiny, "hash:64", HashEncoder(64), thresholds=Thresholds(0.3),
                        unknowns=["zip code of your favourite shop", "Surname"])
    m = Matcher(load_bundle(store.resolve("latest")))
    assert "unknown" not in m.bundle.index.keys  # an answer, not a key
    shop = m.classify([{"label": "zip code of your favourite shop!"}])[0]
    assert (shop.accepted, shop.reason) == (False, "known_unknown")
    assert shop.synonym == "zip code of your favourite shop"
    assert all(h.key != "unknown" for h in shop.candidates)
    # A synonym of a key stays that key's, never an unknown example.
    assert m.classify([{"label": "Surname"}])[0].key == "last_name"
    plain = Matcher(load_bundle(store.resolve(build_local_version(store, tiny, "hash:64",
                                                                     HashEncoder(64),
                                                                     thresholds=Thresholds(0.3)))))
    assert plain.classify([{"label": "zip code of your favourite shop!"}])[0].key == "postal_code"


@pytest.mark.parametrize(("label", "accepted"), [
    # It names the broader "Senior wholesale merchant" by the words it matched the specific
    # key's entry with: no contradiction (the titles use: occupations inside occupations).
    ("Senior wholesale merchant of perfumes and cosmetic products", True),
    ("Country wholesale merchants in perfume", False),  # "Country" shares no stem with it
])
def test_a_mention_that_shares_the_matched_synonyms_words_is_no_contradiction(
        tmp_path: Path, label: str, accepted: bool) -> None:
    from semindex.data import parse_canonical

    canonical = parse_canonical({"merchant": ["Senior wholesale merchant", "Wholesale merchant"],
                                 "perfume_merchant": ["Wholesale merchant in perfume and cosmetics products"],
                                 "country": ["Country"]}, "c")
    store = ModelStore(tmp_path / "ms")
    build_local_version(store, canonical, "hash:64", HashEncoder(64), thresholds=Thresholds(0.3),
                        hints=Hints(contradictions=True))
    d = Matcher(load_bundle(store.resolve("latest"))).classify([{"label": label}])[0]
    assert (d.key, d.accepted, d.reason) == ("perfume_merchant", accepted,
                                             "semantic" if accepted else "contradicted")
    assert d.score >= d.threshold


def test_the_fields_words_come_before_a_confirmed_unknown_neighbour(tmp_path: Path, tiny) -> None:  # type: ignore[no-untyped-def]
    store = ModelStore(tmp_path / "ms")
    build_local_version(store, tiny, "hash:64", HashEncoder(64), thresholds=Thresholds(0.3),
                        unknowns=["Stay in the loop with our offers"])
    m = Matcher(load_bundle(store.resolve("latest")))
    alone = m.classify([{"label": "Stay in the loop!"}])[0]
    assert (alone.accepted, alone.reason) == (False, "known_unknown")
    # An identifier that is exactly a synonym names the key, though the field's nearest
    # example is a confirmed unknown.
    named = m.classify([{"label": "Stay in the loop!", "name": "e_mail"}])[0]
    assert (named.key, named.accepted, named.reason) == ("email", True, "lexical")
    assert named.evidence == ["another attribute ('e mail') is the synonym 'E-mail' of email"]


@pytest.mark.parametrize(("label", "key", "accepted", "reason"), [
    ("Countrys name", "country", False, "contradicted"),  # names full_name, not country
    ("Name of company", "company", True, "semantic"),      # "Name" lies in "Company name"
    ("Name of country", "country", True, "semantic"),      # names country too
    ("Companies country", "country", True, "semantic"),
])
def test_a_label_that_names_other_keys_contradicts_the_semantic_step(
        tmp_path: Path, label: str, key: str, accepted: bool, reason: str) -> None:
    from semindex.data import parse_canonical

    canonical = parse_canonical({"company": ["Company name", "Organisation"],
                                 "full_name": ["Name", "Full name"], "country": ["Country"],
                                 "address_line1": ["Address", "Street address"]}, "c")
    store = ModelStore(tmp_path / "ms")
    build_local_version(store, canonical, "hash:64", HashEncoder(64), thresholds=Thresholds(0.3),
                        hints=Hints(contradictions=True))
    d = Matcher(load_bundle(store.resolve("latest"))).classify([{"label": label}])[0]
    assert (d.key, d.accepted, d.reason) == (key, accepted, reason)
    assert d.score >= d.threshold  # the semantic step alone would accept every one
    if reason == "contradicted":
        assert "the label names 'Name' (full_name), not country" in d.evidence[1]
        # Without the hints file's ``contradictions`` the semantic step's key stands.
        off = Matcher(replace(load_bundle(store.resolve("latest")), hints=Hints()))
        assert (off.classify([{"label": label}])[0].reason, d.score >= d.threshold) == ("semantic", True)


@pytest.mark.parametrize(("obj", "message"), [
    ({"types": {"email": ["nope"]}}, "types.email: 'nope' is not a canonical key"),
    ({"type_means": {"password": "pwd"}}, "type_means.password: 'pwd' is not a canonical key"),
    ({"autocomplete": {"tel": "phone"}}, "autocomplete.tel: 'phone' is not a canonical key"),
    ({"autocomplete": {"tel": 5}}, "autocomplete.tel: 5 is not a canonical key"),  # a key or null
    ({"type_means": ["password"]}, "must be objects"),
    ({"types": {"email": "email"}}, "types.email must be a list of keys"),
    ({"context_rules": [{"key": "email"}]}, r"context_rules\[0\] needs 'form_kind' and 'key'"),
    ({"values": {"email": "a@b.c"}}, "values.email must be a list of non-empty strings"),
    ({"values": {"nope": ["x"]}}, "values: 'nope' is not a canonical key"),
    ({"synonyms": {"email": ["Courriel", " "]}}, "synonyms.email must be a list of non-empty strings"),
    ({"synonyms": {"nope": ["x"]}}, "synonyms: 'nope' is not a canonical key"),
    ({"synonyms": ["Courriel"]}, "must be objects"),
    ({"fillers": "your"}, "'fillers' must be a list of non-empty words"),
    ({"fillers": ["your", "*"]}, "'fillers' must be a list of non-empty words"),
    ({"fillers": ["your", "geben sie"]}, "'fillers' must be a list of non-empty words"),
    ({"qualifiers": "home"}, "'qualifiers' must be a list of words or phrases"),
    ({"qualifiers": ["home", "*"]}, "'qualifiers' must be a list of words or phrases"),
    ({"numbered": {"address_line1": 1}}, "'numbered' must be a list of lists of keys"),
    ({"numbered": [["address_line1"]]}, r"numbered\[0\] must be a list of two or more different keys"),
    ({"numbered": [["email", "email"]]}, r"numbered\[0\] must be a list of two or more different keys"),
    ({"numbered": [["email", "nope"]]}, r"numbered\[0\]: 'nope' is not a canonical key"),
    ({"numbered": [["email", "password"], ["password", "email"]]},
     r"numbered\[1\]: 'password' is already in numbered\[0\]"),
    ({"sibling_rules": {"key": "email"}}, "'sibling_rules' must be a list"),
    ({"sibling_rules": [{"key": "email", "becomes": "password"}]},
     r"sibling_rules\[0\] needs 'key', 'becomes' and 'with' or 'without'"),
    ({"sibling_rules": [{"key": "email", "with": "email", "without": "email", "becomes": "password"}]},
     r"sibling_rules\[0\]: 'email' is both in 'with' and 'without'"),
    ({"sibling_rules": [{"key": "email", "with": [], "becomes": "password"}]},
     r"sibling_rules\[0\]\.with must be a key or a list of keys"),
    ({"sibling_rules": [{"key": "email", "without": ["password", "nope"], "becomes": "username"}]},
     r"sibling_rules\[0\]\.without: 'nope' is not a canonical key"),
    ({"sibling_rules": [{"key": "email", "without": "nope", "becomes": "password"}]},
     r"sibling_rules\[0\]\.without: 'nope' is not a canonical key"),
    ({"sibling_rules": [{"key": "email", "with": "password", "becomes": "mail"}]},
     r"sibling_rules\[0\]\.becomes: 'mail' is not a canonical key"),
    ({"needs_words": ["birth"]}, "must be objects"),
    ({"needs_words": {"nope": ["birth"]}}, "needs_words: 'nope' is not a canonical key"),
    ({"needs_words": {"email": "mail"}}, "needs_words.email must be a list of non-empty strings"),
    ({"needs_words": {"email": ["mail", "@@"]}},
     "needs_words.email: every entry must hold a letter or digit"),
    ({"needs_types": ["password"]}, "must be objects"),
    ({"needs_types": {"nope": ["password"]}}, "needs_types: 'nope' is not a canonical key"),
    ({"needs_types": {"password": "password"}},
     "needs_types.password must be a list of non-empty strings"),
    ({"needs_types": {"password": [" "]}},
     "needs_types.password must be a list of non-empty strings"),
    ({"sibling_rules": [{"key": "email", "with": "password", "becomes": "email", "unless": "x"}]},
     r"sibling_rules\[0\]\.unless: no word list 'x' in 'word_lists'$"),
    ({"word_lists": {"mail_words": ["mail"]},
      "sibling_rules": [{"key": "email", "with": "password", "becomes": "email", "unless": "x"}]},
     r"sibling_rules\[0\]\.unless: no word list 'x' in 'word_lists' \(it declares mail_words\)"),
    ({"sibling_rules": [{"key": "email", "with": "password", "becomes": "email", "unless": [1]}]},
     r"sibling_rules\[0\]\.unless must be a list of words or the name of a word list"),
    ({"word_lists": ["mail"]}, "must be objects"),
    ({"contradictions": "yes"}, "'contradictions' must be true or false"),
    ({"word_lists": {"mail_words": "mail"}}, "word_lists.mail_words must be a list of words"),
    ({"word_lists": {"mail_words": ["mail", "@"]}}, "word_lists.mail_words must be a list of words"),
    ({"date_parts": {"week": ["w"]}}, "date_parts.week: not one of day, month, year"),
    ({"date_parts": {"day": "day"}}, "date_parts.day must be a list of words"),
    ({"date_parts": {"day": ["day of birth"]}}, "date_parts.day must be a list of words"),
    ({"or_words": "or"}, "'or_words' must be a list of words"),
    ({"or_words": ["or", "either or"]}, "'or_words' must be a list of words"),
    ({"composites": ["email"]}, "must be objects"),
    ({"composites": {"nope": ["email", "password"]}}, "composites: 'nope' is not a canonical key"),
    ({"composites": {"email": ["password"]}}, "composites.email must be a list of two or more other keys"),
    ({"composites": {"email": ["email", "password"]}},
     "composites.email must be a list of two or more other keys"),
    ({"composites": {"email": ["password", "nope"]}}, "composites.email: 'nope' is not a canonical key"),
    ({"listed_parts": ["email"]}, "must be objects"),
    ({"listed_parts": {"nope": ["email", "password"]}}, "listed_parts: 'nope' is not a canonical key"),
    ({"listed_parts": {"email": ["password"]}},
     "listed_parts.email must be a list of two or more other keys"),
    ({"listed_parts": {"email": ["password", "nope"]}},
     "listed_parts.email: 'nope' is not a canonical key"),
])
def test_hints_validation_names_file_and_entry(obj: dict[str, Any], message: str) -> None:
    from semindex.errors import DataError

    with pytest.raises(DataError, match=message) as info:
        parse_hints(obj, "c.hints.json", ["email", "password"])
    assert str(info.value).startswith("c.hints.json")


def test_lexicon_leave_out_ignores_the_texts_own_entry() -> None:
    lex = Lexicon([("email", "E-mail"), ("email", "Email address"), ("username", "Login name")])
    assert lex.best("e-mail") == ("email", 1.0, "E-mail")
    _, ratio, syn = lex.best("E-mail", leave_out=True)
    assert syn != "E-mail" and ratio < 1.0


def test_other_attributes_name_the_key_when_the_label_does_not(matcher: Matcher) -> None:
    d = matcher.classify([{"label": "Qwxz vbnm", "placeholder": "Surname", "id": "surname"}])[0]
    assert (d.key, d.reason, d.synonym, d.score) == ("last_name", "lexical", "Surname", 1.0)
    assert d.evidence == ["another attribute ('Surname') is the synonym 'Surname' of last_name"]


def test_a_reviewed_field_text_outranks_its_label(tmp_path: Path, tiny) -> None:  # type: ignore[no-untyped-def]
    """A person's answer for a field's whole text (label and identifiers, as the service
    logs it) decides that field, though its label alone is another key's synonym."""
    store = ModelStore(tmp_path / "ms")
    reviewed = tiny.with_extra([("username", "Surname | company login surname")])
    build_local_version(store, reviewed, "hash:64", HashEncoder(64), thresholds=Thresholds(0.5),
                        unknowns=["Password | password hint"])
    m = Matcher(load_bundle(store.resolve("latest")))
    same = {"label": "Surname", "name": "companyLoginSurname"}
    assert field_text(same) == "Surname | company login surname"
    d = m.classify([same])[0]
    assert (d.key, d.accepted, d.reason, d.synonym) == ("username", True, "lexical",
                                                       "Surname | company login surname")
    assert d.evidence == ["the field's whole text is a reviewed field's text"]
    hint = m.classify([{"label": "Password", "id": "password_hint"}])[0]
    assert (hint.accepted, hint.reason) == (False, "known_unknown")
    # Another field with that label is still read by its label.
    other = m.classify([{"label": "Surname", "name": "lastSurname"}])[0]
    assert (other.key, other.reason, other.synonym) == ("last_name", "lexical", "Surname")


def test_a_rejected_key_is_withdrawn_from_that_field_text_only(tmp_path: Path, tiny) -> None:  # type: ignore[no-untyped-def]
    """A person said "not last_name" for a field's whole text (and nothing else): that field
    abstains, with the reason; the same label elsewhere and declared evidence stand."""
    store = ModelStore(tmp_path / "ms")
    hints = parse_hints({"type_means": {"password": "password"}}, "hints", tiny.keys)
    name = build_local_version(store, tiny, "hash:64", HashEncoder(64), thresholds=Thresholds(0.5),
                               hints=hints, rejected=[("Surname | maiden surname", "last_name"),
                                         ("Password | pw hint", "password")])
    doc = json.loads((store.resolve(name) / REJECTED_FILE).read_text())
    assert doc == {"rejected": [{"text": "Password | pw hint", "key": "password"},
                                {"text": "Surname | maiden surname", "key": "last_name"}]}
    m = Matcher(load_bundle(store.resolve(name)))
    assert m.bundle.rejected == {("surname maiden surname", "last_name"),
                                 ("password pw hint", "password")}
    d, same_label, typed = m.classify([{"label": "Surname", "name": "maiden_surname"},
                                       {"label": "Surname", "name": "surname"},
                                       {"label": "Password", "name": "pw_hint", "type": "password"}],
                                      {"scope": "page"})
    assert (d.key, d.accepted, d.reason) == ("last_name", False, "rejected")
    assert d.evidence[-1] == "a person rejected last_name for this field's text"
    assert (same_label.key, same_label.accepted, same_label.reason) == ("last_name", True, "lexical")
    assert (typed.key, typed.accepted, typed.reason) == ("password", True, "type")
    # The one alternative the other fields leave is withdrawn the same way.
    offers = build_local_version(store, tiny, "hash:64", HashEncoder(64), thresholds=Thresholds(0.5),
                                 hints=parse_hints({"or_words": ["or"]}, "hints", tiny.keys),
                                 rejected=[("E-mail or Username", "username")])
    left, mail = Matcher(load_bundle(store.resolve(offers))).classify(
        [{"label": "E-mail or Username"}, {"label": "E-mail"}], {"scope": "page"})
    assert (left.key, left.accepted, left.reason) == ("username", False, "rejected")
    assert (mail.key, mail.accepted) == ("email", True)
    # A version without the file (built before it existed) rejects nothing.
    (store.resolve(name) / REJECTED_FILE).unlink()
    assert load_bundle(store.resolve(name)).rejected == frozenset()
    (store.resolve(name) / REJECTED_FILE).write_text('{"rejected": [{"text": 3}]}')
    with pytest.raises(ModelLoadError, match=r"rejected.json: 'rejected' must be a list"):
        load_bundle(store.resolve(name))


def test_lexicon_leaves_filler_words_out() -> None:
    lex = Lexicon([("email", "E-mail"), ("full_name", "Your name"), ("first_name", "Ihr")],
                  frozenset({"your", "votre", "ihr"}))
    assert lex.best("Votre e-mail :") == ("email", 1.0, "E-mail")
    assert lex.best("Your name") == ("full_name", 1.0, "Your name")
    assert lex.norm("Your Name") == "name" and lex.norm("Your") == "your"  # a filler alone stays
    assert lex.best("Ihr") == ("first_name", 1.0, "Ihr")
    assert lex.exact("Votre E-mail") == ("email", "E-mail") and lex.exact("E-mai") == (None, None)
    plain = Lexicon([("email", "E-mail")])
    assert plain.best("Votre e-mail")[1] < 1.0


@pytest.mark.parametrize(("text", "mention"), [
    ("Other City :", ("city", "City")),
    ("Billing Zip Code *", ("postal_code", "Zip code")),       # the longest run wins ...
    ("Confirm your email address", ("email", "Email address")),  # ... over "address"
    ("Votre ville", ("city", "Ville")),                          # filler words left out
    ("Ville / City", ("city", "Ville")),                         # two of one key: the first
    ("City / Ville", ("city", "City")),
    ("City or Zip", None),                                      # two keys, equally long
    ("The filter name", None),                                  # a confirmed unknown's text
    ("Zi", None),                                               # under MIN_MENTION characters
    ("Coupon", None),
    # "Name" lies in the company's "Company name": beside "Organization" it names no other key
    ("Organization Name *", ("company", "Organization")),
    ("City name", None),             # ... but it lies in no entry of the city's
    ("Organization address", None),  # "Address" lies in the email's entry, not the company's
])
def test_lexicon_mention(text: str, mention: tuple[str, str] | None) -> None:
    lex = Lexicon([("city", "City"), ("city", "Ville"), ("postal_code", "Zip"),
                   ("postal_code", "Zip code"), ("email", "Email address"),
                   ("address_line1", "Address"), ("full_name", "Name"), (UNKNOWN, "Filter name"),
                   ("postal_code", "Zi"), ("company", "Company name"), ("company", "Organization")],
                  frozenset({"votre", "your"}))
    assert lex.mention(text) == mention


def test_a_mention_of_two_keys_that_lie_in_each_others_entries_says_nothing() -> None:
    """The longest runs decide: where each lies inside a longer entry of the other's key, no
    shorter run (a third key's "Note") is read instead."""
    lex = Lexicon([("a", "Big box"), ("a", "Red car big box"), ("b", "Red car"), ("b", "Big box red car"),
                   ("c", "Note")], frozenset())
    assert lex.mention("Red car note big box") is None
    assert lex.mention("A note") == ("c", "Note")


@pytest.mark.parametrize(("text", "offered"), [
    ("Email/Username", {"email": "Email", "username": "Username"}),
    ("City, State, Zip", {"city": "City", "state": "State", "postal_code": "Zip"}),
    ("Ville ou code postal :", {"city": "Ville", "postal_code": "Code postal"}),
    ("Your name / Business name", {"full_name": "Name", "company": "Business name"}),
    ("Email address", {}),              # one run of words names one thing ...
    ("Adresse email", {}),              # ... though "Adresse" alone is another key's
    ("Zip / Postal code", {}),          # alternatives of one key
    ("Name of your company", {}),       # "of" joins no alternatives
    ("Email or", {}),
])
def test_lexicon_alternatives(text: str, offered: dict[str, str]) -> None:
    lex = Lexicon([("email", "Email"), ("email", "Email address"), ("email", "Adresse email"),
                   ("username", "Username"), ("city", "City"), ("city", "Ville"),
                   ("state", "State"), ("postal_code", "Zip"), ("postal_code", "Postal code"),
                   ("postal_code", "Code postal"), ("address_line1", "Address"),
                   ("address_line1", "Adresse"), ("full_name", "Name"),
                   ("company", "Business name"), ("company", "Company")], frozenset({"your"}))
    assert lex.alternatives(text, {"or", "ou"}).keys == offered


@pytest.mark.parametrize(("text", "either"), [
    ("Email/Username", True),
    ("Email or username, please", True),    # the comma lies outside the choice
    ("Email, or username", True),          # the or-word after the comma offers the choice
    ("Email, username", False),            # a comma alone between them: a list, no guess
    ("City, State, or Zip", False),         # a list whose last part an or-word joins
    ("City, State, Zip", False),
    ("City; Zip", False),
    ("City or Zip, State", False),          # a list, in part
    ("Email address", False),               # nothing offered
])
def test_lexicon_alternatives_say_whether_they_are_a_choice(text: str, either: bool) -> None:
    lex = Lexicon([("email", "Email"), ("email", "Email address"), ("username", "Username"),
                   ("city", "City"), ("state", "State"), ("postal_code", "Zip")],
                  frozenset({"please"}))
    assert lex.alternatives(text, {"or"}).either is either


@pytest.mark.parametrize(("field", "key", "reason", "evidence"), [
    ({"label": "E-mail or Username", "name": "log"}, None, "ambiguous",
     "the label offers email or username and no other attribute says which"),
    ({"label": "E-mail / Username", "name": "log", "id": "user_login_name"}, "username", "lexical",
     "the label offers email or username; 'user login name' mentions 'Login name', a synonym "
     "of username"),
    ({"label": "Username or e-mail", "type": "select"}, "email", "lexical",  # a select: no username
     "the label offers email or username; the field's declared evidence admits only email"),
    ({"label": "Surname, first name", "name": "holder"}, None, "ambiguous",
     "the label offers first_name or last_name and no other attribute says which"),
])
def test_a_label_that_offers_alternatives_is_decided_by_the_other_attributes(
        matcher: Matcher, field: dict[str, str], key: str | None, reason: str, evidence: str) -> None:
    """"Email or username" offers two keys: the field's declared evidence or its other
    attributes choose one, else the field abstains (filling either would be a guess)."""
    d = matcher.classify([field])[0]
    assert (d.key, d.reason, d.accepted) == (key, reason, key is not None)
    assert d.evidence == [evidence]


@pytest.mark.parametrize(("fields", "scope", "expected"), [
    # alone, nothing chooses: the field abstains and lists what the label offers
    ([{"label": "E-mail / Username"}], "form", [(None, "ambiguous", ["email", "username"])]),
    # beside an email field the user name is what is left; on a page as in a form
    ([{"label": "E-mail / Username"}, {"label": "E-mail"}], "form",
     [("username", "assignment", []), ("email", "lexical", [])]),
    ([{"label": "E-mail"}, {"label": "E-mail / Username"}], "page",
     [("email", "lexical", []), ("username", "assignment", [])]),
    # both keys held elsewhere: nothing is left, it still abstains
    ([{"label": "E-mail / Username"}, {"label": "E-mail"}, {"label": "Username"}], "page",
     [(None, "ambiguous", ["email", "username"]), ("email", "lexical", []),
      ("username", "lexical", [])]),
    # two such fields left with the same key: neither takes it
    ([{"label": "E-mail / Username"}, {"label": "Username or e-mail"}, {"label": "E-mail"}], "page",
     [(None, "ambiguous", ["email", "username"]), (None, "ambiguous", ["username", "email"]),
      ("email", "lexical", [])]),
    # a repeatable key is never used up: only the other one is left
    ([{"label": "Password or e-mail"}, {"label": "Password", "type": "text"},
      {"label": "E-mail"}], "page",
     [("password", "assignment", []), ("password", "lexical", []), ("email", "lexical", [])]),
])
def test_a_label_offering_keys_that_other_fields_hold_takes_the_one_left(
        matcher: Matcher, fields: list[dict[str, str]], scope: str,
        expected: list[tuple[str | None, str, list[str]]]) -> None:
    """A form asks for a thing once: a label that offers keys other fields hold asks for
    the one left."""
    ds = matcher.classify(fields, {"scope": scope})
    assert [(d.key, d.reason, d.alternatives) for d in ds] == expected
    assert [d.accepted for d in ds] == [k is not None for k, _, _ in expected]
    for d in ds:
        if d.reason == "assignment":
            assert "another field's" in d.evidence[-1] and d.score == 1.0


def _offers(tmp_path: Path, listed_parts: dict[str, list[str]]) -> Matcher:
    from semindex.data import parse_canonical

    canon = parse_canonical({"full_name": ["Name", "Full name", "Nom et prénom"],
                             "first_name": ["First name", "Prénom"], "last_name": ["Last name", "Nom"],
                             "company": ["Company name"], "city": ["City"], "postal_code": ["Zip"],
                             "country": ["Country"], "address_line1": ["Street address"],
                             "email": ["Email"], "phone": ["Phone"]}, "offers")
    hints = parse_hints({"or_words": ["or"], "composites": {"full_name": ["first_name", "last_name"]},
                         "listed_parts": listed_parts}, "hints", canon.keys)
    store = ModelStore(tmp_path / "offers")
    build_local_version(store, canon.with_extra([("country", "Zip/Post code")]), "hash:64",
                        HashEncoder(64), thresholds=Thresholds(0.99, {}, 1.0), hints=hints)
    return Matcher(load_bundle(store.resolve("latest")))


@pytest.fixture
def offers(tmp_path: Path) -> Matcher:
    """Names, a company, places; a reviewed "Zip/Post code" confirmed as the country (one
    site's odd answer) makes "zip" a broader word, but not between a city and a postal code."""
    return _offers(tmp_path, {})


@pytest.fixture
def addresses(tmp_path: Path) -> Matcher:
    """The same, where a label that lists a city, a postal code or a country asks for the
    address (``listed_parts``)."""
    return _offers(tmp_path, {"address_line1": ["city", "postal_code", "country"]})


@pytest.mark.parametrize(("field", "key", "evidence"), [
    ({"label": "Nom, prénom", "name": "nom"}, "full_name",  # "nom" lies in "Nom et prénom"
     "the label offers first_name or last_name: together, full_name"),
    ({"label": "First name / Last name", "name": "first_name"}, "first_name",
     "the label offers first_name or last_name; 'first name' mentions 'First name', a synonym "
     "of first_name"),
    ({"label": "Your name / Company name", "name": "signup_name"}, None,  # "name": in "Company name"
     "the label offers company or full_name and no other attribute says which"),
    ({"label": "City or Zip", "name": "search_zip"}, "postal_code",  # the country's entry says nothing here
     "the label offers city or postal_code; 'search zip' mentions 'Zip', a synonym of postal_code"),
])
def test_an_attribute_chooses_only_by_a_word_that_tells_the_offered_keys_apart(
        offers: Matcher, field: dict[str, str], key: str | None, evidence: str) -> None:
    d = offers.classify([field])[0]
    assert (d.key, d.accepted, d.reason) == (key, key is not None, "lexical" if key else "ambiguous")
    assert d.evidence == [evidence]


@pytest.mark.parametrize(("field", "key", "listed", "evidence"), [
    # a list of an address's parts that no attribute chooses from: a place, an address
    ({"label": "City, Zip, Country", "name": "input_5"}, "address_line1",
     ["city", "postal_code", "country"],
     "the label offers city or country or postal_code: together, address_line1"),
    ({"label": "(Zip; City or Country)"}, "address_line1", ["postal_code", "city", "country"],
     "the label offers city or country or postal_code: together, address_line1"),
    # an attribute that chooses a part comes first
    ({"label": "City, Zip", "name": "search_zip"}, "postal_code", [],
     "the label offers city or postal_code; 'search zip' mentions 'Zip', a synonym of postal_code"),
    # a choice asks for one of them, and a list of other keys for all of them
    ({"label": "City or Zip", "name": "input_5"}, None, [],
     "the label offers city or postal_code and no other attribute says which"),
    ({"label": "City / Country"}, None, [],
     "the label offers city or country and no other attribute says which"),
    ({"label": "Email, Phone"}, None, [],
     "the label offers email or phone and no other attribute says which"),
    ({"label": "Zip, Email"}, None, [],
     "the label offers email or postal_code and no other attribute says which"),
])
def test_a_label_that_lists_the_parts_of_an_address_asks_for_it(
        addresses: Matcher, field: dict[str, str], key: str | None, listed: list[str],
        evidence: str) -> None:
    d = addresses.classify([field])[0]
    assert (d.key, d.accepted, d.reason) == (key, key is not None, "lexical" if key else "ambiguous")
    assert (d.listed, d.evidence) == (listed, [evidence])


def test_a_listed_address_takes_no_key_from_the_field_named_by_it(addresses: Matcher) -> None:
    """In one form (the one-key-per-field assignment), "Street address" and "City, Zip"
    both hold the address: the listed parts are not what "Street address" holds, so neither
    loses its key — while two fields named by one key still share it with no one."""
    street = {"label": "Street address", "name": "a"}
    place = {"label": "City, Zip", "name": "b"}
    ds = addresses.classify([street, place])
    assert [(d.key, d.accepted, d.reason, d.listed) for d in ds] == [
        ("address_line1", True, "lexical", []),
        ("address_line1", True, "lexical", ["city", "postal_code"])]
    twice = addresses.classify([street, {"label": "Street address", "name": "c"}])
    assert sum(d.accepted and d.key == "address_line1" for d in twice) == 1


@pytest.mark.parametrize(("field", "key"), [
    # A label that names two parts of a declared composite asks for the whole, whatever
    # the identifiers say ...
    ({"label": "Your first name and last name", "name": "user_name"}, "full_name"),
    ({"label": "Prénom et nom", "name": "first_name"}, "full_name"),
    ({"label": "Last name and first name please"}, "full_name"),
    # ... one part is that part, and identifiers alone never name the whole.
    ({"label": "First name", "name": "last_name"}, "first_name"),
    ({"label": "", "name": "first_name_last_name"}, None),
])
def test_a_label_that_names_the_parts_asks_for_the_whole(offers: Matcher, field: dict[str, str],
                                                          key: str | None) -> None:
    d = offers.classify([field])[0]
    together = "the label names first_name and last_name: together full_name"
    if key == "full_name":
        assert (d.key, d.accepted, d.reason, d.evidence) == ("full_name", True, "lexical", [together])
    else:
        assert together not in d.evidence
        if key is not None:
            assert (d.key, d.reason) == (key, "lexical")


@pytest.mark.parametrize(("label", "alternatives", "either"), [
    ("City or Zip", ["city", "postal_code"], True),    # a choice: either answers the field
    ("Zip / City", ["postal_code", "city"], True),     # in the label's order
    ("City, Zip", ["city", "postal_code"], False),     # a list: both may be wanted
    ("Country; City; Zip", ["country", "city", "postal_code"], False),
    ("Country, City or Zip", ["country", "city", "postal_code"], False),  # a list, in part
    ("Country | City", ["country", "city"], True),  # not read as the label and an attribute
    ("City or Zip, please", ["city", "postal_code"], True),  # a comma beside the choice ...
    ("Zip or City; optional", ["postal_code", "city"], True),
    ("Zip, then City / Country", ["postal_code", "city", "country"], False),  # ... or inside it
])
def test_an_ambiguous_label_says_whether_it_offers_a_choice(
        offers: Matcher, label: str, alternatives: list[str], either: bool) -> None:
    d = offers.classify([{"label": label}])[0]
    assert (d.key, d.reason, d.alternatives, d.either) == (None, "ambiguous", alternatives, either)
    chosen = offers.classify([{"label": label, "name": "city"}])[0]  # resolved: nothing to offer
    assert (chosen.key, chosen.alternatives, chosen.either) == ("city", [], False)


def test_alternatives_need_the_hints_files_or_words(tmp_path: Path, tiny) -> None:  # type: ignore[no-untyped-def]
    """Without ``or_words`` (a version built without a hints file: job titles) a label
    with alternatives goes through the usual steps, and a reviewed label still decides."""
    store = ModelStore(tmp_path / "ms")
    build_local_version(store, tiny.with_extra([("username", "E-mail or Username")]), "hash:64",
                        HashEncoder(64), thresholds=Thresholds(0.5, {}, 1.0),
                        hints=parse_hints({"or_words": ["or"]}, "hints"))
    build_local_version(store, tiny, "hash:64", HashEncoder(64), thresholds=Thresholds(0.5, {}, 1.0),
                        hints=Hints())
    with_words, without = (Matcher(load_bundle(store.resolve(v.name))) for v in store.versions())
    field = [{"label": "E-mail or Username", "name": "log"}, {"label": "E-mail / Username"}]
    reviewed, offered = (with_words.classify([f])[0] for f in field)
    assert (reviewed.key, reviewed.reason) == ("username", "lexical")  # a person said so
    assert (offered.reason, offered.alternatives) == ("ambiguous", ["email", "username"])
    assert all(d.reason != "ambiguous" for d in without.classify(field, {"scope": "page"}))


@pytest.mark.parametrize(("text", "found"), [
    ("Mailing Address", ("address_line1", "Address", ["mailing"])),
    ("Adresse de livraison :", ("address_line1", "Adresse", ["de livraison"])),  # phrase first
    ("Your home phone *", ("phone", "Phone", ["home"])),          # fillers go too
    ("Shipping ZIP code", ("postal_code", "ZIP code", ["shipping"])),
    ("Confirm new email", ("email", "Email", ["confirm", "new"])),   # in text order
    ("Your name / Business name", None),  # "business" is part of the synonym "Business name"
    ("Home", None),                       # nothing but qualifiers
    ("Home page", None),                  # what is left names nothing
    ("Billing filter name", None),        # what is left is a confirmed unknown
    ("Work name", None),                  # what is left is ambiguous
    ("Address", None),                    # no qualifier: the exact step's business
])
def test_lexicon_unqualified(text: str, found: tuple[str, str, list[str]] | None) -> None:
    lex = Lexicon([("address_line1", "Address"), ("address_line1", "Adresse"), ("phone", "Phone"),
                   ("postal_code", "ZIP code"), ("email", "Email"), ("company", "Business name"),
                   ("full_name", "Name"), ("username", "Name"), (UNKNOWN, "Filter name")],
                  frozenset({"your"}),
                  ("mailing", "de livraison", "livraison", "home", "shipping", "billing",
                   "business", "confirm", "new", "work"))
    assert lex.unqualified(text) == found


def test_a_qualified_label_names_the_key_of_what_is_left(matcher: Matcher) -> None:
    """The sample hints' ``qualifiers`` through the matcher: "Shipping ZIP code" is decided by
    the lexical step with the qualifier in its evidence; a declared type that does not admit
    the key keeps it out; an exact synonym that holds a qualifier ("Confirm password") is
    still read as a whole."""
    zip_, typed, whole = matcher.classify([
        {"selector": "#z", "label": "Shipping ZIP code"},
        {"selector": "#t", "label": "Shipping ZIP code", "type": "email"},
        {"selector": "#p", "label": "Confirm password"}])
    assert (zip_.key, zip_.reason, zip_.accepted, zip_.synonym) == (
        "postal_code", "lexical", True, "ZIP code")
    assert zip_.evidence == ["the label is the synonym 'ZIP code' of postal_code once the "
                             "qualifier 'shipping' is left out"]
    assert typed.key != "postal_code"
    assert (whole.key, whole.synonym, whole.evidence) == (
        "password", "Confirm password", ["lexical ratio 1.00"])


@pytest.mark.parametrize(("text", "number"), [
    ("Address 2", 2), ("Street Address Line 2 (optional)", 2), ("*Address1:", 1),
    ("Address 3:", 3), ("2", None), ("Address", None), ("Address 12", None), ("Vastaus 0", None),
])
def test_lexicon_number(text: str, number: int | None) -> None:
    assert Lexicon([], frozenset({"optional"})).number(text) == number


def _decision(key: str, reason: str = "lexical", accepted: bool = True) -> Decision:
    return Decision(None, key, key, 0.9, 0.5, 0.1, None, reason, accepted)


@pytest.mark.parametrize(("key", "reason", "number", "admitted", "becomes"), [
    ("address_line1", "lexical", 2, None, ("address_line2", "number")),
    ("address_line1", "semantic", 2, None, ("address_line2", "number")),
    ("address_line2", "mention", 1, None, ("address_line1", "number")),
    ("address_line1", "lexical", 1, None, ("address_line1", "lexical")),   # already the first
    ("address_line1", "lexical", 3, None, ("address_line1", "lexical")),   # past the series
    ("address_line1", "lexical", None, None, ("address_line1", "lexical")),
    ("email", "lexical", 2, None, ("email", "lexical")),                   # in no series
    ("address_line1", "autocomplete", 2, None, ("address_line1", "autocomplete")),  # declared
    ("address_line1", "lexical", 2, frozenset({"address_line1"}), ("address_line1", "lexical")),
])
def test_a_numbered_key_takes_the_number_of_its_label(
        key: str, reason: str, number: int | None, admitted: frozenset[str] | None,
        becomes: tuple[str, str]) -> None:
    d = _decision(key, reason)
    written = None if number is None else (number, f"Address {number}")
    apply_numbers([d], [("address_line1", "address_line2")], [written], [admitted])
    assert (d.key, d.reason) == becomes
    if d.reason == "number":
        assert d.runner_up == {"key": key, "score": 0.9}
        assert d.evidence[-1] == (f"'Address {number}' ends in {number}: {becomes[0]} is number "
                                  f"{number} of address_line1, address_line2")


def test_numbered_labels_through_the_matcher(tmp_path: Path, sample_hints: Hints) -> None:
    """The sample hints number the address lines: "Address 2" reads like the first line's
    synonym "Address", but its number makes it the second line; "Address 1" stays the first."""
    from semindex.data import parse_canonical

    canon = parse_canonical({"address_line1": ["Address", "Street address"],
                             "address_line2": ["Address line 2", "Apartment, suite"],
                             "email": ["Email"]}, "canon")
    assert sample_hints.numbered == (("address_line1", "address_line2"),)
    hints = parse_hints({"numbered": sample_hints.to_json()["numbered"]}, "hints", canon.keys)
    store = ModelStore(tmp_path / "ms")
    build_local_version(store, canon, "hash:64", HashEncoder(64),
                        thresholds=Thresholds(0.95, {}, 0.9), hints=hints)
    m = Matcher(load_bundle(store.resolve("latest")))
    one, two, mail = m.classify([{"selector": "#1", "label": "Address 1"},
                                 {"selector": "#2", "label": "Address 2:"},
                                 {"selector": "#e", "label": "Email 2"}])
    named, = m.classify([{"selector": "#n", "name": "street_address2"}])
    assert (one.key, two.key, two.reason, mail.key) == (
        "address_line1", "address_line2", "number", "email")
    # Unlabelled, the name says the number: the text the lexical step reads drops the
    # identifier's digits ("street address"), the number is read from the name as written.
    assert (named.text, named.key, named.reason) == ("street address", "address_line2", "number")
    # A label that ends in no number leaves it to the attribute whose words name the
    # address: the identifier that says which address says which line.
    suite, other = m.classify([{"selector": "#s", "label": "Qwxz", "name": "shipping_address2"},
                               {"selector": "#o", "label": "Street address", "name": "field2"}])
    assert (suite.key, suite.reason) == ("address_line2", "number"), suite.evidence
    assert suite.evidence[-1].startswith("'shipping_address2' ends in 2: address_line2")
    assert suite.runner_up is not None and suite.runner_up["key"] == "address_line1"
    assert (other.key, other.reason) == ("address_line1", "lexical")  # "field2" names no address


def test_lexicon_reports_the_synonym_as_written() -> None:
    # "Your email" and "Email" are one entry once the filler is dropped; the evidence names
    # the synonym that is the words the label has, whichever came first.
    for pairs in ([("email", "Your email"), ("email", "Email")],
                  [("email", "Email"), ("email", "Your email")]):
        lex = Lexicon(pairs, frozenset({"your"}))
        assert lex.mention("Send gift card to recipient email") == ("email", "Email")
        assert lex.exact("YOUR EMAIL") == ("email", "Email")
    only = Lexicon([("email", "Your email")], frozenset({"your"}))
    assert only.mention("recipient email") == ("email", "Your email")  # the only one there is


@pytest.fixture
def strict(tmp_path: Path, tiny) -> Matcher:  # type: ignore[no-untyped-def]
    """The tiny keys with a semantic threshold (0.95) the hash encoder never reaches."""
    store = ModelStore(tmp_path / "strict")
    build_local_version(store, tiny, "hash:64", HashEncoder(64),
                        thresholds=Thresholds(0.95, {}, 1.0), hints=Hints())
    return Matcher(load_bundle(store.resolve("latest")))


@pytest.mark.parametrize(("label", "key", "reason"), [
    ("Surname of the account holder", "last_name", "mention"),     # mention and semantic agree
    ("Other ZIP code", "postal_code", "mention"),
    ("Confirmed passwords surname", "password", "below_threshold"),  # they disagree
    ("Surname or forename", "last_name", "below_threshold"),         # the mention is ambiguous
    ("Qwxz vbnm", None, "below_threshold"),
])
def test_a_mentioned_synonym_that_the_semantic_step_agrees_with_is_accepted(
        strict: Matcher, label: str, key: str | None, reason: str) -> None:
    d = strict.classify([{"label": label}])[0]
    assert d.reason == reason and d.accepted == (reason == "mention")
    assert key is None or d.key == key
    assert d.score < d.threshold  # the semantic score alone would not accept it
    if reason == "mention":
        assert d.evidence[0].startswith(f"the label mentions {d.synonym!r}, a synonym of {key}")


@pytest.mark.parametrize(("field", "key", "reason", "part"), [
    ({"label": "Qwxz", "name": "account_surname"}, "last_name", "mention", "account surname"),
    ({"label": "Qwxz vbnm", "placeholder": "Your ZIP code please"}, "postal_code", "mention",
     "Your ZIP code please"),
    ({"label": "Surname or forename", "name": "holder_surname"}, "last_name", "mention",
     "holder surname"),  # a label that mentions two keys leaves it to the name
    ({"label": "Other ZIP code here", "name": "holder_surname"}, "last_name", "below_threshold",
     None),  # the label mentions another key
])
def test_another_attribute_that_mentions_the_semantic_key_is_accepted(
        strict: Matcher, field: dict[str, str], key: str, reason: str, part: str | None) -> None:
    d = strict.classify([field])[0]
    assert (d.key, d.reason, d.accepted) == (key, reason, reason == "mention")
    assert d.score < d.threshold
    if part is not None:
        assert d.evidence[0].startswith(f"{part!r} mentions {d.synonym!r}, a synonym of {key}")


def test_a_date_part_word_is_no_mention_of_the_date(tmp_path: Path, tiny) -> None:  # type: ignore[no-untyped-def]
    """A reviewed "Month" (a birth month select somewhere) is an entry of the birth date,
    but a field that only mentions "month" ("Every month on the", ``name="dayOfMonth"``) holds
    a part of *some* date: the date-part step, which reads the field's whole first attribute
    and the request's words, decides such fields, not the mention step."""
    store = ModelStore(tmp_path / "ms")
    hints = parse_hints({"date_parts": {"month": ["month"], "day": ["day"]},
                         "needs_words": {"date_of_birth": ["birth"]},
                         "types": {"date": ["date_of_birth"]}}, "hints", tiny.keys)
    build_local_version(store, tiny.with_extra([("date_of_birth", "Month")]), "hash:64",
                        HashEncoder(64), thresholds=Thresholds(0.95, {}, 1.0), hints=hints)
    m = Matcher(load_bundle(store.resolve("latest")))
    birth = {"label": "Date of birth"}
    for fld in ({"label": "Qwxz", "name": "day_of_month"},
                {"label": "Every month on the", "name": "dayOfMonth"}):
        d = m.classify([fld, birth], {"scope": "page"})[0]
        assert (d.key, d.reason, d.accepted) == ("date_of_birth", "below_threshold", False), d.evidence
    said = m.classify([{"label": "Your date of birth, please"}])[0]
    assert (said.key, said.reason, said.accepted) == ("date_of_birth", "mention", True)
    part = m.classify([{"label": "Month"}, birth], {"scope": "page"})[0]  # the part alone: its step
    assert (part.key, part.accepted) == ("date_of_birth", True)


def test_a_broader_word_in_another_attribute_says_nothing(tmp_path: Path) -> None:
    from semindex.data import parse_canonical

    # "Name" lies in two other keys' entries: a word that takes its modifier's key, so no
    # identifier's head either (``suggest_name``).
    canon = parse_canonical({"full_name": ["Name"], "username": ["User name"],
                             "company": ["Company name"], "email": ["Email"]}, "names")
    lex = Lexicon([(r.key, r.synonym) for r in canon.records()])
    assert lex.broader("Name", "full_name")  # inside "User name", another key's
    assert not lex.broader("User name", "username") and not lex.broader("Email", "email")
    # A reviewed field's text is its label and its identifiers: only the label is an
    # entry's wording, so an email field with name="login_user_name" widens no word.
    reviewed = Lexicon([(r.key, r.synonym) for r in canon.records()]
                       + [("email", "Email address | login user name")])
    assert not reviewed.broader("User name", "username")
    assert reviewed.broader("Name", "full_name")
    assert Lexicon([("username", "User name"), ("email", "login user name")]).broader(
        "User name", "username")  # the same words as a label do
    store = ModelStore(tmp_path / "ms")
    build_local_version(store, canon, "hash:64", HashEncoder(64), thresholds=Thresholds(0.99, {}, 1.0),
                        hints=Hints())
    m = Matcher(load_bundle(store.resolve("latest")))
    broad, named = m.classify([{"label": "Qwxz", "name": "suggest_name"},
                               {"label": "Qwxz", "name": "suggest_email"}], {"scope": "page"})
    assert broad.key == "full_name" and (broad.reason, broad.accepted) == ("below_threshold", False)
    assert (named.key, named.reason, named.accepted) == ("email", "mention", True)
    # A field with no label or placeholder has only identifiers, read the same way.
    bare_broad, bare_named = m.classify([{"name": "suggest_name"}, {"id": "suggest_email"}],
                                        {"scope": "page"})
    assert (bare_broad.key, bare_broad.reason) == ("full_name", "below_threshold")
    assert (bare_named.key, bare_named.reason, bare_named.accepted) == ("email", "lexical", True)
    assert bare_named.evidence == ["the identifier 'suggest email' ends in 'Email', a synonym of email"]


def test_leave_one_out_calibration(tmp_path: Path, tiny) -> None:  # type: ignore[no-untyped-def]
    """Calibration texts are indexed, and each is scored without its own record."""
    from semindex.data import SynonymRecord
    from semindex.training.pipeline import Split, calibration_examples, leave_one_out_records

    split = Split([], [], [], [], [], calib_confirmed=[("Mail addr", "email"), ("E-mail", "email")],
                  calib_unknown=["Coupon code", "Mail addr"])
    records = tiny.records()
    extra = leave_one_out_records(split, records)
    # "E-mail" is already a synonym and the unknown "Mail addr" is already a confirmed text;
    # both added are reviewed field texts, not the vocabulary's names.
    assert extra == [SynonymRecord("email", "Mail addr", reviewed=True),
                     SynonymRecord("unknown", "Coupon code", reviewed=True)]
    store = ModelStore(tmp_path / "ms")
    build_local_version(store, tiny.with_extra([("email", "Mail addr")]), "hash:64", HashEncoder(64))
    matcher = Matcher(load_bundle(store.resolve("latest")))
    own = next(i for i, r in enumerate(matcher.bundle.index.records) if r.synonym == "Mail addr")
    calib = [("Mail addr", "email", None)]
    [with_self], lex_with = calibration_examples(matcher, calib, [], np.zeros((0, 64)))
    [loo], lex_loo = calibration_examples(matcher, calib, [], np.zeros((0, 64)),
                                          {normalize("Mail addr"): own})
    assert with_self.score == pytest.approx(1.0, abs=1e-4)  # it found itself
    assert loo.score < 0.99  # scored against the other records only
    assert lex_with == [(1.0, True)] and all(ratio < 1.0 for ratio, _ in lex_loo)


@pytest.mark.parametrize("name", ["birth day date", "user_birth_date"])
def test_per_key_thresholds_decide_acceptance_not_ranking(tmp_path: Path, tiny, name: str) -> None:  # type: ignore[no-untyped-def]
    """A key with a very low calibrated threshold must not outrank a much closer key."""
    store = ModelStore(tmp_path / "ms")
    build_local_version(store, tiny, "hash:64", HashEncoder(64),
                        thresholds=Thresholds(0.5, {"postal_code": 0.0}, 0.99))
    d = Matcher(load_bundle(store.resolve("latest"))).classify([{"name": name}])[0]
    pc = next(h.score for h in d.candidates if h.key == "postal_code")
    assert pc - 0.0 > d.score - 0.5  # postal_code clears its threshold by more than the winner
    assert (d.key, d.reason, d.threshold) == ("date_of_birth", "semantic", 0.5)


def test_lexical_calibration_compares_the_main_part(matcher: Matcher) -> None:
    """The lexical step reads a field's main text, so calibration scores that part of a
    reviewed text: "Surname | login" was a username, and "Surname" alone is last_name."""
    from semindex.training.pipeline import calibration_examples

    _, lex = calibration_examples(matcher, [("Surname | user login", "username", None)], [],
                                  np.zeros((0, 64)))
    assert lex == [(1.0, False)]
    assert matcher.classify([{"label": "Surname", "name": "user_login"}])[0].reason == "lexical"


@pytest.fixture
def lexical_only(tmp_path: Path, tiny) -> tuple[Matcher, Matcher]:  # type: ignore[no-untyped-def]
    """The tiny keys plus "Codice postale" for postal_code: once from a hints file (a
    lexical-only synonym), once from the canonical file itself; exact lexical matches only."""
    from semindex.data import with_synonyms

    out: list[Matcher] = []
    for canonical in (with_synonyms(tiny, {"postal_code": ["Codice postale"]}),
                      tiny.with_extra([("postal_code", "Codice postale")])):
        store = ModelStore(tmp_path / str(len(out)))
        build_local_version(store, canonical, "hash:64", HashEncoder(64),
                            thresholds=Thresholds(0.5, {}, 1.0), hints=Hints())
        out.append(Matcher(load_bundle(store.resolve("latest"))))
    return out[0], out[1]


@pytest.mark.parametrize(("label", "reason", "accepted", "trained_reason"), [
    ("Odice ostale", "lexical_only", False, "semantic"),    # near it, no word in common
    ("Codice postale", "lexical", True, "lexical"),         # the label says it
    ("Codice postal", "semantic", True, "semantic"),        # ... or shares a word stem
    ("Il codice postale del destinatario", "semantic", True, "semantic"),
])
def test_a_lexical_only_synonym_counts_by_its_words(lexical_only: tuple[Matcher, Matcher], label: str,
                                                    reason: str, accepted: bool,
                                                    trained_reason: str) -> None:
    hints_m, own_m = lexical_only
    d = hints_m.classify([{"label": label}])[0]
    assert (d.key, d.reason, d.accepted) == ("postal_code", reason, accepted)
    if reason != "lexical":
        assert d.candidates[0].synonym == "Codice postale" and d.candidates[0].lexical_only
        assert d.score >= d.threshold  # the similarity alone would have accepted it
    if reason == "lexical_only":
        assert "'Codice postale' is lexical-only" in d.evidence[1]
    # The same synonym from the canonical file is semantic evidence like any other.
    same = own_m.classify([{"label": label}])[0]
    assert (same.key, same.reason, same.accepted) == ("postal_code", trained_reason, True)


@pytest.mark.parametrize(("text", "synonym", "shares"), [
    ("Beruf", "Berufsbezeichnung", True),         # a compound begins with the word
    ("Kotisivun osoite", "Kotisivu", True),       # an inflected form
    ("Your postal address", "Codice postale", True),
    ("kolday", "Kotisivu", False),
    ("Date from year", "Date de naissance", False),  # "date": under five letters
    ("Nachname", "Name", False),
])
def test_lexicon_shares_stem(text: str, synonym: str, shares: bool) -> None:
    assert Lexicon([], frozenset({"your"})).shares_stem(text, synonym) is shares


def test_calibration_skips_texts_nearest_to_a_lexical_only_synonym(
        lexical_only: tuple[Matcher, Matcher]) -> None:
    from semindex.training.pipeline import calibration_examples

    calib = [("Odice ostale", "postal_code", None), ("Email addr", "email", None),
             ("Codice postal", "postal_code", None)]
    hints_m, own_m = lexical_only
    skipped, _ = calibration_examples(hints_m, calib, [], np.zeros((0, 64)))
    kept, _ = calibration_examples(own_m, calib, [], np.zeros((0, 64)))
    assert [e.expected for e in skipped] == ["email", "postal_code"]
    assert [e.expected for e in kept] == ["postal_code", "email", "postal_code"]


def test_assignment_offers_no_lexical_only_alternative() -> None:
    d = [_dec("email", 0.80, [("email", 0.80)]), _dec("email", 0.95, [("email", 0.95)])]
    d[0].candidates.append(KeyHit("username", 0.78, "Benutzername", lexical_only=True))
    assign_jointly(d, frozenset())
    assert [(x.key, x.accepted) for x in d] == [("email", False), ("email", True)]
    d[0].candidates[-1] = KeyHit("username", 0.78, "User name")
    d[0].accepted, d[0].reason = True, "semantic"
    assign_jointly(d, frozenset())
    assert [(x.key, x.accepted) for x in d] == [("username", True), ("email", True)]



def test_rows_expecting_a_key_the_version_lacks_are_named(matcher: Matcher,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    from semindex.data import LabelledRow
    from semindex.evaluation import format_report
    from semindex.quality import scored

    rows = [LabelledRow({"label": "Email"}, "email", "a"), LabelledRow({"label": "Fax"}, "fax", "b"),
            LabelledRow({"label": "Fax number"}, "fax", "c"), LabelledRow({"label": "Coupon"}, None, "d")]
    m = scored(matcher, rows)
    assert m["unknown_expected"] == {"fax": 2} and m["n"] == 4
    assert "2 evaluation row(s) expect keys the version does not have: fax x2" in caplog.text
    assert "rows expecting keys the version does not have (never right): fax x2" in format_report("v", m)
    assert "unknown_expected" not in scored(matcher, rows[:1] + rows[3:])


HEADS = [("company", "Company"), ("company", "Company name"), ("website", "URL"),
         ("website", "Website"), ("address_line1", "Address"), ("email", "Email"),
         ("email", "Email address"), ("full_name", "Name"), ("first_name", "First name"),
         ("last_name", "Last name"), ("city", "City"), ("username", "Username")]


@pytest.mark.parametrize(("text", "head"), [
    ("body company address", ("address_line1", "Address", {"company": "Company"})),
    ("company url", ("website", "URL", {"company": "Company"})),
    ("billing address city", ("city", "City", {"address_line1": "Address"})),
    ("username email", ("email", "Email", {"username": "Username"})),
    ("city name", None),             # "Name" takes its modifier's key: First / Last / Company name
    ("suggest name", None),
    ("email address", None),         # wholly an entry: the exact step's
    ("address", None),
    ("body email address", ("email", "Email address", {})),  # the longest run that ends it
    ("dest address", ("address_line1", "Address", {})),      # words of its own before the head
    ("company url confirm", None),   # it does not end in a synonym
    ("city company", ("company", "Company", {"city": "City"})),
])
def test_lexicon_head_of_a_compound_identifier(text: str, head: tuple[str, str, dict[str, str]] | None,
                                               ) -> None:
    assert Lexicon(HEADS).head(text) == head


@pytest.mark.parametrize(("run", "key", "takes"), [
    ("name", "full_name", True),        # First name, Last name, Company name: three other keys
    ("address", "address_line1", False),  # Email address: one
    ("url", "website", False),
])
def test_a_word_that_ends_other_keys_entries_takes_its_modifier(run: str, key: str, takes: bool) -> None:
    assert Lexicon(HEADS).takes_modifier(run, key) is takes


@pytest.fixture
def head_matcher(tmp_path: Path, sample_hints: Hints) -> Matcher:
    synonyms: dict[str, list[str]] = {}
    for key, syn in HEADS:
        synonyms.setdefault(key, []).append(syn)
    canonical = parse_canonical(synonyms, "heads")
    hints = parse_hints({"types": {"email": ["email", "username"]}, "or_words": ["or"]}, "hints",
                        canonical.keys)
    store = ModelStore(tmp_path / "ms")
    build_local_version(store, canonical, "hash:64", HashEncoder(64),
                        thresholds=Thresholds(0.99, {}, 0.9), hints=hints)
    return Matcher(load_bundle(store.resolve("latest")))


@pytest.mark.parametrize(("field", "key", "evidence"), [
    ({"name": "ctl00$Body$ctl00$tbCompanyAddress"}, "address_line1",
     "the identifier 'body company address' ends in 'Address', a synonym of address_line1; the "
     "words before it ('Company') qualify it"),
    ({"name": "tbCompanyURL", "id": "company_url"}, "website",
     "the identifier 'company url' ends in 'URL', a synonym of website; the words before it "
     "('Company') qualify it"),
    # Words of its own before the head: "Address" lies in "Email address" alone, and a
    # confirmed unknown near the other words would say nothing against it.
    ({"name": "ctl00$Body$ctl00$ddlDestAddress"}, "address_line1",
     "the identifier 'body ddl dest address' ends in 'Address', a synonym of address_line1"),
    # An identifier that is exactly a synonym decides before any head is read.
    ({"name": "company_url", "id": "email_address"}, "email",
     "another attribute ('email address') is the synonym 'Email address' of email"),
])
def test_an_identifier_is_read_head_last(head_matcher: Matcher, field: dict[str, str], key: str,
                                         evidence: str) -> None:
    d = head_matcher.classify([field])[0]
    assert (d.key, d.reason, d.accepted, d.evidence[0]) == (key, "lexical", True, evidence), d


@pytest.mark.parametrize("field", [
    {"label": "Company", "name": "companyUrl"},        # the label says it
    {"name": "city_name"},                             # a city's name, no person's
    {"name": "companyUrl", "type": "email"},           # the declared type admits no website
    {"name": "company_url", "id": "city_email"},       # two heads that disagree
    {"name": "city_or_address"},                       # alternatives: no head
])
def test_an_identifier_head_does_not_decide(head_matcher: Matcher, field: dict[str, str]) -> None:
    d = head_matcher.classify([field])[0]
    assert not any("ends in" in e for e in d.evidence), d
    if "label" in field:
        assert (d.key, d.reason) == ("company", "lexical")


@pytest.mark.parametrize(("field", "key", "accepted", "evidence"), [
    # The semantic step's best key under its threshold, and an identifier that ends in one
    # of its synonyms: two weak signals that agree, as a mention. "Address" lies in "Email
    # address" alone, so it is the head of the compound.
    ({"label": "Where to", "name": "dest_address"}, "address_line1", True,
     "'dest address' ends in 'Address', a synonym of address_line1"),
    # "Name" takes the key of its modifier (First / Last / Company name): no head.
    ({"label": "Qwxz", "name": "suggest_name"}, None, False, None),
    # A list offers alternatives: it has no head ("Address" is the semantic step's best key).
    ({"label": "Qwxz", "placeholder": "City, Address"}, "address_line1", False, None),
])
def test_an_identifier_head_agrees_with_the_semantic_step(
        head_matcher: Matcher, field: dict[str, str], key: str | None, accepted: bool,
        evidence: str | None) -> None:
    d = head_matcher.classify([field])[0]
    assert d.accepted is accepted, d
    assert d.reason == ("mention" if accepted else "below_threshold"), d
    if key is not None:
        assert d.key == key, d
    if evidence is not None:
        assert d.evidence[0].startswith(evidence), d.evidence
    else:
        assert not any("ends in" in e for e in d.evidence), d.evidence


PAGE = {"full_name": ["Name"], "first_name": ["First name"], "company": ["Company name", "Firm"],
        "email": ["Email address", "E-mail"], "postal_code": ["Postal code"]}


@pytest.fixture
def page_matcher(tmp_path: Path) -> Matcher:
    """"Name" is a broader word here: "First name" and "Company name" hold it."""
    canonical = parse_canonical(PAGE, "page")
    hints = parse_hints({"fillers": ["your", "required"]}, "hints", canonical.keys)
    store = ModelStore(tmp_path / "ms")
    build_local_version(store, canonical, "hash:64", HashEncoder(64),
                        thresholds=Thresholds(0.6, {"full_name": 0.9}, 0.9), hints=hints)
    return Matcher(load_bundle(store.resolve("latest")))


NAME_IS_BROADER = ("the identifier 'name' is the synonym 'Name' of full_name, a broader word "
                   "(other keys' synonyms hold it), but the visible text")


@pytest.mark.parametrize(("field", "key", "reason", "evidence"), [
    # A label the encoder reads as another key outranks an identifier's synonym ...
    ({"label": "E-mail addresses", "name": "firm"}, "email", "semantic",
     "the identifier 'firm' is the synonym 'Firm' of company, but the visible text reads as email"),
    ({"label": "Postal", "name": "name"}, "postal_code", "semantic",
     f"{NAME_IS_BROADER} reads as postal_code"),
    # ... and an identifier that is a broader word decides nothing against a label that does
    # not read as its key: the label's own mention decides, or the field abstains.
    ({"label": "Contact e-mail addresses", "name": "name"}, "email", "mention",
     f"{NAME_IS_BROADER} does not read as full_name"),
    ({"label": "Postleitzahl", "name": "name"}, None, "below_threshold",
     f"{NAME_IS_BROADER} does not read as full_name"),
    # A placeholder under the label is shown too: it outranks the identifiers.
    ({"label": "请输入邮箱：", "placeholder": "E-mail", "name": "firm"}, "email", "lexical",
     "another attribute ('E-mail') is the synonym 'E-mail' of email"),
    # The identifier holds where the label reads as nothing else, or as its own key.
    ({"label": "Kategorie", "name": "firm"}, "company", "lexical",
     "another attribute ('firm') is the synonym 'Firm' of company"),
    ({"label": "Emails", "name": "name"}, "full_name", "lexical",
     "another attribute ('name') is the synonym 'Name' of full_name"),
    ({"name": "name"}, "full_name", "lexical", "lexical ratio 1.00"),  # no label: nothing shown
])
def test_what_the_page_shows_outranks_what_a_developer_named_the_field(
        page_matcher: Matcher, field: dict[str, str], key: str | None, reason: str,
        evidence: str) -> None:
    d = page_matcher.classify([field])[0]
    assert (d.key if d.accepted else None, d.reason, d.accepted) == (key, reason, key is not None), d
    assert evidence in d.evidence, d


@pytest.mark.parametrize(("label", "accepted"), [
    ("Publication name", False),      # "Publication" says whose name: not a person's
    ("Name your filter", False),
    ("Name 2", True),                 # a number says no more
])
def test_a_broader_word_that_other_words_qualify_is_no_mention(page_matcher: Matcher, label: str,
                                                               accepted: bool) -> None:
    """The label mentions "Name" and the semantic step's best key is full_name, under its
    threshold: the mention counts only where the label's other words do not qualify it."""
    d = page_matcher.classify([{"label": label}])[0]
    assert (d.key, d.accepted, d.reason) == (
        "full_name", accepted, "mention" if accepted else "below_threshold"), d
    if not accepted:
        assert d.evidence[1] == ("the label mentions 'Name', a synonym of full_name, but a broader "
                                 "word (other keys' synonyms hold it) that its other words qualify")


def test_reviewed_field_texts_widen_no_word_of_the_vocabulary() -> None:
    """"Name" lies in another key's reviewed field text, not in its synonyms: broader among
    the lexicon's entries, not among the vocabulary's names."""
    lex = Lexicon([("full_name", "Name"), ("company", "Publication name | pub"),
                   ("company", "Company")], reviewed={"Publication name | pub"})
    assert lex.broader("Name", "full_name") and not lex.broader("Name", "full_name", named=True)
    named = Lexicon([("full_name", "Name"), ("company", "Company name")])
    assert named.broader("Name", "full_name", named=True)


@pytest.mark.parametrize(("text", "synonym", "other"), [
    ("Publication name:", "Name", True),
    ("Address 2:", "Address", False),
    ("Your name *", "Name", False),
    ("Nome * Nome", "Nome", False),
])
def test_lexicon_other_words(text: str, synonym: str, other: bool) -> None:
    assert Lexicon([("full_name", synonym)], frozenset({"your"})).other_words(text, synonym) is other


class _ReadsAs(HashEncoder):
    """The hash encoder, except that a text beginning with one of ``reads`` is encoded as
    that entry's synonym: a model that reads a label as one key."""

    def __init__(self, reads: dict[str, str]) -> None:
        super().__init__(64)
        self.reads = reads

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        return super().encode([next((syn for start, syn in self.reads.items()
                                     if t.startswith(start)), t) for t in texts], batch_size)


@pytest.mark.parametrize(("label", "key", "reason"), [
    ("Your login is your username", "username", "semantic"),
    # The label names the identifier's key too: the two agree, whatever the model reads.
    ("Your email address is your username", "email", "lexical"),
])
def test_a_label_read_as_another_key_outranks_an_identifier_that_it_does_not_name(
        tmp_path: Path, label: str, key: str, reason: str) -> None:
    encoder = _ReadsAs({"Your login": "Username", "Your email address": "Username"})
    canonical = parse_canonical({"email": ["Email address"], "username": ["Username"],
                                 "company": ["Firm"]}, "reads")
    store = ModelStore(tmp_path / "ms")
    build_local_version(store, canonical, "hash:64", encoder, thresholds=Thresholds(0.6, {}, 0.9))
    m = Matcher(replace(load_bundle(store.resolve("latest")), encoder=encoder))
    d = m.classify([{"label": label, "name": "email_address"}])[0]
    assert (d.key, d.reason, d.accepted) == (key, reason, True), d


# A compound is one entry however it is spelt: closed, open or hyphenated.
_COMPOUNDS = Lexicon([("postal_code", "Postcode"), ("first_name", "First name"),
                      ("email", "Email address"), ("email", "E-mail"), ("website", "Website"),
                      ("full_name", "Name"), ("a", "Box car"), ("b", "Boxcar")],
                     frozenset({"your"}), ["billing"])


@pytest.mark.parametrize(("text", "exact"), [
    ("Post code", ("postal_code", "Postcode")),       # open, the entry closed
    ("Post-code *", ("postal_code", "Postcode")),     # hyphenated
    ("firstname", ("first_name", "First name")),      # closed, the entry open
    ("FirstName", ("first_name", "First name")),      # an identifier split by its case
    ("E-Mail address", ("email", "Email address")),   # one of two words spelt otherwise
    ("Your web site", ("website", "Website")),
    ("Email", ("email", "E-mail")),
    ("Boxcar", ("b", "Boxcar")),                      # an entry as written is that entry ...
    ("Box-car", ("a", "Box car")),
    ("Box cars", (None, None)),                       # ... and letters that close to no entry
    ("B oxcar", (None, None)),                        # ... or to entries of two keys: none
    ("Postcodes", (None, None)),                      # spelling, not stemming
])
def test_lexicon_reads_a_compound_however_it_is_spelt(text: str,
                                                      exact: tuple[str | None, str | None]) -> None:
    assert _COMPOUNDS.exact(text) == exact


def test_a_reviewed_text_of_several_parts_is_no_compound() -> None:
    """Its words join across attributes (label "E-mail*", ``name="username"``): a label
    offering "Email/Username" is not that text, however its words are spaced."""
    lex = Lexicon([("email", "E-mail* | username"), ("email", "Email"), ("username", "Username")],
                  frozenset())
    assert lex.exact("Email/Username") == (None, None)
    assert lex.exact("E-mail* | username") == ("email", "E-mail* | username")
    assert lex.exact("E mail") == ("email", "Email")


def test_every_lexical_reading_takes_the_compound_spellings() -> None:
    assert _COMPOUNDS.mention("Billing post code") == ("postal_code", "Postcode")
    assert _COMPOUNDS.mentioned("firstname and e-mail address") == {
        "first_name": "First name", "email": "E-mail"}
    assert _COMPOUNDS.unqualified("Billing post code") == ("postal_code", "Postcode", ["billing"])
    assert _COMPOUNDS.best("Post code") == ("postal_code", 1.0, "Postcode")
    assert _COMPOUNDS.head("customer_postcode") == ("postal_code", "Postcode", {})
    assert _COMPOUNDS.head("website postcode") == ("postal_code", "Postcode",
                                                   {"website": "Website"})
