from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from semindex.data import (
    load_canonical,
    load_eval_rows,
    load_feedback,
    load_triplets,
    load_unknowns,
    parse_canonical,
    with_synonyms,
)
from semindex.errors import DataError
from semindex.hints import load_hints
from semindex.text import normalize


@pytest.mark.parametrize(("obj", "message"), [
    ([1, 2], "must be a JSON object"),
    ({}, "has no keys"),
    ({"email": []}, "key 'email': synonym list is empty"),
    ({"email": "Email"}, "key 'email': synonyms must be a list"),
    ({"email": ["Email", 3]}, "key 'email': synonym #1 is int"),
    ({"email": ["  "]}, "key 'email': synonym #0 is blank"),
    ({"first_name": ["a"], "First Name": ["b"]}, "duplicates 'first_name' after normalisation"),
    ({"email": ["Email"], "Unknown": ["n/a"]}, "key 'Unknown' is reserved"),
])
def test_canonical_validation(obj: object, message: str) -> None:
    with pytest.raises(DataError, match=message) as info:
        parse_canonical(obj, "c.json")
    assert str(info.value).startswith("c.json")


def test_canonical_records_and_flattened(tiny) -> None:  # type: ignore[no-untyped-def]
    recs = tiny.records()
    assert len(recs) == sum(len(v) for v in tiny.synonyms.values())  # one per synonym
    assert recs[0].key == "first_name" and recs[0].synonym == "First name"
    flat = {d["id"]: d["text"] for d in tiny.flattened()}
    assert flat["email"] == "Email address E-mail"
    enriched = tiny.with_extra([("email", "Courriel"), ("email", "e-mail"), ("nope", "x")])
    assert enriched.synonyms["email"] == ["Email address", "E-mail", "Courriel"]
    # A text another key already holds stays that key's: one text, one key.
    moved = tiny.with_extra([("email", "surname"), ("username", "Courriel"), ("email", "Courriel")])
    assert moved.synonyms["email"] == ["Email address", "E-mail"]
    assert moved.synonyms["username"] == ["Username", "Login name", "Courriel"]
    assert moved.key_of()[normalize("SURNAME")] == "last_name"
    assert sum(normalize(s) == "surname" for syns in moved.synonyms.values() for s in syns) == 1


def test_hints_synonyms_extend_the_canonical_file(tiny) -> None:  # type: ignore[no-untyped-def]
    merged = with_synonyms(tiny, {"postal_code": ["PLZ", "zip code", "Cap"],
                                  "email": ["Courriel", "Surname"], "last_name": ["Cognome"]})
    assert merged.synonyms["postal_code"] == ["Postal code", "ZIP code", "PLZ", "Cap"]
    assert merged.synonyms["last_name"] == ["Last name", "Surname", "Family name", "Cognome"]
    # A text the canonical file gives to another key stays that key's.
    assert merged.synonyms["email"] == ["Email address", "E-mail", "Courriel"]
    assert tiny.synonyms["postal_code"] == ["Postal code", "ZIP code"]  # the original is intact
    # The added ones are lexical-only, in the records too; confirmed feedback keeps the mark.
    assert merged.lexical_only == {"plz", "cap", "courriel", "cognome"} and not tiny.lexical_only
    fed = merged.with_extra([("postal_code", "Postleitzahl")])
    assert {r.synonym for r in fed.records() if r.lexical_only} == {"PLZ", "Cap", "Courriel", "Cognome"}
    # Confirmed feedback is marked reviewed (a site's field text, not the key's name), a
    # text the file already holds is not, and later synonyms keep the marks.
    reviewed = fed.with_extra([("email", "Email | login mail"), ("email", "PLZ")], reviewed=True)
    later = with_synonyms(reviewed, {"email": ["Adresse électronique"]})
    assert {r.synonym for r in later.records() if r.reviewed} == {"Email | login mail"}
    assert "Adresse électronique" in later.synonyms["email"]
    assert not any(r.reviewed for r in fed.records())


def test_canonical_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "c.json"
    bad.write_text('{"email": ["Email",\n  ]')
    with pytest.raises(DataError, match=r"c.json: line 2: invalid JSON"):
        load_canonical(bad)
    with pytest.raises(DataError, match="not found"):
        load_canonical(tmp_path / "missing.json")


# JSON may escape a lone surrogate ("\\ud800": json.dumps writes one for "\ud800"): valid
# JSON, but no text (the tokenizer raised a TypeError on it, deep in training or serving).
def _json(*objs: object) -> str:
    return "".join(json.dumps(o) + "\n" for o in objs)


