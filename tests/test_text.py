from __future__ import annotations

import pytest

from semindex.text import (
    field_text,
    first_attribute,
    is_generic,
    normalize,
    split_identifier,
    strip_gender_marks,
)


@pytest.mark.parametrize(("raw", "expected"), [
    ("firstName", "first Name"),
    ("first_name", "first name"),
    ("billing-zip2", "billing zip 2"),
    ("HTMLParser", "HTML Parser"),
    ("ctl00$main$txtEmail", "ctl 00 main txt Email"),
])
def test_split_identifier(raw: str, expected: str) -> None:
    assert split_identifier(raw) == expected


@pytest.mark.parametrize(("raw", "drop", "expected"), [
    ("  E-Mail  Address: ", False, "e mail address"),
    ("ＦＵＬＬ　ＮＡＭＥ", False, "full name"),  # NFKC folds full-width forms
    ("Straße *", False, "straße"),
    ("วันเกิด", False, "วันเกิด"),          # combining marks stay inside their word
    ("जन्म तिथि:", False, "जन्म तिथि"),
    ("البريد الإلكترونيّ", False, "البريد الإلكترونيّ"),
    ("txtFirstName", True, "first name"),
    ("input_2", True, "input 2"),  # nothing left after dropping noise: keep the words
    ("", False, ""),
    ("Name of your organisation", False, "name of your organization"),  # one English spelling
    ("tbOrganisationalUnit", True, "organizational unit"),
    ("Authorisations", False, "authorizations"),
    ("Enterprise", False, "enterprise"),       # only "-isation" is respelt
])
def test_normalize(raw: str, drop: bool, expected: str) -> None:
    assert normalize(raw, drop_noise=drop) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    # inclusive endings, glued to the word they end
    ("Benutzer/in", "Benutzer"),
    ("Benutzer/-in", "Benutzer"),
    ("Nutzer*innen", "Nutzer"),
    ("Nutzer:in", "Nutzer"),
    ("Ihr/e Ansprechpartner/in", "Ihr Ansprechpartner"),
    ("Nombre de usuario/a *", "Nombre de usuario *"),
    ("inscrit(e)", "inscrit"),
    ("Né(e) le", "Né le"),
    ("Ancien(ne) mot de passe", "Ancien mot de passe"),
    ("utilisateur·rice", "utilisateur"),
    ("salarié·e·s", "salarié"),
    # the gender tags of job ads
    ("Softwareentwickler (m/w/d)", "Softwareentwickler"),
    ("Koch (m/w/div)", "Koch"),
    ("Développeur (H/F)", "Développeur"),
    ("Data Engineer (f/m/x) Berlin", "Data Engineer Berlin"),
    ("Engineer (all genders)", "Engineer"),
    # not gender marks: short words, alternatives, a hyphenated word, words in brackets
    ("N/A", "N/A"),
    ("c/o", "c/o"),
    ("EN/ES", "EN/ES"),
    ("Email/Username", "Email/Username"),
    ("Username/e-mail", "Username/e-mail"),
    ("Street (e)", "Street (e)"),
    ("Anrede (Herr/Frau)", "Anrede (Herr/Frau)"),
    ("Telefon (privat)", "Telefon (privat)"),
    ("opt_in", "opt_in"),
    ("Anschrift/Adresse", "Anschrift/Adresse"),  # an ending must end the word
    ("col·lecció", "col·lecció"),                # the Catalan l·l
    ("paral·lel", "paral·lel"),
])
def test_strip_gender_marks(raw: str, expected: str) -> None:
    assert strip_gender_marks(raw) == expected


def test_gender_marks_leave_the_field_text_and_its_normal_form() -> None:
    # What the model embeds and what the lexicon compares read the same words.
    fld = {"label": "Benutzer/innenname:", "name": "user_name"}
    assert field_text(fld) == "Benutzer/innenname: | user name"  # not an ending: "name" follows
    fld = {"label": "Ansprechpartner/in", "placeholder": "Vorname (m/w/d)"}
    assert field_text(fld) == "Ansprechpartner | Vorname"
    assert normalize("Nutzer*in") == normalize("Nutzer") == "nutzer"
    # A label that is only a gender mark says nothing: the next attribute speaks.
    assert field_text({"label": "(m/w/d)", "placeholder": "Vorname"}, "precedence") == "Vorname"
    assert field_text({"label": "(m/w/d)", "name": "first_name"}) == "first name"


@pytest.mark.parametrize(("field", "mode", "expected"), [
    ({"label": "Email", "placeholder": "you@x", "name": "email"}, "precedence", "Email"),
    ({"placeholder": "Your city", "name": "city"}, "precedence", "Your city"),
    ({"name": "billingZip", "id": "zip"}, "precedence", "billing zip"),
    ({"id": "txtPhone"}, "precedence", "phone"),
    ({"label": "Name", "name": "billing_zip"}, "rich", "Name | billing zip"),
    ({"label": "Email", "name": "email", "id": "email"}, "rich", "Email"),
    ({"type": "text"}, "rich", ""),
    # a "|" of the label is not the parts' separator: the label stays one part
    ({"label": "Email | Username", "placeholder": "a|b", "name": "log"}, "rich",
     "Email / Username | a/b | log"),
])
def test_field_text(field: dict[str, str], mode: str, expected: str) -> None:
    assert field_text(field, mode) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "generic"), [
    ("Value", True), ("Enter text", True), ("Input field", True), ("Email", False), ("", False),
])
def test_is_generic(text: str, generic: bool) -> None:
    assert is_generic(text) is generic


@pytest.mark.parametrize(("field", "expected"), [
    ({"label": "Address 2", "name": "addr2"}, "Address 2"),
    ({"label": "  ", "placeholder": "", "name": "Address2", "id": "a"}, "Address2"),  # digits kept
    ({"id": "street_address_2"}, "street_address_2"),
    ({"label": None, "type": "text"}, ""),
])
def test_first_attribute(field: dict[str, object], expected: str) -> None:
    assert first_attribute(field) == expected
