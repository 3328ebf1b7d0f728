"""The real packaged MiniLM end to end, without Ray: canonical file -> index -> classify."""

from __future__ import annotations

from pathlib import Path

import pytest

from semindex.artifacts import build_local_version
from semindex.bundle import load_bundle
from semindex.calibration import Thresholds
from semindex.data import load_canonical
from semindex.encoder import resolve_model_path
from semindex.hints import load_hints
from semindex.matcher import Matcher
from semindex.store import ModelStore

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


@pytest.fixture(scope="module")
def real_matcher(tmp_path_factory: pytest.TempPathFactory, minilm) -> Matcher:  # type: ignore[no-untyped-def]
    canonical = load_canonical(SAMPLE / "canonical.json")
    store = ModelStore(tmp_path_factory.mktemp("ms"))
    build_local_version(store, canonical, resolve_model_path("packaged:all-MiniLM-L6-v2"), minilm,
                        thresholds=Thresholds(0.55, {}, 0.92),
                        hints=load_hints(SAMPLE / "canonical.hints.json", canonical.keys))
    return Matcher(load_bundle(store.resolve("latest")))


@pytest.mark.parametrize(("field", "key"), [
    ({"label": "Your e-mail address"}, "email"),
    ({"placeholder": "Mobile number", "type": "tel"}, "phone"),
    ({"label": "Zip / Postal Code"}, "postal_code"),
    ({"name": "companyName"}, "company"),
    ({"label": "Street and house number"}, "address_line1"),
    ({"label": "Date of Birth", "type": "date"}, "date_of_birth"),
    ({"label": "Search products"}, None),
])
def test_real_fields(real_matcher: Matcher, field: dict[str, str], key: str | None) -> None:
    d = real_matcher.classify([field])[0]
    assert (d.key if d.accepted else None) == key, d


def _sample_with_hints(store: ModelStore, minilm, thresholds: Thresholds) -> Matcher:  # type: ignore[no-untyped-def]
    from semindex.data import with_synonyms

    canonical = load_canonical(SAMPLE / "canonical.json")
    hints = load_hints(SAMPLE / "canonical.hints.json", canonical.keys)
    build_local_version(store, with_synonyms(canonical, hints.synonyms),
                        resolve_model_path("packaged:all-MiniLM-L6-v2"), minilm,
                        thresholds=thresholds, hints=hints)
    return Matcher(load_bundle(store.resolve("latest")))


@pytest.fixture(scope="module")
def hints_matcher(tmp_path_factory: pytest.TempPathFactory, minilm) -> Matcher:  # type: ignore[no-untyped-def]
    """The sample keys with the hints file's synonyms indexed as the training job indexes
    them (lexical-only)."""
    return _sample_with_hints(ModelStore(tmp_path_factory.mktemp("hints")), minilm,
                              Thresholds(0.55, {}, 0.92))


@pytest.fixture(scope="module")
def strict_matcher(tmp_path_factory: pytest.TempPathFactory, minilm) -> Matcher:  # type: ignore[no-untyped-def]
    """The same with a semantic threshold as high as a calibrated version's for labels
    like these, so the semantic step alone accepts none of them."""
    return _sample_with_hints(ModelStore(tmp_path_factory.mktemp("strict")), minilm,
                              Thresholds(0.9, {}, 0.92))


@pytest.mark.parametrize(("field", "key", "reason", "nearest"), [
    ({"name": "kolday"}, None, "lexical_only", "Kotisivu"),        # an identifier, not "homepage"
    ({"label": "Dział"}, None, "lexical_only", "Hasło"),           # "department", not "password"
    ({"label": "Beruf"}, "job_title", "semantic", "Berufsbezeichnung"),  # a shared stem
    ({"label": "Numero di telefono cellulare"}, "phone", "mention", "Telefono"),
    ({"label": "Straße und Hausnummer"}, "address_line1", "lexical", "Straße und Hausnummer"),
])
def test_other_language_synonyms_count_by_their_words(hints_matcher: Matcher, field: dict[str, str],
                                                      key: str | None, reason: str,
                                                      nearest: str) -> None:
    """Through the real model: the nearest of the other-language synonyms is no evidence on
    its own (the English model puts "kolday" next to the Finnish "Kotisivu" at 0.60, over
    the 0.55 threshold); its words are: said, mentioned, or a shared stem."""
    d = hints_matcher.classify([field])[0]
    assert ((d.key if d.accepted else None), d.reason, d.synonym) == (key, reason, nearest), d
    if reason == "lexical_only":
        assert d.candidates[0].lexical_only and d.score >= d.threshold