@pytest.mark.parametrize(("name", "content", "load", "message"), [
    ("c.json", _json({"email": ["Email", "E\ud800mail"]}), load_canonical,
     r"c.json: email\[1\]: a lone surrogate"),
    ("h.json", _json({"synonyms": {"email": ["Courriel\udc00"]}}), lambda p: load_hints(p, ["email"]),
     r"h.json: synonyms.email\[0\]: a lone surrogate"),
    ("e.jsonl", _json({"label": "E-mail", "expected": "email"}, {"label": "x\ud800", "expected": None}),
     load_eval_rows, "e.jsonl: line 2: label: a lone surrogate"),
    ("t.jsonl", _json({"anchor": "\ud800", "positive": "b", "negative": "c"}), load_triplets,
     "t.jsonl: line 1: anchor: a lone surrogate"),
])
def test_a_lone_surrogate_is_no_text(tmp_path: Path, name: str, content: str, load: Any,
                                     message: str) -> None:
    p = tmp_path / name
    p.write_text(content, encoding="ascii")
    with pytest.raises(DataError, match=message):
        load(p)


@pytest.mark.parametrize(("name", "load", "what"), [
    ("fb.csv", load_feedback, "feedback file"),
    ("c.json", load_canonical, "canonical file"),
    ("e.jsonl", load_eval_rows, "evaluation file"),
    ("u.txt", load_unknowns, "unknowns file"),
    ("h.json", lambda p: load_hints(p, ["first_name"]), "hints file"),
])
def test_a_file_that_is_not_utf8_names_its_line(tmp_path: Path, name: str, load: Any, what: str) -> None:
    # A spreadsheet's "CSV" export in Windows-1252: "é" is the single byte 0xe9, on line 3.
    p = tmp_path / name
    p.write_bytes("query,matched_key,correct\nE-mail,email,yes\nPrénom,first_name,yes\n".encode("cp1252"))
    message = rf"{name}: line 3: not UTF-8 \(byte 0xe9\); save the {what} as UTF-8"
    with pytest.raises(DataError, match=message):
        load(p)


def test_a_key_written_twice_is_refused(tmp_path: Path) -> None:
    # json.loads keeps the last of two equal keys: the first synonym list was lost, silently.
    c = tmp_path / "c.json"
    c.write_text('{"email": ["Email", "E-mail"],\n "phone": ["Phone"],\n "email": ["Mail"]}')
    with pytest.raises(DataError, match=r"c\.json: key 'email' appears twice in one object"):
        load_canonical(c)
    e = tmp_path / "e.jsonl"
    e.write_text('{"label": "Email", "expected": "email"}\n'
                 '{"label": "Fax", "expected": null, "expected": "fax"}\n')
    with pytest.raises(DataError, match=r"e\.jsonl: line 2: key 'expected' appears twice"):
        load_eval_rows(e)


def test_a_named_hints_or_unknowns_file_must_exist(tmp_path: Path) -> None:
    # Feedback may be missing (none yet); a hints or unknowns file that the config names may not.
    with pytest.raises(DataError, match=r"h\.json: hints file not found"):
        load_hints(tmp_path / "h.json", ["email"])
    with pytest.raises(DataError, match=r"u\.txt: unknowns file not found"):
        load_unknowns(tmp_path / "u.txt")
    assert load_hints(None).autocomplete == {} and load_unknowns(None) == []


def test_feedback_with_a_byte_order_mark(tmp_path: Path) -> None:
    # Spreadsheets write "CSV UTF-8" with a BOM; the header's first column is still "query".
    p = tmp_path / "fb.csv"
    p.write_text("query,matched_key,correct\nPrénom,first_name,yes\n", encoding="utf-8-sig")
    assert p.read_bytes().startswith(b"\xef\xbb\xbf")
    fb = load_feedback(p, known_keys=["first_name"])
    assert [(r.query, r.matched_key, r.correct) for r in fb.rows] == [("Prénom", "first_name", True)]


