"""Field evidence declared as data next to the canonical keys (never code per site).

A hints file (JSON, conventionally ``<canonical>.hints.json``) maps HTML evidence to keys::

    {
      "autocomplete": {"given-name": "first_name", "email": "email", "cc-number": null, ...},
      "types": {"email": ["email"], "password": ["password"], "checkbox": [], ...},
      "type_means": {"password": "password"},
      "inputmode": {"email": ["email", "username"], "tel": ["phone"], ...},
      "min_length": {"email": 5, ...},
      "options": {"country": ["germany", "france", ...], "gender": ["male", "female"]},
      "values": {"postal_code": ["10115", "94103-1234", "SW1A 1AA"], ...},
      "synonyms": {"postal_code": ["PLZ", "Code postal", "CAP", "郵便番号"], ...},
      "fillers": ["your", "please", "votre", "bitte", "required", ...],
      "repeatable": ["password", "address_line2"],
      "context_rules": [{"form_kind": "login", "field_type": "email", "key": "username"}],
      "form_kinds": {"login": ["log in", "sign in"], "signup": ["register", "sign up"]},
      "word_lists": {"last_name_words": ["last", "surname", "nachname", ...]},
      "sibling_rules": [{"key": "full_name", "with": "last_name", "becomes": "first_name",
                         "unless": "last_name_words"},
                        {"key": "first_name", "without": "last_name", "becomes": "full_name",
                         "unless": ["first", "given", "vorname", "prénom", ...]},
                        {"key": "full_name", "with": "password",
                         "without": ["email", "username", "phone", "last_name"],
                         "becomes": "username"}],
      "needs_words": {"date_of_birth": ["birth", "dob", "geburt", "naissance", ...]},
      "needs_types": {"password": ["password"]},
      "date_parts": {"day": ["day", "dd", "tag", "jour", ...], "month": [...], "year": [...]},
      "or_words": ["or", "oder", "ou", "o", "или", ...],
      "composites": {"full_name": ["first_name", "middle_name", "last_name"]},
      "listed_parts": {"address_line1": ["city", "state", "postal_code", "country"]},
      "contradictions": true
    }
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regex

from semindex.data import read_json
from semindex.errors import DataError
from semindex.text import normalize

log = logging.getLogger(__name__)

#: The parts of a date a field can hold on its own (see ``Hints.date_parts``).
DATE_PARTS = ("day", "month", "year")
# Autofill detail tokens that only qualify the field (section-*, shipping, billing, ...).
_QUALIFIERS = ("shipping", "billing", "home", "work", "mobile", "webauthn")


@dataclass(frozen=True)
class SiblingRule:
    """A key that means another one beside (``beside``) or without (``without``) sibling
    keys in the same request: "Name" beside a last-name field is the first name; "Name"
    beside a password field with no email, user-name or phone field is the login name."""

    key: str
    becomes: str
    beside: tuple[str, ...] = ()
    without: tuple[str, ...] = ()
    #: Words (normalised, each matched at the start of a word) that keep the key: a field
    #: whose text says "first" or "Vorname" is a first name whatever its siblings.
    unless: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key}
        for side, keys in (("with", self.beside), ("without", self.without)):
            if keys:
                out[side] = keys[0] if len(keys) == 1 else list(keys)
        out["becomes"] = self.becomes
        return {**out, "unless": list(self.unless)} if self.unless else out

    def holds(self, siblings: Collection[str | None]) -> bool:
        """Whether the other fields' keys have every ``beside`` key and no ``without`` key."""
        return (all(k in siblings for k in self.beside)
                and not any(k in siblings for k in self.without))

    def kept_by(self, text: str) -> bool:
        """Whether ``text`` (normalised) says one of the words that keep the key."""
        return says_one_of(text, self.unless)

    def describe(self) -> str:
        """The rule in words, for a decision's evidence."""
        sides = [f"{word} {_a(keys[0])} {_or(keys)} field" for word, keys in
                 (("beside", self.beside), ("without", self.without)) if keys]
        return f"a {self.key} field {' and '.join(sides)} is {self.becomes} (sibling rule)"