@pytest.mark.parametrize(("field", "reason"), [
    ({"label": "Password Recovery Word/Phrase", "name": "hint"}, "semantic"),
    ({"label": "Password Recovery Word/Phrase", "name": "hint", "type": "text"}, "type"),
    ({"label": "Passwort-Erinnerung", "type": "text"}, "type"),
    ({"label": "Password", "type": "text"}, "lexical"),
])
def test_a_text_input_is_a_password_only_where_its_words_say_it(hints_matcher: Matcher,
                                                                 field: dict[str, str],
                                                                 reason: str) -> None:
    """Through the real model: the sample hints file's ``needs_types`` keeps a text input
    that the model places near "Password" (a recovery question) from being one."""
    d = hints_matcher.classify([field])[0]
    assert (d.key, d.reason, d.accepted) == ("password", reason, reason != "type"), d


@pytest.mark.parametrize(("field", "key", "reason"), [
    ({"label": "Link", "name": "link", "type": "url"}, "website", "type"),
    ({"label": "Link", "name": "link"}, None, "below_threshold"),     # the words alone: too far
    ({"placeholder": "https://", "type": "url"}, "website", "type"),
    ({"placeholder": "https://"}, None, "below_threshold"),
])
def test_a_url_input_is_the_website(hints_matcher: Matcher, field: dict[str, str],
                                    key: str | None, reason: str) -> None:
    """Through the real model: the sample hints file's ``type_means`` makes a URL input the
    one key whose value is a URL, where its words alone would not."""
    d = hints_matcher.classify([field])[0]
    assert ((d.key if d.accepted else None), d.reason) == (key, reason), d


@pytest.mark.parametrize(("label", "key", "synonym"), [
    ("Nom d'utilisateur·rice", "username", "Nom d'utilisateur"),
    ("Usuario/a:", "username", "Usuario"),
    ("Poste (H/F)", "job_title", "Poste"),
    ("Berufsbezeichnung (m/w/d)", "job_title", "Berufsbezeichnung"),
])
def test_gender_marks_do_not_hide_a_synonym(hints_matcher: Matcher, label: str, key: str,
                                            synonym: str) -> None:
    """Through the real model: a label whose only difference from a synonym is a gender
    mark is that synonym, exactly."""
    d = hints_matcher.classify([{"label": label, "name": "f1"}])[0]
    assert (d.key, d.accepted, d.reason, d.synonym) == (key, True, "lexical", synonym), d


@pytest.mark.parametrize(("name", "key", "qualifier"), [
    ("tbOrganisationWebsite", "website", "Organisation"),
    ("employer_city", "city", "Employer"),
    ("firmaEmail", "email", "Firma"),
])
def test_an_identifier_only_field_is_its_last_word(hints_matcher: Matcher, name: str, key: str,
                                                   qualifier: str) -> None:
    """Through the real model: a field known only by a compound identifier is what the
    identifier's last word names; the company named before it qualifies it."""
    d = hints_matcher.classify([{"name": name, "type": "text"}])[0]
    assert (d.key, d.reason, d.accepted) == (key, "lexical", True), d
    assert f"the words before it ({qualifier!r}) qualify it" in d.evidence[0], d