def test_formula_cells_are_quoted_in_the_logs_and_read_back(tmp_path: Path) -> None:
    """A query a spreadsheet would run (``=HYPERLINK(...)``) is logged behind a quote, and
    training reads the text that was sent."""
    from semindex.serving.logs import feedback_log

    texts = ["=HYPERLINK(\"http://x\",\"y\")", "+49 phone", "-Select-", "@user", "'quoted", "Zip",
             "'=sent with its quote", "''two"]
    p = tmp_path / "feedback.csv"
    feedback_log(str(p)).append([{"query": t, "matched_key": "postal_code", "correct": "yes",
                                  "selector": t} for t in texts])
    cells = [row[1] for row in csv.reader(io.StringIO(p.read_text()))][1:]
    assert cells == ["'=HYPERLINK(\"http://x\",\"y\")", "'+49 phone", "'-Select-", "'@user",
                     "''quoted", "Zip", "''=sent with its quote", "'''two"]  # text to a spreadsheet
    fb = load_feedback(p, known_keys=["postal_code"], strict=True)
    assert [r.query for r in fb.rows] == texts and [r.context["selector"] for r in fb.rows] == texts
    # A file written by hand keeps a leading quote that escapes nothing.
    by_hand = tmp_path / "by_hand.csv"
    by_hand.write_text("query,matched_key,correct\n'Nickname',postal_code,yes\n")
    assert [r.query for r in load_feedback(by_hand, known_keys=["postal_code"]).rows] == ["'Nickname'"]


def test_the_feedback_log_follows_the_feedback_file(tmp_path: Path) -> None:
    """Rows of the service's log come after the curated file's: a tie between the two goes
    to the log (the most recent verdict), and equal line numbers in the two files do not
    mix their rows up."""
    curated, log = tmp_path / "curated.csv", tmp_path / "feedback.csv"
    curated.write_text("query,matched_key,correct\nHandy,phone,yes\nAnrede,gender,yes\n")
    log.write_text("query,matched_key,correct\nHandy,phone,no\nVorwahl,phone,yes\n")
    fb = load_feedback(curated, known_keys=["phone", "gender"]).then(
        load_feedback(log, known_keys=["phone", "gender"]))
    assert [(r.query, r.matched_key, r.correct) for r in fb.resolved()] == [
        ("Anrede", "gender", True), ("Handy", "phone", False), ("Vorwahl", "phone", True)]
    assert fb.confirmed() == [("Anrede", "gender"), ("Vorwahl", "phone")]
    assert fb.source == f"{curated} + {log}"


