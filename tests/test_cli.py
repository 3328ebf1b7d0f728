from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from semindex.artifacts import build_local_version
from semindex.calibration import Thresholds
from semindex.cli import main
from semindex.encoder import HashEncoder
from semindex.store import ModelStore


@pytest.fixture
def store(tmp_path: Path, tiny) -> ModelStore:  # type: ignore[no-untyped-def]
    s = ModelStore(tmp_path / "ms")
    for _ in range(3):
        build_local_version(s, tiny, "hash:64", HashEncoder(64), thresholds=Thresholds(0.5, {}, 0.9))
    return s


def test_versions_commands(store: ModelStore, capsys: pytest.CaptureFixture[str]) -> None:
    names = store.names()
    assert main(["--store", str(store.root), "versions", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in listed] == names and [r["latest"] for r in listed] == [False, False, True]
    assert main(["--store", str(store.root), "versions", "rollback"]) == 0
    assert store.latest_name() == names[1]
    assert main(["--store", str(store.root), "versions", "promote", names[0]]) == 0
    assert store.latest_name() == names[0]
    capsys.readouterr()
    store.mark_served(names[1])  # a service still serves the version latest moved away from
    assert main(["--store", str(store.root), "versions", "list", "--json"]) == 0
    assert [r["served"] for r in json.loads(capsys.readouterr().out)] == [False, True, False]
    assert main(["--store", str(store.root), "versions", "prune", "--keep", "1"]) == 0
    assert f"kept latest {names[0]} and served {names[1]}" in capsys.readouterr().out
    assert store.names() == names
    store.mark_served(names[0])
    assert main(["--store", str(store.root), "versions", "prune", "--keep", "1"]) == 0
    assert store.names() == [names[0], names[2]]
    assert main(["--store", str(store.root), "versions", "promote", "../x"]) == 2
    assert "invalid version name" in capsys.readouterr().err


def test_evaluate(store: ModelStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [{"label": "Surname", "expected": "last_name", "site": "a"},
            {"label": "E-mail", "expected": "email", "site": "a"},
            {"label": "Qwxz vbnm", "expected": None, "site": "b"},
            {"label": "Given name", "expected": "last_name", "site": "b"}]
    p = tmp_path / "rows.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in rows))
    assert main(["--store", str(store.root), "evaluate", "--eval", str(p), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    m = out["reports"][store.latest_name()]
    assert m["n"] == 4 and m["accuracy"] == pytest.approx(0.75)
    assert ["last_name -> first_name", 1] in m["confusions"]
    # which evidence decided: every row is counted under one reason
    assert sum(r["n"] for r in m["by_reason"].values()) == 4
    assert sum(r["correct"] for r in m["by_reason"].values()) == 3
    assert main(["--store", str(store.root), "evaluate", "--eval", str(p)]) == 0
    text = capsys.readouterr().out
    assert "accuracy=0.750" in text and "decided by" in text


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from semindex import __version__

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"semindex {__version__}"


def test_classify_texts_and_a_form(store: ModelStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    from semindex.bundle import load_bundle
    from semindex.matcher import Matcher

    matcher = Matcher(load_bundle(store.resolve("latest")))
    form = {"fields": [{"selector": "#s", "label": "Surname"}, {"selector": "#m", "name": "email"}],
            "form": {"title": "Sign up"}}
    p = tmp_path / "form.json"
    p.write_text(json.dumps(form))
    root = str(store.root)
    assert main(["--store", root, "classify", "E-mail", "Qwxz vbnm", "--fields", str(p), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model_version"] == store.latest_name()
    want = [*matcher.classify([{"label": "E-mail"}]), *matcher.classify([{"label": "Qwxz vbnm"}]),
            *matcher.classify(form["fields"], form["form"])]
    assert out["decisions"] == [d.to_json() for d in want]  # what the service's matcher answers
    assert [d["key"] for d in out["decisions"] if d["accepted"]] == ["email", "last_name", "email"]
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(form)))
    assert main(["--store", root, "classify", "--fields", "-"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0] == f"version {store.latest_name()}" and table[1].split()[:2] == ["#s", "last_name"]


def test_classify_table_says_what_an_ambiguous_label_offers(tmp_path: Path, tiny,  # type: ignore[no-untyped-def]
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from semindex.data import parse_canonical
    from semindex.hints import parse_hints

    canon = parse_canonical({**tiny.synonyms, "city": ["City"], "address_line1": ["Street address"]}, "c")
    s = ModelStore(tmp_path / "ms")
    build_local_version(s, canon, "hash:64", HashEncoder(64), thresholds=Thresholds(0.5, {}, 0.9),
                        hints=parse_hints({"or_words": ["or"], "listed_parts": {
                            "address_line1": ["city", "postal_code"]}}, "hints", canon.keys))
    assert main(["--store", str(s.root), "classify", "E-mail or Username", "Surname, first name",
                 "City, ZIP code"]) == 0
    rows = [r[41:].rsplit(maxsplit=4)[:2] for r in capsys.readouterr().out.splitlines()[1:]]
    # a choice (any one answers it), then a list of parts (all may be wanted), in the label's
    # order; a list of the parts of a key that the hints file declares (listed_parts)
    assert rows == [["(email | username)", "ambiguous"], ["(last_name + first_name)", "ambiguous"],
                    ["address_line1 = city + postal_code", "lexical"]]


@pytest.mark.parametrize(("argv", "body", "message"), [
    ([], None, "classify: give one or more texts, or --fields FILE"),
    (["--fields", "FILE"], {"fields": [{"label": "x", "maxlength": -1}]},
     "form.json: fields.0.maxlength: Input should be greater than or equal to 0"),
    (["--fields", "FILE"], {"fields": []}, "form.json: fields: List should have at least 1 item"),
    (["--fields", "FILE"], "{not json", "form.json: line 1: invalid JSON"),
    (["--fields", "missing.json"], None, "missing.json: fields file not found"),
    (["--version", "v20990101-000000", "x"], None, "version 'v20990101-000000' not found"),
])
def test_classify_bad_input(store: ModelStore, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                            argv: list[str], body: object, message: str) -> None:
    p = tmp_path / "form.json"
    p.write_text(body if isinstance(body, str) else json.dumps(body))
    argv = [str(p) if a == "FILE" else str(tmp_path / a) if a.endswith(".json") else a for a in argv]
    assert main(["--store", str(store.root), "classify", *argv]) == 2
    assert message in capsys.readouterr().err