@pytest.mark.parametrize(("field", "key", "reason", "evidence"), [
    ({"label": "Inhaber", "name": "kunde_nachname"}, "last_name", "mention",
     "'kunde nachname' ends in 'Nachname', a synonym of last_name"),
    ({"label": "Consegna", "name": "consegna_indirizzo"}, "address_line1", "mention",
     "'consegna indirizzo' ends in 'Indirizzo', a synonym of address_line1"),
    # A field known only by its identifier is what the head names, however near the
    # semantic step reads it.
    ({"name": "spedizione_indirizzo"}, "address_line1", "lexical",
     "the identifier 'spedizione indirizzo' ends in 'Indirizzo', a synonym of address_line1"),
    # The identifier that names the address says which line.
    ({"label": "Piano, interno", "name": "spedizione_indirizzo2"}, "address_line2", "number",
     "'spedizione indirizzo' ends in 'Indirizzo', a synonym of address_line1"),
    # "Name" takes the key of the words before it: no head, no match.
    ({"label": "Qwxz", "name": "suggest_name"}, None, "below_threshold", "semantic"),
])
def test_an_identifier_head_agrees_with_the_semantic_step(
        strict_matcher: Matcher, field: dict[str, str], key: str | None, reason: str,
        evidence: str) -> None:
    """Through the real model: under its threshold, the semantic step's best key is taken
    where a compound identifier ends in one of its synonyms, though other keys' entries
    hold that word ("Indirizzo email", "Nachname" in a full name's entry)."""
    d = strict_matcher.classify([field])[0]
    assert ((d.key if d.accepted else None), d.reason) == (key, reason), d
    assert d.evidence[0].startswith(evidence), d.evidence


@pytest.mark.parametrize(("field", "key", "synonym"), [
    ({"label": "Firstname:"}, "first_name", "First name"),
    ({"label": "Zipcode *"}, "postal_code", "ZIP code"),
    ({"label": "Coupon", "name": "postalcode"}, "postal_code", "Postal code"),
    ({"label": "Home-page URL"}, "website", "Homepage URL"),
])
def test_a_compound_is_read_however_it_is_spelt(hints_matcher: Matcher, field: dict[str, str],
                                                key: str, synonym: str) -> None:
    """Through the real model: closed, open and hyphenated compounds are one synonym,
    matched exactly (ratio 1.00), not by the fuzzy ratio that a calibrated version sets."""
    d = hints_matcher.classify([field])[0]
    assert (d.key, d.reason, d.accepted, d.synonym, d.score) == (key, "lexical", True, synonym, 1.0), d


@pytest.mark.parametrize(("field", "evidence"), [
    # The placeholder is shown under the label: it outranks what the identifier says.
    ({"label": "请输入邮箱：", "placeholder": "Email Address", "name": "username"},
     "another attribute ('Email Address') is the synonym 'Email address' of email"),
    # A label that names the identifier's key agrees with it, whatever else it names.
    ({"label": "(Your Email Address is your Username)", "name": "email_address"},
     "another attribute ('email address') is the synonym 'Email address' of email"),
])
def test_what_the_page_shows_outranks_the_identifiers(hints_matcher: Matcher,
                                                      field: dict[str, str], evidence: str) -> None:
    d = hints_matcher.classify([field])[0]
    assert (d.key, d.reason, d.accepted, d.evidence) == ("email", "lexical", True, [evidence]), d


def test_dimension_check_against_real_model(real_matcher: Matcher) -> None:
    assert real_matcher.bundle.encoder.dim == real_matcher.bundle.index.dim == 384


def test_base_model_settings_resolve_to_loadable_paths(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from semindex.errors import ModelLoadError

    packaged = Path(resolve_model_path("packaged:all-MiniLM-L6-v2"))
    assert packaged.is_absolute() and (packaged / "modules.json").exists()
    # A relative model directory becomes absolute: Ray Train workers run in another directory.
    (tmp_path / "models" / "mine").mkdir(parents=True)
    (tmp_path / "models" / "mine" / "modules.json").write_text("[]")
    monkeypatch.chdir(tmp_path)
    assert resolve_model_path("models/mine") == str(tmp_path / "models" / "mine")
    assert resolve_model_path("sentence-transformers/all-MiniLM-L6-v2") == (
        "sentence-transformers/all-MiniLM-L6-v2")  # a hub name is passed on
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="empty: not a sentence-transformers model directory"):
        resolve_model_path("empty")
    with pytest.raises(ModelLoadError, match=r"\./missing: base model directory not found"):
        resolve_model_path("./missing")


