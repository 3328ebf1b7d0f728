"""Pure text functions: normalisation, identifier splitting and the text of a form field.

Everything here is deterministic and side-effect free so that the matcher, the training
job and the evaluation build *the same* text for the same field.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import regex

TextMode = Literal["precedence", "rich"]

PART_SEPARATOR = " | "

#: Attributes that can carry a field's text, in the seed's precedence order.
TEXT_ATTRIBUTES: tuple[str, ...] = ("label", "placeholder", "name", "id")
#: The attributes a person reads on the page; the others are identifiers a developer wrote.
VISIBLE_ATTRIBUTES: tuple[str, ...] = ("label", "placeholder")

# Tokens that identify nothing: framework prefixes, widget words, generated ids.
_NOISE = frozenset(
    {"input", "inp", "txt", "text", "field", "fld", "tb", "tbx", "ctl", "ctl00", "form",
     "frm", "val", "data", "the", "your", "please", "enter", "type", "here"}
)
# Words that make a label generic (the matcher raises the threshold for them).
GENERIC_WORDS = frozenset({"value", "input", "field", "text", "enter", "info", "data", "other",
                           "details", "answer", "entry"})

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])")
# A word goes on through its combining marks: Thai vowel signs, Devanagari matras, Arabic
# shadda (``re``'s \w alone would split "วันเกิด" into "ว นเก ด").
_NON_WORD = regex.compile(r"[^\w\p{M}]+|_")
_SPACES = re.compile(r"\s+")

# Gender marks, which say "either gender" and not what a field or a title is: the inclusive
# endings of German, French, Spanish, Portuguese and Italian ("Benutzer/in", "Nutzer*in",
# "Nutzer:innen", "inscrit(e)", "utilisateur·rice", "usuario/a", "Ancien(ne)") and the tags
# of job ads ("Entwickler (m/w/d)", "Développeur (H/F)", "(all genders)"). An ending counts
# only when it is glued to a word of three letters or more (two before brackets: "Né(e)"),
# so "N/A", "c/o" and "EN/ES" stay, and not before a hyphen: "Username/e-mail" stays.
_ENDINGS = "a|as|e|es|in|innen|ne|le|rice|trice|euse"
_GENDER_MARKS = re.compile(
    rf"(?<=\w{{3}})(?:/-?|·)(?:{_ENDINGS})(?:·s)?(?![\w-])|(?<=\w{{3}})[*:](?:in|innen)(?![\w-])"
    rf"|(?<=\w{{2}})\((?:{_ENDINGS})\)"
    r"|\s*\(\s*(?:[mwfdhx]|div)(?:\s*[/|,]\s*(?:[mwfdhx]|div)){1,3}\s*\)"
    r"|\s*\(\s*all\s+genders?\s*\)",
    re.IGNORECASE)


# British English's "-isation" is American English's "-ization": "Organisation" is the
# synonym "Organization" (the encoder reads both alike; the lexical steps compare words).
_ISATION = re.compile(r"isation(?=s?(?: |$)|al)")


def strip_gender_marks(text: str) -> str:
    """``text`` without its gender marks: ``"Benutzer/in"`` -> ``"Benutzer"``,
    ``"Softwareentwickler (m/w/d)"`` -> ``"Softwareentwickler"``."""
    return _GENDER_MARKS.sub("", text)


def split_identifier(value: str) -> str:
    """Split an HTML identifier into words: ``billingZip2`` -> ``billing zip 2``."""
    spaced = _CAMEL.sub(" ", value)
    return _SPACES.sub(" ", _NON_WORD.sub(" ", spaced)).strip()


def normalize(text: str, *, drop_noise: bool = False) -> str:
    """Lower-case, NFKC-fold, drop gender marks, split identifiers, strip punctuation,
    collapse spaces and spell "-isation" as "-ization".

    ``drop_noise`` also removes widget words such as ``input`` or ``txt`` (used for
    identifiers, never for labels, where "Type" can be the real meaning).
    """
    folded = strip_gender_marks(unicodedata.normalize("NFKC", text))
    words = _ISATION.sub("ization", split_identifier(folded).lower()).split()
    if drop_noise:
        kept = [w for w in words if w not in _NOISE and not w.isdigit()]
        words = kept or words
    return " ".join(words)


def is_generic(text: str) -> bool:
    """True when every word of ``text`` is a generic filler word (``"Value"``, ``"Enter text"``)."""
    words = normalize(text).split()
    return bool(words) and all(w in GENERIC_WORDS or w in _NOISE for w in words)


def _attr(field: Mapping[str, Any], name: str) -> str:
    value = field.get(name)
    return value.strip() if isinstance(value, str) else ""


def field_text(field: Mapping[str, Any], mode: TextMode = "rich") -> str:
    """The text embedded for a form field.

    ``precedence`` is the seed's rule: label, else placeholder, else name, else id.
    ``rich`` joins every distinct attribute (identifiers split into words, noise dropped),
    strongest first, so a field labelled "Name" with ``name="billing_zip"`` still says zip.
    Returns ``""`` when the field has no text at all.
    """
    parts: list[str] = []
    for attr in TEXT_ATTRIBUTES:
        raw = _attr(field, attr)
        if not raw:
            continue
        # a "|" in a label ("Email | Username") would read as the parts' separator
        text = (strip_gender_marks(raw).replace("|", "/").strip() if attr in VISIBLE_ATTRIBUTES
                else normalize(raw, drop_noise=True))
        if not text:  # a label that is only a gender mark ("(m/w/d)") says nothing
            continue
        if mode == "precedence":
            return text
        if normalize(text) not in {normalize(p) for p in parts}:
            parts.append(text)
    return PART_SEPARATOR.join(parts)


def has_visible_text(field: Mapping[str, Any]) -> bool:
    """Whether the field has a label or placeholder (else only identifiers say what it is)."""
    return any(_attr(field, a) for a in VISIBLE_ATTRIBUTES)


def written_attributes(field: Mapping[str, Any]) -> list[str]:
    """The field's attributes with text (label, placeholder, ``name``, ``id``, in that
    order) as written: an identifier keeps its digits here (``name="Address2"``), unlike in
    :func:`field_text`."""
    return [raw for raw in (_attr(field, a) for a in TEXT_ATTRIBUTES) if raw]


def first_attribute(field: Mapping[str, Any]) -> str:
    """The first of :func:`written_attributes` (label, else placeholder, ``name``, ``id``)."""
    return next(iter(written_attributes(field)), "")


#: The form's own words (see ``FormIn``), read with its fields' by :func:`request_text`.
FORM_TEXT_ATTRIBUTES: tuple[str, ...] = ("title", "heading", "submit", "action")


def request_text(fields: Sequence[Mapping[str, Any]], form: Mapping[str, Any] | None = None) -> str:
    """Every word a request says, normalised: its fields' label, placeholder, ``name`` and
    ``id``, and its form's title, heading, submit text and action."""
    said = [_attr(f, a) for f in fields for a in TEXT_ATTRIBUTES]
    said += [_attr(form or {}, a) for a in FORM_TEXT_ATTRIBUTES]
    return " ".join(n for n in (normalize(t) for t in said if t) if n)


def main_part(text: str) -> str:
    """The strongest attribute of a rich field text (what ``precedence`` mode gives for the
    same field): the lexical short-circuit compares this part, so its calibration must too."""
    return text.split(PART_SEPARATOR, 1)[0]
