"""Turn matches into values from a user profile (the ml-service ``/ml/fill`` rules).

Per match: text is trimmed and cut to ``maxlength`` (status ``truncated`` when that
cut something, so a client need not fill a cut e-mail address); a ``<select>`` gets the option that
matches the value (exact, then normalised, then by embedding when an encoder is given);
dates are written as ISO for ``type=date`` or in the format the placeholder hints
(``MM/DD/YYYY``), and a field that declares one part of a date (``autocomplete="bday-day"``)
or whose words name one (the hints file's ``date_parts``: "Day", "MM", "Jahr", ...; the
decision's ``text`` carries its label, name and id) gets that part: a birth date is often
three selects; a field's HTML ``pattern``
must accept the value, else the value without separators, else its digits
(``+1 (555) 010-9999`` -> ``15550109999`` for ``[0-9]{11}``), or the field is left empty
with status ``pattern_mismatch`` (a browser would refuse the form); a missing profile
value gives an empty value with status ``missing``. A match that classify left ambiguous
gives its ``alternatives``: where the label offers them as a choice (``either``: "Email or
username") the field takes the first one the profile holds that the field takes whole (an
e-mail address is passed over for a phone number where the ``pattern`` wants digits); a
list of parts that may all be wanted ("E-mail, username") is left empty with status ``ambiguous``.
A match whose label lists a key's parts (``listed``: "City, State, Zip" as the address)
gets the values of those parts that the profile holds, in the label's order, joined by
", " ("Springfield, IL, 62704"); none held is ``missing``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

import numpy as np

from semindex.encoder import Encoder
from semindex.hints import DATE_PARTS, detail_tokens, pattern_accepts
from semindex.text import normalize

_DATE_INPUTS = ("%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y", "%m/%d/%Y", "%d/%m/%Y", "%Y%m%d",
                "%B %d, %Y", "%d %B %Y")
_FORMAT_HINT = re.compile(r"(dd|mm|yyyy|yy)([./\- ])(dd|mm|yyyy|yy)\2(dd|mm|yyyy|yy)", re.I)
_SEPARATORS = re.compile(r"[\s\-./()]+")
SELECT_MIN_SIMILARITY = 0.6
#: The autofill spec's birth-date part tokens (a field that declares one gets that part).
_DECLARED_PARTS = {"bday-day": "day", "bday-month": "month", "bday-year": "year"}
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


@dataclass
class FillResult:
    selector: str | None
    key: str | None
    value: str
    # filled | truncated (cut to the field's maxlength) | missing | no_option | unparsed_date
    # | pattern_mismatch (the field's pattern, or for a date part its maxlength, admits no
    # form of the value) | ambiguous (the label lists parts that may all be wanted)
    status: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_date(value: str) -> date | None:
    v = value.strip()
    for fmt in _DATE_INPUTS:
        try:
            return datetime.strptime(v, fmt).date()
        except ValueError:
            continue
    return None


def date_format_from_hint(hint: str) -> str | None:
    """``"MM/DD/YYYY"`` -> ``"%m/%d/%Y"``; None when the text hints no format."""
    m = _FORMAT_HINT.search(hint or "")
    if not m:
        return None
    parts = {"dd": "%d", "mm": "%m", "yyyy": "%Y", "yy": "%y"}
    a, sep, b, c = m.group(1), m.group(2), m.group(3), m.group(4)
    return sep.join(parts[x.lower()] for x in (a, b, c))


def date_part(match: Mapping[str, Any], parts: Mapping[str, frozenset[str]] | None) -> str | None:
    """The one part of a date (``day``, ``month``, ``year``) that the field declares
    (``autocomplete="bday-day"``, ...) or else that its words name (its decision ``text``
    and placeholder, whole words, by the hints file's ``date_parts``); None for none or
    several ("Date of birth (DD/MM/YYYY)" is the whole date)."""
    declared = [_DECLARED_PARTS[t] for t in detail_tokens(str(match.get("autocomplete") or ""))
                if t in _DECLARED_PARTS]
    if declared:
        return declared[-1]  # the field name is the last detail token
    if not parts:
        return None
    said = " ".join(str(match.get(a) or "") for a in ("text", "placeholder"))
    words = set(normalize(said).split())
    named = [p for p in DATE_PARTS if words & parts.get(p, frozenset())]
    return named[0] if len(named) == 1 else None


def part_values(when: date, part: str) -> list[str]:
    """How a part of ``when`` may be written, preferred first: ``04``, ``4``, ``April``, ``Apr``."""
    if part == "day":
        return [f"{when.day:02d}", str(when.day)]
    if part == "month":
        name = _MONTHS[when.month - 1]
        return [f"{when.month:02d}", str(when.month), name, name[:3]]
    return [str(when.year), f"{when.year % 100:02d}"]


def _fill_part(sel: str | None, key: str | None, when: date, part: str,
               match: Mapping[str, Any]) -> FillResult:
    values = part_values(when, part)
    options = match.get("options")
    if options:
        for v in values:
            chosen = choose_option(v, options)
            if chosen is not None:
                return FillResult(sel, key, chosen, "filled")
        # Month names in another language: twelve real options are the months in order.
        real = [value for value, _ in _option_pairs(options) if value.strip()]
        if part == "month" and len(real) == 12:
            return FillResult(sel, key, real[when.month - 1], "filled")
        return FillResult(sel, key, "", "no_option")
    limit = _max_length(match)
    fits = [v for v in values if limit is None or len(v) <= limit]
    return FillResult(sel, key, fits[0], "filled") if fits else FillResult(sel, key, "", "pattern_mismatch")


def _max_length(match: Mapping[str, Any]) -> int | None:
    """The field's ``maxlength`` when it sets one (a positive integer), else None."""
    maxlength = match.get("maxlength")
    return maxlength if isinstance(maxlength, int) and maxlength > 0 else None


def _option_pairs(options: Sequence[Any]) -> list[tuple[str, str]]:
    """Options as (value, label) pairs; accepts strings or {value, label|text} objects."""
    pairs = []
    for o in options:
        if isinstance(o, Mapping):
            value = str(o.get("value", o.get("label", o.get("text", ""))))
            label = str(o.get("label", o.get("text", value)))
            pairs.append((value, label))
        else:
            pairs.append((str(o), str(o)))
    return pairs


def choose_option(value: str, options: Sequence[Any], encoder: Encoder | None = None) -> str | None:
    """The option value that best matches ``value``: exact, normalised, then by embedding."""
    pairs = _option_pairs(options)
    for opt_value, label in pairs:
        if value == opt_value or value == label:
            return opt_value
    norm = normalize(value)
    for opt_value, label in pairs:
        if norm and norm in (normalize(opt_value), normalize(label)):
            return opt_value
    if encoder is None or not pairs or not norm:
        return None
    vecs = encoder.encode([value] + [label for _, label in pairs])
    sims = vecs[1:] @ vecs[0]
    best = int(np.argmax(sims))
    return pairs[best][0] if float(sims[best]) >= SELECT_MIN_SIMILARITY else None


def fill_one(match: Mapping[str, Any], profile: Mapping[str, Any],
             encoder: Encoder | None = None,
             parts: Mapping[str, frozenset[str]] | None = None) -> FillResult:
    selector = match.get("selector")
    sel = str(selector) if selector is not None else None
    key = match.get("key")
    if key is None and match.get("alternatives"):
        if not match.get("either"):
            return FillResult(sel, None, "", "ambiguous")
        # any one answers the field: the first that the profile holds and the field takes
        tried = [_fill_key(sel, k, match, profile, encoder, parts)
                 for k in match["alternatives"] if _held(profile.get(k))]
        return next((r for r in tried if r.status == "filled"), tried[0] if tried else
                    FillResult(sel, None, "", "missing"))
    if key is not None and match.get("listed"):  # "City, State, Zip": the parts' values
        held = [str(profile[k]).strip() for k in match["listed"] if _held(profile.get(k))]
        if not held:
            return FillResult(sel, key, "", "missing")
        return _fill_value(sel, key, ", ".join(held), match, encoder, parts)
    return _fill_key(sel, key, match, profile, encoder, parts)


def _fill_key(sel: str | None, key: str | None, match: Mapping[str, Any], profile: Mapping[str, Any],
              encoder: Encoder | None, parts: Mapping[str, frozenset[str]] | None) -> FillResult:
    raw = profile.get(key) if isinstance(key, str) else None
    if not _held(raw):
        return FillResult(sel, key, "", "missing")
    return _fill_value(sel, key, str(raw).strip(), match, encoder, parts)


def _fill_value(sel: str | None, key: str | None, value: str, match: Mapping[str, Any],
                encoder: Encoder | None, parts: Mapping[str, frozenset[str]] | None) -> FillResult:
    """The field's value made of ``value``: a date part, an option, a date format, the
    field's pattern and ``maxlength``."""
    part = date_part(match, parts)
    when = parse_date(value) if part is not None else None
    if part is not None and when is not None:
        return _fill_part(sel, key, when, part, match)
    options = match.get("options")
    if options:
        chosen = choose_option(value, options, encoder)
        return FillResult(sel, key, chosen, "filled") if chosen is not None else \
            FillResult(sel, key, "", "no_option")
    ftype = str(match.get("type") or "").lower()
    fmt = "%Y-%m-%d" if ftype == "date" else date_format_from_hint(str(match.get("placeholder") or ""))
    if fmt is not None:
        parsed = parse_date(value)
        if parsed is None:
            return FillResult(sel, key, value, "unparsed_date")
        value = parsed.strftime(fmt)
    limit = _max_length(match)
    pattern = match.get("pattern")
    if not isinstance(pattern, str) or not pattern:
        return _cut(sel, key, value, limit)
    for candidate in _pattern_candidates(value):
        ok = pattern_accepts(pattern, candidate[:limit])
        if ok is None:  # unreadable pattern: it says nothing
            return _cut(sel, key, value, limit)
        if ok:
            return _cut(sel, key, candidate, limit)
    return FillResult(sel, key, "", "pattern_mismatch")


def _held(raw: Any) -> bool:
    """Whether a profile value is there to fill (not absent, not blank)."""
    return raw is not None and not (isinstance(raw, str) and not raw.strip())


def _cut(sel: str | None, key: str | None, value: str, limit: int | None) -> FillResult:
    """The value as the field can hold it: cut to ``maxlength`` as a browser cuts what is
    typed, with status ``truncated`` rather than ``filled`` when that cut something — a
    cut e-mail address or phone number is no longer the user's, and the client decides."""
    if limit is not None and len(value) > limit:
        return FillResult(sel, key, value[:limit], "truncated")
    return FillResult(sel, key, value, "filled")


def _pattern_candidates(value: str) -> list[str]:
    """The value as given, without separators, then its digits only (each once)."""
    compact = _SEPARATORS.sub("", value)
    digits = "".join(c for c in value if c.isdigit())
    return list(dict.fromkeys(v for v in (value, compact, digits) if v))


def fill(profile: Mapping[str, Any], matches: Sequence[Mapping[str, Any]],
         encoder: Encoder | None = None,
         parts: Mapping[str, frozenset[str]] | None = None) -> list[FillResult]:
    """One :class:`FillResult` per match, in order; ``parts``: the hints file's
    ``date_parts`` (None: a date value is always written whole)."""
    return [fill_one(m, profile, encoder, parts) for m in matches]