def test_the_classify_command_with_the_real_model(real_matcher: Matcher, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """``semindex classify`` loads the version as a replica does (the real model) and
    answers as the matcher does: the sample form's fields and two loose texts."""
    import json

    from semindex.cli import main

    store = real_matcher.bundle.path.parent
    form = json.loads((SAMPLE / "form.json").read_text())
    p = tmp_path / "form.json"
    p.write_text(json.dumps({"fields": form["fields"], "form": form["form"]}))
    assert main(["--store", str(store), "classify", "Your e-mail address", "Search products",
                 "--fields", str(p), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["decisions"]
    want = [*real_matcher.classify([{"label": "Your e-mail address"}]),
            *real_matcher.classify([{"label": "Search products"}]),
            *real_matcher.classify(form["fields"], form["form"])]
    assert [(d["key"], d["accepted"], d["reason"]) for d in out] == [
        (d.key, d.accepted, d.reason) for d in want]
    assert out[0]["key"] == "email" and out[0]["accepted"] and not out[1]["accepted"]
    by_selector = {d["selector"]: d["key"] for d in out[2:] if d["accepted"]}
    assert by_selector["#mail"] == "email" and by_selector["#zip"] == "postal_code"


@pytest.mark.parametrize(("field", "key", "reason"), [
    ({"label": "First name of the company owner"}, "company", "contradicted"),  # names first_name only
    ({"label": "Name of your employer"}, "company", "semantic"),  # "Name" lies inside "Company name"
    ({"label": "First and last name", "name": "name"}, "full_name", "semantic"),  # last_name: a part
    ({"label": "First and last name"}, "first_name", "contradicted"),  # ... of full_name only
])
def test_a_label_that_names_another_key_contradicts_the_semantic_step(
        real_matcher: Matcher, field: dict[str, str], key: str, reason: str) -> None:
    """Through the real model: each field is nearest to its key, above the threshold; a
    label that names other keys and not that one makes the field abstain."""
    d = real_matcher.classify([field])[0]
    assert (d.key, d.reason, d.accepted) == (key, reason, reason == "semantic"), d
    assert d.score >= d.threshold


def test_an_identifier_that_is_a_synonym_outranks_a_confirmed_unknown_neighbour(
        tmp_path: Path, minilm) -> None:  # type: ignore[no-untyped-def]
    canonical = load_canonical(SAMPLE / "canonical.json")
    store = ModelStore(tmp_path / "ms")
    build_local_version(store, canonical, resolve_model_path("packaged:all-MiniLM-L6-v2"), minilm,
                        thresholds=Thresholds(0.55, {}, 0.92),
                        hints=load_hints(SAMPLE / "canonical.hints.json", canonical.keys),
                        unknowns=["Yes, send me the members' magazine"])
    m = Matcher(load_bundle(store.resolve("latest")))
    alone, named = m.classify([{"label": "Receive the members' magazine"}])[0], \
        m.classify([{"label": "Receive the members' magazine", "name": "EMAIL"}])[0]
    assert (alone.accepted, alone.reason) == (False, "known_unknown"), alone
    assert (named.key, named.accepted, named.reason) == ("email", True, "lexical"), named


def test_a_broader_word_beside_a_mention_names_no_other_key(tmp_path: Path, minilm) -> None:  # type: ignore[no-untyped-def]
    """Through the real model, with "Name" a synonym of full_name (as the forms canonical file
    has it): the semantic step ranks the company first, under its threshold; the label
    mentions "Organisation" and "Name", and "Name" lies in the company's own "Company name",
    so the mention is the company's alone and the two weaker signals agree."""
    canonical = load_canonical(SAMPLE / "canonical.json").with_extra([("full_name", "Name")])
    store = ModelStore(tmp_path / "ms")
    build_local_version(store, canonical, resolve_model_path("packaged:all-MiniLM-L6-v2"), minilm,
                        thresholds=Thresholds(0.55, {}, 0.92),
                        hints=load_hints(SAMPLE / "canonical.hints.json", canonical.keys))
    d = Matcher(load_bundle(store.resolve("latest"))).classify(
        [{"label": "Organisation name as shown on the invoice"}])[0]
    assert (d.key, d.reason, d.accepted, d.synonym) == ("company", "mention", True, "Organisation"), d
    assert d.score < d.threshold