def _a(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _or(keys: tuple[str, ...]) -> str:
    return keys[0] if len(keys) == 1 else f"{', '.join(keys[:-1])} or {keys[-1]}"


def says_one_of(text: str, words: tuple[str, ...]) -> bool:
    """Whether normalised ``text`` has one of ``words`` (normalised) at the start of a word;
    a word of several words matches them in sequence ("ngày sinh")."""
    padded = f" {text}"
    return any(f" {w}" in padded for w in words)


def detail_tokens(value: str | None) -> list[str]:
    """The autofill detail tokens of an ``autocomplete`` attribute, lower-cased and in
    order, without the ``section-*`` and qualifier tokens (shipping, billing, ...)."""
    return [t for t in (value or "").lower().split()
            if not t.startswith("section-") and t not in _QUALIFIERS]


@dataclass(frozen=True)
class Hints:
    #: Autofill detail token -> key; ``None``: a token that names none of the keys
    #: (``tel-country-code``, ``cc-number``, ``one-time-code``).
    autocomplete: dict[str, str | None] = field(default_factory=dict)
    types: dict[str, list[str]] = field(default_factory=dict)
    repeatable: frozenset[str] = frozenset()
    context_rules: tuple[dict[str, str], ...] = ()
    form_kinds: dict[str, list[str]] = field(default_factory=dict)
    #: Types that decide the key whatever the field's text (``password`` -> password).
    type_means: dict[str, str] = field(default_factory=dict)
    #: Like ``types``, for the ``inputmode`` attribute.
    inputmode: dict[str, list[str]] = field(default_factory=dict)
    #: The shortest ``maxlength`` a field can have and still hold the key.
    min_length: dict[str, int] = field(default_factory=dict)
    #: Option vocabularies: a ``<select>`` whose options are mostly one key's is that key.
    options: dict[str, frozenset[str]] = field(default_factory=dict)
    #: Sample values per key: a field's ``pattern`` admits the keys whose samples it accepts.
    values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: More synonyms per key (other languages' labels), indexed and calibrated on with the
    #: canonical file's own but never trained on: one multilingual list for any canonical file.
    synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Words a label wraps around what it names, in any language ("your", "votre",
    #: "bitte", "required"): the lexical step compares labels without them.
    fillers: frozenset[str] = frozenset()
    #: What a decided key becomes with or without a sibling key in the same request.
    sibling_rules: tuple[SiblingRule, ...] = ()
    #: Keys that a field's words give only where the request says one of these words (a
    #: "Day" select is a birth date only where a field or the form mentions birth);
    #: normalised, matched at the start of a word ("geburt" in "Geburtsdatum").
    needs_words: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Words that make a field one part of a date ("Day", "MM", "Jahr"): ``/ml/fill`` writes
    #: that part of a date value into it; normalised, whole words.
    date_parts: dict[str, frozenset[str]] = field(default_factory=dict)
    #: Words that say which of several alike fields a label is, not what it holds (whose
    #: address, which phone: the autofill tokens ``shipping``, ``billing``, ``home``,
    #: ``work``, ``mobile`` and their wordings, "mailing", "de livraison"): a label that is
    #: a synonym once they are left out names that synonym's key. Normalised, each once.
    qualifiers: tuple[str, ...] = ()
    #: Keys that number one another (``["address_line1", "address_line2"]``): a field that
    #: its words give one of them and whose label ends in a number n is the n-th.
    numbered: tuple[tuple[str, ...], ...] = ()
    #: Words that join the alternatives a label offers ("Email or username", "PLZ oder
    #: Ort"; ``/``, ``,``, ``;`` and ``|`` join them in any language): normalised, whole words.
    or_words: frozenset[str] = frozenset()
    #: Keys whose value is other keys' values together (``full_name``: first, middle and
    #: last name): a label that offers only its parts ("Nom, prénom") asks for the whole.
    composites: dict[str, frozenset[str]] = field(default_factory=dict)
    #: Whether a label that names other keys, and not the semantic step's, makes the field
    #: abstain (``contradicted``): true where the keys are things a label names in a word
    #: or two (form fields); off for keys whose names hold other keys' names (occupations:
    #: "Senior software developer" holds "Software developer").
    contradictions: bool = False
    #: Keys that a field of another declared type is only where its words name them (the
    #: lexical steps): a text input near "Password" by similarity ("Password hint",
    #: "Recovery word") is no password, since a password input masks what is typed.
    #: Types lower case; a field that declares no type is not constrained.
    needs_types: dict[str, frozenset[str]] = field(default_factory=dict)
    #: Keys that a label listing several of these other keys as one field's parts asks
    #: for (``address_line1``: "City, State, Zip", "(City, State or Country)" ask for a
    #: place written out, an address) when no attribute chooses one of them. A list only
    #: (parts between ``,`` or ``;``): a choice ("City or Zip", "PSČ / Mesto") asks for one.
    listed_parts: dict[str, frozenset[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"autocomplete": self.autocomplete, "types": self.types,
                "type_means": self.type_means, "inputmode": self.inputmode,
                "min_length": self.min_length,
                "options": {k: sorted(v) for k, v in self.options.items()},
                "values": {k: list(v) for k, v in self.values.items()},
                "synonyms": {k: list(v) for k, v in self.synonyms.items()},
                "fillers": sorted(self.fillers),
                "repeatable": sorted(self.repeatable),
                "context_rules": list(self.context_rules), "form_kinds": self.form_kinds,
                "sibling_rules": [r.to_json() for r in self.sibling_rules],
                "needs_words": {k: list(v) for k, v in self.needs_words.items()},
                "needs_types": {k: sorted(v) for k, v in self.needs_types.items()},
                "date_parts": {k: sorted(v) for k, v in self.date_parts.items()},
                "qualifiers": list(self.qualifiers),
                "numbered": [list(series) for series in self.numbered],
                "or_words": sorted(self.or_words),
                "composites": {k: sorted(v) for k, v in self.composites.items()},
                "listed_parts": {k: sorted(v) for k, v in self.listed_parts.items()},
                "contradictions": self.contradictions}

    def missing_words(self, key: str, text: str) -> tuple[str, ...]:
        """The words ``key`` needs when ``text`` (normalised) says none of them, else ()."""
        needed = self.needs_words.get(key, ())
        return () if says_one_of(text, needed) else needed

    def type_forbids(self, key: str, ftype: str) -> bool:
        """Whether a field of declared type ``ftype`` ('' for none) cannot be ``key`` by
        similarity alone (``needs_types``)."""
        needed = self.needs_types.get(key)
        return bool(needed and ftype and ftype.lower() not in needed)

    def date_part_named(self, text: str, also: tuple[str, ...] = ()) -> str | None:
        """The one part of a date (``day``, ``month``, ``year``) that normalised ``text``
        names when it names nothing else: each of its words is a word of that part, a filler,
        or begins with one of ``also`` ("Day", "MM", "aaaa", "Año", "Birth year" with
        ``also=("birth",)``); None otherwise ("Day of arrival", "DD/MM/YYYY")."""
        words = text.split()
        named = {p for p, ws in self.date_parts.items() if ws.intersection(words)}
        if len(named) != 1:
            return None
        part = named.pop()
        rest = [w for w in words if w not in self.date_parts[part] and w not in self.fillers]
        return part if all(says_one_of(w, also) for w in rest) else None

    def autocomplete_token(self, value: str | None) -> tuple[str, str | None] | None:
        """The declared field name of an ``autocomplete`` attribute and its key (None: the
        token names none of the keys), qualifier tokens skipped; None when the attribute
        holds no declared token (``off``, ``on``, a site's own word): it says nothing."""
        declared = [(t, self.autocomplete[t]) for t in detail_tokens(value) if t in self.autocomplete]
        if not declared:
            return None
        # The field name is the last detail token, but one that names none of the keys rules
        # them out wherever it stands: ``fax tel`` is a fax number (``"fax": null``).
        return next((d for d in declared if d[1] is None), declared[-1])

    def keys_for_type(self, html_type: str | None) -> list[str] | None:
        """The only keys a field of this HTML type can be (``[]``: none, e.g. a checkbox),
        or None when the type is not declared and says nothing."""
        if not html_type:
            return None
        return self.types.get(html_type.lower())

    def admitted(self, fld: Mapping[str, Any], keys: list[str]) -> list[str] | None:
        """The keys a field can be after its declared evidence (type, inputmode, pattern,
        maxlength), or None when nothing it declares narrows them."""
        allowed: set[str] | None = None
        for table, attr in ((self.types, "type"), (self.inputmode, "inputmode")):
            value = str(fld.get(attr) or "").lower()
            if value in table:
                allowed = set(table[value]) if allowed is None else allowed & set(table[value])
        pattern = fld.get("pattern")
        if isinstance(pattern, str) and pattern:
            by_pattern = self.pattern_keys(pattern, keys)
            if by_pattern is not None:
                allowed = by_pattern if allowed is None else allowed & by_pattern
        maxlength = fld.get("maxlength")
        if isinstance(maxlength, int) and not isinstance(maxlength, bool) and maxlength > 0:
            short = {k for k, n in self.min_length.items() if maxlength < n}
            if short:
                allowed = (set(keys) if allowed is None else allowed) - short
        return None if allowed is None else [k for k in keys if k in allowed]

    @functools.cached_property
    def _samples(self) -> dict[str, tuple[str, ...]]:
        """Per key, every sample a pattern is tested against: ``values`` and option words
        (built once per hints object, not per field)."""
        return {k: self.values.get(k, ()) + tuple(sorted(self.options.get(k, ())))
                for k in set(self.values) | set(self.options)}

    def pattern_keys(self, pattern: str, keys: list[str]) -> set[str] | None:
        """The keys an HTML ``pattern`` admits: those with a sample value (``values``, or an
        ``options`` word) that the whole pattern accepts, plus the keys without samples.

        None when the pattern says nothing: it accepts no sample at all (a format the
        samples do not cover) or cannot be read (it is checked with a time limit, as any
        client-supplied regular expression must be).
        """
        samples = {k: self._samples.get(k, ()) for k in keys}
        if not any(samples.values()):
            return None
        accepted = set()
        for key, vals in samples.items():
            for v in vals:
                ok = pattern_accepts(pattern, v)
                if ok is None:
                    return None
                if ok:
                    accepted.add(key)
                    break
        if not accepted:
            return None
        return accepted | {k for k, vals in samples.items() if not vals}

    def options_key(self, options: Any, min_share: float = 0.6) -> tuple[str, float] | None:
        """The key whose vocabulary holds most of a select's options (at least ``min_share``
        of the non-placeholder ones, and at least 2), or None."""
        if not self.options or not isinstance(options, list):
            return None
        texts = {normalize(str(o.get("label") or o.get("text") or o.get("value") or "")
                           if isinstance(o, dict) else str(o)) for o in options}
        texts.discard("")
        if len(texts) < 2:
            return None
        best: tuple[str, float] | None = None
        for key, vocab in self.options.items():
            share = len(texts & vocab) / len(texts)
            if share >= min_share and (best is None or share > best[1]):
                best = (key, share)
        return best

    def infer_form_kind(self, form: dict[str, Any] | None, fields: list[dict[str, Any]]) -> str | None:
        """The form kind: given by the client, else read from the form's words and fields."""
        form = form or {}
        kind = form.get("kind")
        if isinstance(kind, str) and kind:
            return kind.lower()
        words = " ".join(str(form.get(k) or "") for k in ("title", "action", "submit", "heading")).lower()
        for name, cues in self.form_kinds.items():
            if any(cue in words for cue in cues):
                return name
        types = [str(f.get("type") or "").lower() for f in fields]
        if types.count("password") == 1 and len(fields) <= 3:
            return "login"
        return None


_PATTERN_TIMEOUT_S = 0.05
_MAX_PATTERN_CHARS = 500


@functools.lru_cache(maxsize=1024)
def _compile(pattern: str) -> regex.Pattern[str]:
    """An HTML ``pattern`` as a regular expression (HTML anchors it: the whole value).

    Browsers compile ``pattern`` with ECMAScript's ``v`` flag: classes nest and take set
    difference (``[\\p{L}--[a-z]]``) and intersection (``&&``); ``regex``'s VERSION1 reads
    both (its default VERSION0 would silently read ``--`` as characters)."""
    if len(pattern) > _MAX_PATTERN_CHARS:
        raise regex.error(f"longer than {_MAX_PATTERN_CHARS} characters")
    return regex.compile(f"(?:{pattern})", regex.V1)


def pattern_accepts(pattern: str, value: str) -> bool | None:
    """Whether an HTML ``pattern`` accepts the whole ``value``; None when the pattern
    cannot be read (bad syntax, too long, or too slow: it comes from a client)."""
    try:
        return _compile(pattern).fullmatch(value, timeout=_PATTERN_TIMEOUT_S) is not None
    except (regex.error, TimeoutError) as exc:
        log.debug("pattern %r ignored: %s", pattern, exc)
        return None


def _normalised_words(value: Any, *, single: bool = False) -> tuple[str, ...] | None:
    """``value`` normalised word by word; None unless it is a list of strings that each
    hold a letter or digit (and, with ``single``, one word each)."""
    if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
        return None
    words = tuple(normalize(w) for w in value)
    if not all(words) or (single and any(len(w.split()) != 1 for w in words)):
        return None
    return words


def parse_hints(obj: Any, source: str, keys: list[str] | None = None) -> Hints:
    if not isinstance(obj, dict):
        raise DataError(f"{source}: hints must be a JSON object")
    known = set(keys) if keys is not None else None

    def check_key(key: Any, where: str) -> str:
        if not isinstance(key, str) or (known is not None and key not in known):
            raise DataError(f"{source}: {where}: {key!r} is not a canonical key")
        return key

    ac = obj.get("autocomplete", {})
    means = obj.get("type_means", {})
    objects = ("autocomplete", "types", "type_means", "inputmode", "min_length", "options",
               "values", "synonyms", "needs_words", "needs_types", "date_parts", "composites", "listed_parts",
               "word_lists")
    if any(not isinstance(obj.get(name, {}), dict) for name in objects):
        raise DataError(f"{source}: {', '.join(repr(n) for n in objects)} must be objects")
    autocomplete = {str(t).lower(): None if k is None else check_key(k, f"autocomplete.{t}")
                    for t, k in ac.items()}  # null: the token names none of the keys
    def key_lists(name: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for t, ks in obj.get(name, {}).items():
            if not isinstance(ks, list):
                raise DataError(f"{source}: {name}.{t} must be a list of keys")
            out[str(t).lower()] = [check_key(k, f"{name}.{t}") for k in ks]
        return out

    type_map = key_lists("types")
    min_length: dict[str, int] = {}
    for k, n in obj.get("min_length", {}).items():
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise DataError(f"{source}: min_length.{k} must be a positive integer")
        min_length[check_key(k, "min_length")] = n
    options: dict[str, frozenset[str]] = {}
    for k, words in obj.get("options", {}).items():
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise DataError(f"{source}: options.{k} must be a list of strings")
        options[check_key(k, "options")] = frozenset(normalize(w) for w in words if normalize(w))
    def text_lists(name: str) -> dict[str, tuple[str, ...]]:
        out: dict[str, tuple[str, ...]] = {}
        for k, vals in obj.get(name, {}).items():
            if not isinstance(vals, list) or not all(isinstance(v, str) and v.strip() for v in vals):
                raise DataError(f"{source}: {name}.{k} must be a list of non-empty strings")
            out[check_key(k, name)] = tuple(vals)
        return out

    repeatable = frozenset(check_key(k, "repeatable") for k in obj.get("repeatable", []))
    rules = []
    for i, rule in enumerate(obj.get("context_rules", [])):
        if not isinstance(rule, dict) or "key" not in rule or "form_kind" not in rule:
            raise DataError(f"{source}: context_rules[{i}] needs 'form_kind' and 'key'")
        check_key(rule["key"], f"context_rules[{i}].key")
        rules.append({str(k): str(v) for k, v in rule.items()})
    # Named word lists, for rules that share one ("unless": "last_name_words").
    word_lists: dict[str, tuple[str, ...]] = {}
    for name, words in obj.get("word_lists", {}).items():
        listed = _normalised_words(words)
        if listed is None:
            raise DataError(f"{source}: word_lists.{name} must be a list of words")
        word_lists[name] = listed
    siblings = []
    sibling_rules = obj.get("sibling_rules", [])
    if not isinstance(sibling_rules, list):
        raise DataError(f"{source}: 'sibling_rules' must be a list")
    for i, rule in enumerate(sibling_rules):
        where = f"sibling_rules[{i}]"
        if (not isinstance(rule, dict) or not {"key", "becomes"} <= rule.keys()
                or not ({"with", "without"} & rule.keys())):
            raise DataError(f"{source}: {where} needs 'key', 'becomes' and 'with' or 'without' "
                            "(a key or a list of keys)")
        sides: dict[str, tuple[str, ...]] = {}
        for side in ("with", "without"):
            named = rule.get(side, [])
            named = [named] if isinstance(named, str) else named
            if not isinstance(named, list) or (side in rule and not named):
                raise DataError(f"{source}: {where}.{side} must be a key or a list of keys")
            sides[side] = tuple(check_key(k, f"{where}.{side}") for k in named)
        both = set(sides["with"]) & set(sides["without"])
        if both:
            raise DataError(f"{source}: {where}: {sorted(both)[0]!r} is both in 'with' and 'without'")
        given = rule.get("unless", [])  # a list of words, or the name of a word list
        if isinstance(given, str) and given not in word_lists:
            raise DataError(f"{source}: {where}.unless: no word list {given!r} in 'word_lists'"
                            + (f" (it declares {', '.join(sorted(word_lists))})" if word_lists else ""))
        unless = word_lists[given] if isinstance(given, str) else _normalised_words(given)
        if unless is None:
            raise DataError(f"{source}: {where}.unless must be a list of words or the name of "
                            "a word list")
        siblings.append(SiblingRule(check_key(rule["key"], f"{where}.key"),
                                    check_key(rule["becomes"], f"{where}.becomes"),
                                    sides["with"], sides["without"], unless))
    # One word each: the lexical step drops fillers word by word ("geben sie" would never match).
    fillers = _normalised_words(obj.get("fillers", []), single=True)
    if fillers is None:
        raise DataError(f"{source}: 'fillers' must be a list of non-empty words")
    needs = {k: tuple(normalize(w) for w in ws) for k, ws in text_lists("needs_words").items()}
    for k, ws in needs.items():
        if not all(ws):
            raise DataError(f"{source}: needs_words.{k}: every entry must hold a letter or digit")
    needs_types = {k: frozenset(t.strip().lower() for t in ts)
                   for k, ts in text_lists("needs_types").items()}
    parts: dict[str, frozenset[str]] = {}
    for part, words in obj.get("date_parts", {}).items():
        if part not in DATE_PARTS:
            raise DataError(f"{source}: date_parts.{part}: not one of {', '.join(DATE_PARTS)}")
        one_each = _normalised_words(words, single=True)
        if one_each is None:
            raise DataError(f"{source}: date_parts.{part} must be a list of words")
        parts[part] = frozenset(one_each)
    qualifiers = _normalised_words(obj.get("qualifiers", []))
    if qualifiers is None:
        raise DataError(f"{source}: 'qualifiers' must be a list of words or phrases")
    numbered = obj.get("numbered", [])
    if not isinstance(numbered, list):
        raise DataError(f"{source}: 'numbered' must be a list of lists of keys")
    series_of: dict[str, int] = {}
    for i, series in enumerate(numbered):
        if not isinstance(series, list) or len(series) < 2 or len(set(map(str, series))) < len(series):
            raise DataError(f"{source}: numbered[{i}] must be a list of two or more different keys")
        for k in series:
            check_key(k, f"numbered[{i}]")
            if series_of.setdefault(k, i) != i:
                # A field's number would then name a key in each series.
                raise DataError(f"{source}: numbered[{i}]: {k!r} is already in numbered[{series_of[k]}]")
    or_words = _normalised_words(obj.get("or_words", []), single=True)
    if or_words is None:
        raise DataError(f"{source}: 'or_words' must be a list of words")

    def wholes(name: str) -> dict[str, frozenset[str]]:
        out: dict[str, frozenset[str]] = {}
        for k, parts_of in obj.get(name, {}).items():
            whole = check_key(k, name)
            if not isinstance(parts_of, list) or len(set(map(str, parts_of))) < 2 or whole in parts_of:
                raise DataError(f"{source}: {name}.{k} must be a list of two or more other keys")
            out[whole] = frozenset(check_key(p, f"{name}.{k}") for p in parts_of)
        return out

    composites = wholes("composites")
    kinds = obj.get("form_kinds", {})
    if not isinstance(kinds, dict):
        raise DataError(f"{source}: 'form_kinds' must be an object")
    contradictions = obj.get("contradictions", False)
    if not isinstance(contradictions, bool):
        raise DataError(f"{source}: 'contradictions' must be true or false")
    return Hints(autocomplete, type_map, repeatable, tuple(rules),
                 {str(k): [str(c).lower() for c in v] for k, v in kinds.items()},
                 {str(t).lower(): check_key(k, f"type_means.{t}") for t, k in means.items()},
                 key_lists("inputmode"), min_length, options, text_lists("values"),
                 text_lists("synonyms"), frozenset(fillers), tuple(siblings),
                 needs, parts, tuple(dict.fromkeys(qualifiers)),
                 tuple(tuple(series) for series in numbered), frozenset(or_words), composites,
                 contradictions, needs_types, wholes("listed_parts"))


def load_hints(path: str | Path | None, keys: list[str] | None = None) -> Hints:
    """Load a hints file; ``None`` gives empty hints, a path that names no file is a
    :class:`DataError` (a mistyped path must not train a version without its evidence)."""
    if path is None:
        return Hints()
    return parse_hints(read_json(path, "hints file"), str(path), keys)