def _csv(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "fb.csv"
    p.write_text(text)
    return p


@pytest.mark.parametrize(("body", "rows", "problems"), [
    ("query,matched_key,correct\nZIP,postal_code,yes\n", 1, 0),
    ("query_key,matched_key,correct\nZIP,postal_code,TRUE\n", 1, 0),  # seed alias, any case
    ("query,matched_key,correct\nZIP,postal_code,maybe\n", 0, 1),
    ("query,matched_key,correct\n,postal_code,1\n", 0, 1),
    ("query,matched_key,correct\nZIP,,0\n", 0, 1),
    ("query,matched_key,correct\nZIP,postal_code,no,extra\n", 0, 1),
    ('query,matched_key,correct\n"Zip, code",postal_code,No\n', 1, 0),  # quoted comma
    ("query,matched_key,correct\n", 0, 0),
])
def test_feedback_parsing(tmp_path: Path, body: str, rows: int, problems: int) -> None:
    fb = load_feedback(_csv(tmp_path, body), known_keys=["postal_code"])
    assert len(fb.rows) == rows
    assert len(fb.problems) == problems
    for p in fb.problems:
        assert "fb.csv: line 2:" in p


def test_feedback_strict_missing_header_and_unknown_keys(tmp_path: Path) -> None:
    p = _csv(tmp_path, "query,matched_key,correct\nok,email,yes\nZIP,postal_code,maybe\n")
    with pytest.raises(DataError, match="line 3"):
        load_feedback(p, strict=True)
    with pytest.raises(DataError, match="header lacks column"):
        load_feedback(_csv(tmp_path, "text,key\na,b\n"))
    fb = load_feedback(_csv(tmp_path, "query,matched_key,correct,selector\nx,email,yes,#a\ny,bogus,no,#b\n"),
                       known_keys=["email"])
    assert fb.unknown_keys == {"bogus": 1}
    assert fb.rows[0].context["selector"] == "#a"  # optional context columns are kept


def test_feedback_missing_file_is_empty(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fb = load_feedback(tmp_path / "none.csv")
    assert fb.rows == [] and "not found" in caplog.text


@pytest.mark.parametrize(("verdicts", "expected"), [
    (["yes", "no", "yes"], True),   # majority
    (["no", "no", "yes"], False),
    (["yes", "no"], False),         # tie: the most recent wins
    (["no", "yes"], True),
])
def test_conflicting_feedback(tmp_path: Path, verdicts: list[str], expected: bool) -> None:
    body = "query,matched_key,correct\n" + "".join(f"Name,full_name,{v}\n" for v in verdicts)
    fb = load_feedback(_csv(tmp_path, body))
    resolved = fb.resolved()
    assert len(resolved) == 1 and resolved[0].correct is expected
    assert (fb.confirmed() == [("Name", "full_name")]) is expected


@pytest.mark.parametrize(("rows", "confirmed", "unknowns"), [
    # One text confirmed as two keys: the key with more confirmations wins ...
    (["username,yes", "password,yes", "username,yes"], [("Login", "username")], []),
    # ... a tie goes to the most recent confirmation ...
    (["username,yes", "password,yes"], [("Login", "password")], []),
    # ... "unknown" competes like a key ...
    (["unknown,yes", "unknown,yes", "username,yes"], [], ["Login"]),
    # ... and a rejection is kept whatever was confirmed.
    (["username,yes", "password,no", "username,yes"], [("Login", "username")], []),
])
def test_one_confirmed_key_per_text(tmp_path: Path, rows: list[str],
                                    confirmed: list[tuple[str, str]], unknowns: list[str]) -> None:
    body = "query,matched_key,correct\n" + "".join(f"Login,{r}\n" for r in rows)
    fb = load_feedback(_csv(tmp_path, body))
    assert fb.confirmed() == confirmed and fb.unknowns() == unknowns
    assert fb.rejected() == [("Login", r.split(",")[0]) for r in rows if r.endswith(",no")]


@pytest.mark.parametrize(("lines", "message"), [
    (['{"anchor": "a", "positive": "b"}'], "missing or non-string field 'negative'"),
    (['{"question": "a", "positive": "", "negative": "c"}'], "field 'positive' is empty"),
    (["not json"], "line 1: invalid JSON"),
    (['{"anchor": "a", "positive": "b", "negative": "c"}', "", "[1, 2]"],
     r"t\.jsonl: line 3: expected an object"),
    ([], "no triplets"),
])
def test_triplet_validation(tmp_path: Path, lines: list[str], message: str) -> None:
    p = tmp_path / "t.jsonl"
    p.write_text("\n".join(lines))
    with pytest.raises(DataError, match=message):
        load_triplets(p)


def test_triplets_ok(tmp_path: Path) -> None:
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps({"question": "SWE", "positive": "Software Engineer", "negative": "Nurse"}))
    t = load_triplets(p)
    assert t[0].anchor == "SWE"


def test_eval_rows_formats(tmp_path: Path) -> None:
    p = tmp_path / "e.jsonl"
    p.write_text(json.dumps({"label": "Email", "name": "em", "input_type": "email", "expected": "email",
                             "site": "s1", "source": "s1/login.html"}) + "\n"
                 + json.dumps({"query": "SWE", "expected": None}) + "\n")
    rows = load_eval_rows(p)
    assert rows[0].field["type"] == "email" and rows[0].group == "s1" and rows[0].page == "s1/login.html"
    assert rows[1].field == {"label": "SWE"} and rows[1].expected is None and rows[1].page is None
    p.write_text('{"label": "x"}\n')
    with pytest.raises(DataError, match="line 1: expected an object with an 'expected'"):
        load_eval_rows(p)
    p.write_text('{"query": "SWE", "expected": null}\n\n{"query": "x", "expected": 3}\n')
    with pytest.raises(DataError, match=r"e\.jsonl: line 3: 'expected' must be a string or null"):
        load_eval_rows(p)
    with pytest.raises(DataError, match=r"missing\.jsonl: evaluation file not found"):
        load_eval_rows(tmp_path / "missing.jsonl")
    with pytest.raises(DataError, match=r"missing\.jsonl: triplet file not found"):
        load_triplets(tmp_path / "missing.jsonl")


def test_feedback_unknown_answers(tmp_path: Path) -> None:
    p = tmp_path / "fb.csv"
    p.write_text("query,matched_key,correct\n"
                 "Coupon code,email,no\n"
                 "Coupon code,unknown,yes\n"        # confirmed: none of the keys
                 "Newsletter,UNKNOWN,yes\n"          # the reserved word in any case
                 "E-mail,unknown,no\n"               # a wrong abstention, corrected below
                 "E-mail,email,yes\n"
                 "Mail me,unknown,yes\n"
                 "Mail me,email,yes\n", encoding="utf-8")  # a key wins over unknown
    fb = load_feedback(p, known_keys=["email"], strict=True)
    assert fb.unknown_keys == {} and len(fb.rows) == 7
    assert fb.unknowns() == ["Coupon code", "Newsletter"]
    assert ("Coupon code", "email") in fb.rejected()
    assert all(k != "unknown" for _, k in fb.confirmed() + fb.rejected())
    assert sorted(fb.confirmed()) == [("E-mail", "email"), ("Mail me", "email")]
