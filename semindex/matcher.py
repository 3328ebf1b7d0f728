"""The classify logic: from form fields (or bare texts) to keys, with reasons.

Per field, in order of strength: the ``autocomplete`` attribute (declared evidence; a
token that names none of the keys, such as ``cc-number``, rules them all out),
the field's ``type`` (a declared type admits only its keys: a checkbox holds no name; a
few types decide the key outright: a password input is a password), the options of a
``<select>`` (mostly country names: country), ``inputmode``, ``pattern`` (tested against
sample values of each key) and ``maxlength``, which narrow the keys as ``type`` does, a
reviewed field's answer where the field's whole text is that field's text, a
lexical match of the field's main text against the synonym table (filler words such as
"your" or "votre" left out), the same match once the label's qualifiers are left out
("Mailing address" is "Address"), a field whose nearest example is a confirmed unknown
abstains, a label that offers alternatives ("Email/Username"), lists declared parts of a
key ("City, State, Zip": the address) or names two parts of a declared composite ("First
and last name": the full name), a lexical match of its other
attributes (placeholder, name, id) when those that name a key agree, then the semantic
match (FAISS, max over synonyms and confirmed examples) against a threshold that is
calibrated per key and adjusted by what the field says about itself (required, generic
wording); under its threshold, the semantic step's best key is still taken where the
label, or else another attribute, mentions one of its synonyms. A key of a numbered
series takes the number its label ends in ("Address 2" is the second address line). A key the hints file
ties to words (``needs_words``: a birth date needs "birth", "dob", "Geburt", ...) that the
request does not say anywhere is withdrawn; where the request does say them, a field whose
words name only a part of a date ("Day", "MM", "aaaa") is that date. Then the hints file's
sibling rules read
each key against the request's other fields ("Name" beside a last name is the first
name), and finally the accepted fields of one form are assigned jointly, so two fields
cannot both claim a non-repeatable key (not for a request whose ``form.scope`` is
``page``: a page may hold several forms; nor for a field whose label lists the key's parts).
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from semindex.bundle import Bundle
from semindex.data import UNKNOWN
from semindex.hints import Hints, SiblingRule, says_one_of
from semindex.index import KeyHit
from semindex.text import (
    PART_SEPARATOR,
    field_text,
    first_attribute,
    has_visible_text,
    is_generic,
    normalize,
    request_text,
    written_attributes,
)

# Threshold adjustments (added to the calibrated threshold). Small on purpose: they break
# near-ties, they do not overrule a clear semantic score.
REQUIRED_BONUS = -0.02
TYPE_AGREES = -0.10
# A declared type agrees strongly only when it narrows the field to this many keys (email,
# tel, date); a select or radio admits many and says little about which one. Measured on
# the forms loop: the nudge on selects let unrelated selects through as date_of_birth.
STRONG_TYPE_KEYS = 2
GENERIC_PENALTY = 0.10
# The shortest synonym a label can mention (the usual abbreviations: "zip", "tel", "PLZ").
MIN_MENTION = 3
#: Shortest word that counts as a shared stem (see :meth:`Lexicon.shares_stem`).
MIN_STEM = 5
# The longest run of a label's words that the qualifier step reads as a synonym.
MAX_SYNONYM_WORDS = 6
#: Added to a field's own key in the joint assignment, so that ties keep the decision.
OWN_KEY_TIE_BREAK = 1e-6
#: A known-unknown score at least this high is the field's own text confirmed as unknown.
SAME_TEXT = 0.9999
#: What joins the alternatives a label offers in any language (the hints file's
#: ``or_words`` join them in its languages): "Email/Username", "City, State, Zip".
_ALTERNATIVE_SEPARATORS = re.compile(r"([/,;|])")
#: Of those, the ones that list parts a field may want all of ("City, State, Zip",
#: "Surname, first name"); ``/``, ``|`` and the or-words offer a choice ("Email or username").
_LIST_SEPARATORS = frozenset(",;")
#: Decisions made from the field's words, which the sibling rules and the assignment may revise.
FREE_REASONS = ("semantic", "lexical", "mention")
#: Decisions of the form-level steps that re-read a key the field's words gave.
REREAD_REASONS = ("sibling", "number", "date_part")


@dataclass
class Decision:
    selector: str | None
    text: str
    key: str | None
    score: float
    threshold: float
    margin: float
    synonym: str | None
    # autocomplete | lexical | semantic | mention | form_rule | sibling | below_threshold
    # | no_text | lexical_only | assignment | known_unknown | type | options | missing_context
    # | number | date_part | rejected | ambiguous | contradicted
    reason: str
    accepted: bool
    runner_up: dict[str, Any] | None = None
    evidence: list[str] = field(default_factory=list)
    candidates: list[KeyHit] = field(default_factory=list, repr=False)
    #: The keys a label offers ("Email/Username": email, username), in the label's order,
    #: where nothing chose one (reason ``ambiguous``): a client can ask the user which.
    alternatives: list[str] = field(default_factory=list)
    #: Whether the label offers them as a choice ("Email or username", "Email/Username"),
    #: so that any one of them answers the field, rather than listing parts that may all be
    #: wanted ("City, State, Zip").
    either: bool = False
    #: The keys a label lists as the parts of the field's value ("City, State, Zip" is an
    #: address, the hints file's ``listed_parts``), in the label's order: a fill writes
    #: their values, and the field takes no key from a field that names it.
    listed: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("candidates")
        return d


def main_text(fld: Mapping[str, Any]) -> str:
    """The seed's single text: label, else placeholder, else name, else id."""
    return field_text(fld, "precedence")


@dataclass(frozen=True)
class Offered:
    """What a label offers as alternatives (:meth:`Lexicon.alternatives`)."""

    #: The offered keys in the label's order, with the synonym that names each.
    keys: dict[str, str]
    #: A choice ("Email or username": any one answers it), not a list of parts that may
    #: all be wanted ("City, State, Zip").
    either: bool


class Lexicon:
    """Normalised synonym -> keys, for the exact/fuzzy short-circuit.

    Texts are compared normalised and without ``fillers``, the words a label wraps around
    what it names ("Your full name", "Votre prénom", "Vaše jméno a příjmení"): see
    :meth:`norm`.
    """

    def __init__(self, pairs: Sequence[tuple[str, str]], fillers: frozenset[str] = frozenset(),
                 qualifiers: Sequence[str] = (), reviewed: Collection[str] = ()) -> None:
        self.fillers = fillers
        #: Longest first, as word tuples: "de livraison" is dropped before "livraison".
        self.qualifiers = sorted((tuple(q.split()) for q in qualifiers), key=lambda q: -len(q))
        self._qualifier_starts = frozenset(q[0] for q in self.qualifiers)
        self.table: dict[str, set[str]] = {}
        #: The synonym an entry reports: the first one that is the entry's words as they
        #: stand ("Email" over an earlier "Your email" for the entry "email"), else the first.
        self.original: dict[str, str] = {}
        #: Per entry's first part (a reviewed field text's label: "Email | username" is an
        #: email field whose label says "Email"), the keys it is written under; what
        #: :meth:`broader` reads, so that the identifiers of reviewed fields widen no word.
        self._labels: dict[tuple[str, ...], set[str]] = {}
        #: The same for the vocabulary's synonyms only, without the ``reviewed`` field texts
        #: (one site's label, such as "Publication name" confirmed as unknown, names no key).
        self._names: dict[tuple[str, ...], set[str]] = {}
        plain: set[str] = set()
        one_part: dict[str, None] = {}  # the entries of one-part texts, in order (see _closed)
        for key, syn in pairs:
            written = normalize(syn)
            norm = self._without_fillers(written)
            self.table.setdefault(norm, set()).add(key)
            if PART_SEPARATOR not in syn:
                one_part.setdefault(norm)
            label = self.norm(syn.split(PART_SEPARATOR)[0]) if PART_SEPARATOR in syn else norm
            self._labels.setdefault(tuple(label.split()), set()).add(key)
            if syn not in reviewed:
                self._names.setdefault(tuple(label.split()), set()).add(key)
            as_written = written == norm
            if norm not in self.original or (as_written and norm not in plain):
                self.original[norm] = syn
                if as_written:
                    plain.add(norm)
        self._norms = list(self.table)
        #: Each entry by its words written together: a compound is spelt closed, open or
        #: hyphenated ("Postcode", "Post code"; "E-mail address", "Email address"; an
        #: identifier's "firstname"), one entry whichever way. Entries of different keys
        #: that close to the same letters name neither (None). A reviewed field text of
        #: several parts has none: its words join across attributes, not inside a word.
        self._closed: dict[str, str | None] = {}
        for norm in one_part:
            closed = norm.replace(" ", "")
            seen = self._closed.setdefault(closed, norm)
            if seen is not None and self.table[seen] != self.table[norm]:
                self._closed[closed] = None
        self._broader: dict[tuple[str, str, frozenset[str] | None, bool], bool] = {}
        self._takes_modifier: dict[tuple[str, str], bool] = {}

    def norm(self, text: str) -> str:
        """The text as the lexicon compares it: normalised, filler words dropped (unless
        nothing else is left)."""
        return self._without_fillers(normalize(text))

    def _without_fillers(self, normalized: str) -> str:
        words = normalized.split()
        return " ".join([w for w in words if w not in self.fillers] or words)

    def find(self, norm: str) -> str | None:
        """The entry that the normalised words ``norm`` are, as written or with their
        compounds spelt otherwise ("post code" is the entry "postcode"); None if none."""
        return norm if norm in self.table else self._closed.get(norm.replace(" ", ""))

    def _entry(self, norm: str) -> tuple[str | None, str]:
        """(key, synonym) of a normalised entry; key is None if it is ambiguous."""
        keys = self.table[norm]
        return (next(iter(keys)) if len(keys) == 1 else None), self.original[norm]

    def exact(self, text: str) -> tuple[str | None, str | None]:
        """(key, synonym) of the entry ``text`` is exactly (once normalised), else
        (None, None); a dictionary lookup, no fuzzy search. Key is None if it is ambiguous."""
        entry = self.find(self.norm(text))
        return (None, None) if entry is None else self._entry(entry)

    def unqualified(self, text: str) -> tuple[str, str, list[str]] | None:
        """(key, synonym, qualifiers) when ``text`` is not a synonym but is one once its
        qualifier words are left out ("Mailing address" is "Address", "Adresse de livraison"
        "Adresse", "Home phone" "Phone"); None otherwise, when nothing but qualifiers is
        left, or when what is left is ambiguous or a confirmed unknown. A qualifier inside a
        run of words that is itself a synonym stays ("Business name" is a company's name)."""
        words = self.norm(text).split()
        if self._qualifier_starts.isdisjoint(words):  # most labels: one set test per field
            return None
        kept = {i for a in range(len(words)) for b in range(a + 2, min(a + MAX_SYNONYM_WORDS,
                                                                      len(words)) + 1)
                if self.find(" ".join(words[a:b])) is not None for i in range(a, b)}
        dropped: dict[int, str] = {}  # by position: the evidence lists them in text order
        for q in self.qualifiers:
            n = len(q)
            for i in range(len(words) - n + 1):
                if tuple(words[i:i + n]) == q and not kept & set(range(i, i + n)):
                    dropped[i] = " ".join(q)
                    kept |= set(range(i, i + n))  # taken: a shorter qualifier cannot reuse it
                    words[i:i + n] = [""] * n
        rest = self.find(" ".join(w for w in words if w))
        if not dropped or rest is None:
            return None
        key, syn = self._entry(rest)
        return (key, syn, [dropped[i] for i in sorted(dropped)]) if key not in (None, UNKNOWN) else None

    def number(self, text: str) -> int | None:
        """The number 1-9 that ``text`` ends in, as a word of its own once fillers are left
        out ("Address 2", "Street address line 2 (optional)", "*Address1:"); else None."""
        words = self.norm(text).split()
        if len(words) < 2 or not words[-1].isdigit() or not 1 <= int(words[-1]) <= 9:
            return None
        return int(words[-1])

    def mention(self, text: str) -> tuple[str, str] | None:
        """(key, synonym) of the longest run of the text's words that is a synonym (at least
        ``MIN_MENTION`` characters): "Other City" mentions "City", "Billing Zip Code *"
        "Zip code". None when nothing is mentioned, or the longest mentions name different
        keys or the answer "unknown" ("City or Zip"), unless a broader word is all that
        names the other key ("Organization Name" mentions "Organization": "Name" lies in the
        company's "Company name"). Of two mentions of one key, the first in the text is
        reported."""
        words = self.norm(text).split()
        for length in range(len(words), 0, -1):
            runs = (" ".join(words[i:i + length]) for i in range(len(words) - length + 1))
            found = [self._entry(e) for e in (self.find(g) for g in runs if len(g) >= MIN_MENTION)
                     if e is not None]
            keys = {k for k, _ in found}
            if len(keys) > 1 and None not in keys and UNKNOWN not in keys:
                among = frozenset(str(k) for k in keys)
                found = [(k, syn) for k, syn in found if not self.broader(syn, str(k), among)]
                if not found:  # each lies in the other's entries: the longest runs say nothing
                    return None
            if found:
                keys = {k for k, _ in found}
                key, syn = found[0]
                return (key, syn) if len(keys) == 1 and key not in (None, UNKNOWN) else None
        return None

    def head(self, text: str) -> tuple[str, str, dict[str, str]] | None:
        """(key, synonym, what the words before it name) when ``text`` ends in a synonym
        after words of its own: the head of a compound identifier, whose other words
        qualify it (``tbCompanyAddress`` is an address, ``CompanyURL`` a URL,
        ``usuario_apellidos`` a surname, ``dest_address`` an address). The synonym is the
        longest run that ends the text; a text that is wholly an entry ("email address")
        has no head here (:meth:`exact` reads those), and neither has one that ends in a
        word whose modifier says whose it is (:meth:`takes_modifier`: a city's name is no
        person's name)."""
        words = self.norm(text).split()
        for start in range(max(0, len(words) - MAX_SYNONYM_WORDS), len(words)):
            written = " ".join(words[start:])
            run = self.find(written) if len(written) >= MIN_MENTION else None
            if run is None:
                continue
            key, syn = self._entry(run)
            if start == 0 or key is None or key == UNKNOWN or self.takes_modifier(run, key):
                return None
            return key, syn, self.mentioned(" ".join(words[:start]))
        return None

    def takes_modifier(self, run: str, key: str) -> bool:
        """Whether the words ``run`` (a synonym of ``key``) take the key of the words before
        them, as the entries of two or more other keys show: "First name", "User name" and
        "Company name" are the first name's, the user name's and the company's, so "City
        name" is the city's, not a ``full_name`` "Name". "Email address" alone does not make
        "Address" such a word. An entry whose first words name yet another key says nothing
        here (a reviewed "E-mail address" confirmed as a password)."""
        cached = self._takes_modifier.get((run, key))
        if cached is None:
            words = tuple(run.split())
            n = len(words)
            owners = {k for ew, keys in self._labels.items() if len(ew) > n and ew[-n:] == words
                      for k in keys - {key, UNKNOWN}
                      if set(self.mentioned(" ".join(ew[:-n]))) <= {k}}
            cached = self._takes_modifier[(run, key)] = len(owners) >= 2
        return cached

    def mentioned(self, text: str) -> dict[str, str]:
        """Every key that a run of the text's words names (at least ``MIN_MENTION``
        characters, an entry of one key), with the first such synonym; unlike
        :meth:`mention`, shorter runs count beside longer ones ("location search zip"
        names a city and a postal code)."""
        words = self.norm(text).split()
        found: dict[str, str] = {}
        for a in range(len(words)):
            for b in range(a + 1, min(a + MAX_SYNONYM_WORDS, len(words)) + 1):
                run = " ".join(words[a:b])
                entry = self.find(run) if len(run) >= MIN_MENTION else None
                if entry is not None:
                    key, syn = self._entry(entry)
                    if key not in (None, UNKNOWN):
                        found.setdefault(str(key), syn)
        return found

    def alternatives(self, label: str, or_words: Collection[str]) -> Offered:
        """The keys a label offers as alternatives, with the synonym naming each: its parts
        between ``/``, ``,``, ``;``, ``|`` and ``or_words`` ("Email/Username", "City, State,
        Zip", "Ville ou code postal") that :meth:`mention` one key, when two or more keys are
        named; else none. A label that names two keys in one run of words names one thing
        ("Adresse email", "E-mail address"), not alternatives. They are a choice where no
        ``,`` or ``;`` lies between two parts that name keys ("E-mail or username, please"), or only
        one that an or-word follows ("Email, or username")."""
        segments: list[tuple[str, bool]] = []  # (words, whether a list separator precedes)
        listed = False
        for n, piece in enumerate(_ALTERNATIVE_SEPARATORS.split(label)):
            if n % 2:  # a separator
                listed = piece in _LIST_SEPARATORS
                continue
            words = self.norm(piece).split()
            cuts = [-1, *(i for i, w in enumerate(words) if w in or_words), len(words)]
            segments += [(" ".join(words[a + 1:b]), listed and a < 0)
                         for a, b in itertools.pairwise(cuts)]
        if len(segments) < 2:  # most labels: nothing joins alternatives, no lookup at all
            return Offered({}, False)
        offered: dict[str, str] = {}
        either, between = True, False  # between: a list separator since the last named part
        for segment, after_list in segments:
            # an or-word right after the separator still offers a choice ("Email, or username")
            between = between or (after_list and bool(segment))
            found = self.mention(segment)
            if found is not None:
                either = either and not (offered and between)
                between = False
                offered.setdefault(*found)
        return Offered(offered, either) if len(offered) >= 2 else Offered({}, False)

    def broader(self, synonym: str, key: str, among: frozenset[str] | None = None, *,
                named: bool = False) -> bool:
        """Whether ``synonym`` (of ``key``) is a broader word: its words lie, in order, inside
        a longer entry of another key ("Name" in "User name" and "Company name", "Address" in
        "Email address"), so that an identifier saying it says little about which key.
        ``among``: only the entries of these keys count (which of them a word tells apart).
        ``named``: only the vocabulary's synonyms count, not the reviewed field texts."""
        cached = self._broader.get((synonym, key, among, named))
        if cached is None:
            words = tuple(self.norm(synonym).split())
            n = len(words)
            cached = any(len(ew) > n and key not in keys and (among is None or not among.isdisjoint(keys))
                         and any(ew[i:i + n] == words for i in range(len(ew) - n + 1))
                         for ew, keys in (self._names if named else self._labels).items())
            self._broader[(synonym, key, among, named)] = cached
        return cached

    def other_words(self, text: str, synonym: str) -> bool:
        """Whether ``text`` says more than ``synonym``: a word of its own, numbers and filler
        words aside ("Publication name" does, "Address 2:" and "Your name *" do not)."""
        return bool({w for w in self.norm(text).split() if not w.isdigit()}
                    - set(self.norm(synonym).split()))

    def shares_stem(self, text: str, synonym: str) -> bool:
        """Whether a word of ``text`` (``MIN_STEM`` letters or more, filler words left out)
        begins a word of ``synonym`` or is begun by one: the inflected and compound forms of
        the languages the hints file lists ("Beruf" / "Berufsbezeichnung", "Kotisivun" /
        "Kotisivu")."""
        ours = [w for w in self.norm(text).split() if len(w) >= MIN_STEM]
        theirs = [w for w in self.norm(synonym).split() if len(w) >= MIN_STEM]
        return any(a.startswith(b) or b.startswith(a) for a in ours for b in theirs)

    def similarity_counts(self, label: str, hit: KeyHit) -> bool:
        """Whether ``hit``'s similarity is evidence for a field with this label: always,
        unless its synonym is lexical-only and the label shares no word stem with it."""
        return not hit.lexical_only or self.shares_stem(label, hit.synonym)

    def best(self, text: str, *, leave_out: bool = False) -> tuple[str | None, float, str | None]:
        """(key, ratio, synonym) of the closest synonym; key is None if it is ambiguous.

        The ratio is the normalised Indel similarity (difflib's ratio, computed by
        rapidfuzz in C: the table can hold thousands of synonyms and feedback texts).
        ``leave_out`` ignores the text's own entry (leave-one-out calibration).
        """
        from rapidfuzz import fuzz, process

        norm = self.norm(text)
        if not norm:
            return None, 0.0, None
        entry = None if leave_out else self.find(norm)
        if entry is not None:
            key, syn = self._entry(entry)
            return key, 1.0, syn
        found = next((f for f in process.extract(norm, self._norms, scorer=fuzz.ratio, limit=2)
                      if f[0] != norm), None)
        if found is None:
            return None, 0.0, None
        key, syn = self._entry(found[0])
        return key, found[1] / 100.0, syn


class Matcher:
    """Classify fields against one :class:`Bundle` (pure apart from the encoder call)."""

    def __init__(self, bundle: Bundle, *, top_k: int = 5, assign: bool = True) -> None:
        self.bundle = bundle
        self.top_k = top_k
        self.assign = assign
        self.lexicon = Lexicon([(r.key, r.synonym) for r in bundle.index.records],
                               bundle.hints.fillers, bundle.hints.qualifiers,
                               frozenset(r.synonym for r in bundle.index.records if r.reviewed))

    # -- thresholds --------------------------------------------------------------
    def threshold_for(self, key: str, fld: Mapping[str, Any], text: str) -> tuple[float, list[str]]:
        t = self.bundle.thresholds.for_key(key)
        why: list[str] = []
        if fld.get("required") is True:
            t += REQUIRED_BONUS
            why.append("required")
        allowed = self.bundle.hints.keys_for_type(str(fld.get("type") or ""))
        if allowed is not None and key in allowed and len(allowed) <= STRONG_TYPE_KEYS:
            t += TYPE_AGREES
            why.append(f"type={fld.get('type')} agrees")
        if is_generic(main_text(fld) or text):
            t += GENERIC_PENALTY
            why.append("generic wording")
        return min(max(t, 0.0), 1.0), why

    # -- classify ----------------------------------------------------------------
    def texts(self, fields: Sequence[Mapping[str, Any]]) -> list[str]:
        mode = self.bundle.text_mode
        return [field_text(f, "precedence" if mode == "precedence" else "rich") for f in fields]

    def candidates(self, texts: list[str],
                   exclude: Sequence[int | None] | None = None,
                   keys: Sequence[frozenset[str] | None] | None = None) -> list[list[KeyHit]]:
        """Top keys per text from one batched encode + search (empty texts get none);
        ``exclude``: per text, an index record id to leave out; ``keys``: per text, the
        keys it may find (None: any)."""
        todo = [i for i, t in enumerate(texts) if t]
        out: list[list[KeyHit]] = [[] for _ in texts]
        if todo:
            vecs = self.bundle.encoder.encode([texts[i] for i in todo])
            skips = [exclude[i] for i in todo] if exclude is not None else None
            only = [keys[i] for i in todo] if keys is not None else None
            for i, hits in zip(todo, self.bundle.index.search(vecs, self.top_k, skips, only),
                               strict=True):
                out[i] = hits
        return out

    def admitted(self, fld: Mapping[str, Any]) -> frozenset[str] | None:
        """The keys the field's declared evidence admits (None: any)."""
        allowed = self.bundle.hints.admitted(fld, self.bundle.index.keys)
        return None if allowed is None else frozenset(allowed)

    def classify(self, fields: Sequence[Mapping[str, Any]],
                 form: Mapping[str, Any] | None = None) -> list[Decision]:
        """Decisions for the fields of one form (one request)."""
        return self.classify_many([(fields, form)])[0]

    def classify_many(self, requests: Sequence[tuple[Sequence[Mapping[str, Any]], Mapping[str, Any] | None]],
                      ) -> list[list[Decision]]:
        """Decisions for several independent forms, with one encode for all their fields."""
        texts = [self.texts(fields) for fields, _ in requests]
        admitted = [self.admitted(f) for fields, _ in requests for f in fields]
        flat = self.candidates([t for ts in texts for t in ts], keys=admitted)
        out, pos = [], 0
        for (fields, form), ts in zip(requests, texts, strict=True):
            end = pos + len(ts)
            out.append(self._classify_form(fields, form, ts, flat[pos:end], admitted[pos:end]))
            pos = end
        return out

    def _classify_form(self, fields: Sequence[Mapping[str, Any]], form: Mapping[str, Any] | None,
                       texts: list[str], all_hits: list[list[KeyHit]],
                       admitted: list[frozenset[str] | None]) -> list[Decision]:
        hints = self.bundle.hints
        form = dict(form or {})
        # A page may hold several forms (login beside sign-up, each with its email field):
        # its kind is the client's word only, and keys are not assigned one per field.
        page = form.get("scope") == "page"
        kind = hints.infer_form_kind({"kind": form.get("kind")} if page else form,
                                     [] if page else [dict(f) for f in fields])
        decisions = [self._decide(f, t, h, kind, a)
                     for f, t, h, a in zip(fields, texts, all_hits, admitted, strict=True)]
        if hints.numbered:
            numbers = [self._number(f, d.key, hints.numbered) for f, d in zip(fields, decisions)]
            apply_numbers(decisions, hints.numbered, numbers, admitted)
        if hints.needs_words:
            said = request_text(fields, form)
            apply_needed_words(decisions, hints, said)
            if hints.date_parts:
                firsts = [first_attribute(f) for f in fields]  # what date parts read
                apply_date_parts(decisions, firsts, hints, self.bundle.index.keys, said, admitted)
        apply_sibling_rules(decisions, hints.sibling_rules, self.bundle.index.keys, admitted)
        apply_alternatives(decisions, hints.repeatable)
        if self.bundle.rejected:
            apply_rejections(decisions, self.bundle.rejected)
        if self.assign and not page:
            assign_jointly(decisions, hints.repeatable)
        return decisions

    def _decide(self, fld: Mapping[str, Any], text: str, all_hits: list[KeyHit],
                form_kind: str | None, allowed: frozenset[str] | None) -> Decision:
        """One field's decision; ``allowed``: the keys its declared evidence admits."""
        selector = fld.get("selector")
        sel = str(selector) if selector is not None else None
        ftype = str(fld.get("type") or "")
        # ``all_hits`` come from a search restricted to ``allowed`` (see :meth:`candidates`);
        # known-unknown examples always compete.
        nearest_unknown = all_hits[0] if all_hits and all_hits[0].key == UNKNOWN else None
        hits = [h for h in all_hits if h.key != UNKNOWN]
        runner = {"key": hits[1].key, "score": hits[1].score} if len(hits) > 1 else None
        margin = hits[0].score - hits[1].score if len(hits) > 1 else (hits[0].score if hits else 0.0)
        keys = set(self.bundle.index.keys)

        rule_key = self._form_rule(fld, form_kind)
        if rule_key in keys:
            return Decision(sel, text, rule_key, 1.0, 0.0, margin, None, "form_rule", True, runner,
                            [f"form kind {form_kind}: {fld.get('type')} field is {rule_key}"], hits)
        declared = self.bundle.hints.autocomplete_token(str(fld.get("autocomplete") or ""))
        if declared is not None:
            token, declared_key = declared
            if declared_key is None:  # the page says what else it is
                return Decision(sel, text, None, 0.0, 0.0, 0.0, None, "autocomplete", False, None,
                                [f"autocomplete={fld.get('autocomplete')}: {token!r} names "
                                 "none of the keys"], hits)
            if declared_key in keys:
                return Decision(sel, text, declared_key, 1.0, 0.0, margin, None, "autocomplete",
                                True, runner, [f"autocomplete={fld.get('autocomplete')}"], hits)
        type_key = self.bundle.hints.type_means.get(ftype.lower())
        if type_key in keys:
            return Decision(sel, text, type_key, 1.0, 0.0, margin, None, "type", True, runner,
                            [f"type={ftype} means {type_key}"], hits)
        by_options = self.bundle.hints.options_key(fld.get("options"))
        if by_options is not None and by_options[0] in keys and (allowed is None or by_options[0] in allowed):
            return Decision(sel, text, by_options[0], by_options[1], 0.0, margin, None, "options", True,
                            runner, [f"{by_options[1]:.0%} of the options are {by_options[0]} values"],
                            hits)
        if not text:
            return Decision(sel, text, None, 0.0, 0.0, 0.0, None, "no_text", False, None, [], hits)
        if allowed is not None and not allowed:
            return Decision(sel, text, None, 0.0, 0.0, 0.0, None, "type", False, None,
                            [f"type={ftype} inputmode={fld.get('inputmode')} pattern="
                             f"{fld.get('pattern')} maxlength={fld.get('maxlength')} admit none "
                             "of the keys"], hits)
        label = main_text(fld) or text
        reviewed = self._reviewed(text, allowed)
        if reviewed is not None:
            key, syn = reviewed
            return Decision(sel, text, key, 1.0, 1.0, margin, syn,
                            "lexical" if key is not None else "known_unknown", key is not None,
                            runner, ["the field's whole text is a reviewed field's text"], hits)
        lex_key, ratio, lex_syn = self.lexicon.best(label)
        if (lex_key is not None and ratio >= self.bundle.thresholds.lexical
                and (allowed is None or lex_key in allowed or lex_key == UNKNOWN)):
            if lex_key == UNKNOWN:
                return Decision(sel, text, None, ratio, self.bundle.thresholds.lexical, margin,
                                lex_syn, "known_unknown", False, runner,
                                [f"lexical ratio {ratio:.2f} to a confirmed unknown"], hits)
            return Decision(sel, text, lex_key, ratio, self.bundle.thresholds.lexical, margin,
                            lex_syn, "lexical", True, runner, [f"lexical ratio {ratio:.2f}"], hits)
        qualified = self.lexicon.unqualified(label)
        if qualified is not None and (allowed is None or qualified[0] in allowed):
            q_key, q_syn, dropped = qualified
            return Decision(sel, text, q_key, 1.0, self.bundle.thresholds.lexical, margin, q_syn,
                            "lexical", True, runner,
                            [f"the label is the synonym {q_syn!r} of {q_key} once the "
                             f"qualifier{'s' if len(dropped) > 1 else ''} "
                             f"{', '.join(repr(q) for q in dropped)} "
                             f"{'are' if len(dropped) > 1 else 'is'} left out"], hits)
        visible = has_visible_text(fld)  # a label or placeholder, not identifiers only
        if visible and self.bundle.hints.or_words:
            offer = self._offered(label, text, allowed)
            if offer is not None:
                offer_key, offer_syn, offer_why, offered, listed = offer
                return Decision(sel, text, offer_key, 1.0 if offer_key else 0.0, 1.0, margin,
                                offer_syn, "lexical" if offer_key else "ambiguous",
                                offer_key is not None, runner, [offer_why], hits,
                                [] if offer_key else list(offered.keys),
                                offer_key is None and offered.either, listed)
        whole = self._whole_named(label, allowed) if visible else None
        if whole is not None:
            whole_key, parts = whole
            return Decision(sel, text, whole_key, 1.0, 1.0, margin, None, "lexical", True, runner,
                            [f"the label names {' and '.join(parts)}: together {whole_key}"],
                            hits)
        named = self._part_key(fld, text, allowed)
        if named is not None:
            part_key, part, syn, shown = named
            if not shown and visible:
                # What the page shows outranks what a developer named the field: a label
                # the encoder reads as another key, naming none of the identifier's, beats an
                # identifier's synonym ("Correio electrónico" with ``name="name"``; not "Your
                # email address is your username" with ``name="email_address"``), and an
                # identifier that is a broader
                # word (Drupal's username input is ``name="name"``) decides nothing against
                # a label that does not read as its key ("Nome de usuario/a").
                nearest = self._nearest(fld, sel, text, label, hits, runner, margin,
                                        nearest_unknown)
                broader = self.lexicon.broader(syn, part_key, named=True)
                reads_other = (nearest.reason == "semantic"
                               and part_key not in self.lexicon.mentioned(label))
                if nearest.key != part_key and (reads_other or broader):
                    nearest.evidence.append(
                        f"the identifier {part!r} is the synonym {syn!r} of {part_key}"
                        + (", a broader word (other keys' synonyms hold it)," if broader else ",")
                        + " but the visible text "
                        + (f"reads as {nearest.key}" if nearest.reason == "semantic"
                           else f"does not read as {part_key}"))
                    return nearest
            return Decision(sel, text, part_key, 1.0, 1.0, margin, syn, "lexical", True, runner,
                            [f"another attribute ({part!r}) is the synonym {syn!r} of {part_key}"],
                            hits)
        headed = None if visible else self._identifier_head(text, allowed)
        if headed is not None:
            head_key, part, syn, before = headed
            qualifiers = (f"; the words before it ({', '.join(repr(b) for b in before.values())}) "
                          "qualify it" if before else "")
            return Decision(sel, text, head_key, 1.0, 1.0, margin, syn, "lexical", True, runner,
                            [f"the identifier {part!r} ends in {syn!r}, a synonym of "
                             f"{head_key}{qualifiers}"], hits)
        return self._nearest(fld, sel, text, label, hits, runner, margin, nearest_unknown)

    def _nearest(self, fld: Mapping[str, Any], sel: str | None, text: str, label: str,
                 hits: list[KeyHit], runner: dict[str, Any] | None, margin: float,
                 nearest_unknown: KeyHit | None) -> Decision:
        """The decision of the field's nearest vectors (``hits``, best first): the semantic
        step, and the mention step for a best key under its threshold."""
        ftype = str(fld.get("type") or "")
        visible = has_visible_text(fld)
        # Every step before this reads the field's words; this one, its nearest vectors. A
        # confirmed unknown among them says "none of the keys", unless the words said one.
        if nearest_unknown is not None:
            return Decision(sel, text, None, nearest_unknown.score, 0.0, margin,
                            nearest_unknown.synonym, "known_unknown", False, runner,
                            [f"nearest example is a confirmed unknown ({nearest_unknown.score:.2f})"],
                            hits)
        if not hits:
            return Decision(sel, text, None, 0.0, 0.0, 0.0, None, "below_threshold", False)
        # The best key by score, moved only by the field's own evidence (required, type,
        # wording); the calibrated per-key thresholds decide acceptance, not the ranking:
        # a key with a low threshold must not outrank a closer key.
        scored = []
        for h in hits:
            t, why = self.threshold_for(h.key, fld, text)
            scored.append((h.score - (t - self.bundle.thresholds.for_key(h.key)), h, t, why))
        scored.sort(key=lambda s: -s[0])
        _, top, threshold, why = scored[0]
        accepted = top.score >= threshold
        reason = "semantic" if accepted else "below_threshold"
        # Similarity and mentions do not overrule the declared type: a text input near
        # "Password" ("Password hint", "Recovery word") is no password input.
        forbidden = self.bundle.hints.type_forbids(top.key, ftype)
        if forbidden:
            needs = " or ".join(sorted(self.bundle.hints.needs_types[top.key]))
            why = [f"{top.key} needs type={needs} unless the field's words name it; "
                   f"type={ftype}", *why]
            if accepted:
                accepted, reason = False, "type"
        if accepted and not self.lexicon.similarity_counts(label, top):
            # A synonym the encoder was never trained on counts by its words only: as a
            # field's nearest neighbour it was right 4 of 12 times on the forms loop's
            # fold B, 8 of 12 on its calibration texts (docs/quality.md).
            accepted, reason = False, "lexical_only"
            why = [f"the nearest synonym {top.synonym!r} is lexical-only: it counts when the "
                   "label says it, mentions it or shares a word stem with it", *why]
        if accepted and visible:
            contradiction = self.contradiction(label, top.key, top.synonym)
            if contradiction is not None:
                accepted, reason = False, "contradicted"
                why = [contradiction, *why]
        elif not accepted:
            # Two weaker signals that agree: the label mentions one of the key's synonyms
            # and the key is the semantic step's best one, though under its threshold (or
            # found through a lexical-only synonym). A label that mentions no one key leaves
            # it to the other attributes ("Join our mailing list" with name="newsletter_email")
            # when those that mention a key agree; a broader word there counts for nothing
            # (``name="suggest_name"``), unless it ends a compound and takes no modifier
            # (``name="dest_address"``: "Address" lies in "Email address" alone; "Name"
            # takes the key of the words before it, :meth:`Lexicon.takes_modifier`).
            # A field with no label or placeholder has only identifiers: they mention a
            # key by a narrow word only, as the other attributes below do ("user" in
            # ``name="user_screen_resolution"`` is a broader word: "User email", "User name").
            # A synonym that only names a part of a date (a reviewed "Month") is no mention:
            # which date a "month" is, the date-part step reads from the whole request.
            mention = self.lexicon.mention(label) if visible else self._narrow_mention(label)
            where, says = ("the label" if visible else repr(label)), "mentions"
            if (visible and mention is not None and mention[0] == top.key
                    and self.lexicon.broader(mention[1], top.key, named=True)
                    and self.lexicon.other_words(label, mention[1])):
                # A word that the vocabulary's names of other keys hold ("Name" in "User name",
                # "Company name"), qualified by the label's other words, says no more than
                # the semantic step under its threshold: "Publication name", "Name your filter".
                why = [f"the label mentions {mention[1]!r}, a synonym of {top.key}, but a broader "
                       "word (other keys' synonyms hold it) that its other words qualify", *why]
                mention = None
            if mention is None:
                by_parts = self._named_by_parts(text, self._narrow_mention)
                if not by_parts:  # a compound identifier is written head last
                    by_parts = self._named_by_parts(text, self._head_word)
                    says = "ends in"
                if list(by_parts) == [top.key]:
                    part, syn = by_parts[top.key]
                    where, mention = repr(part), (top.key, syn)
            if (mention is not None and mention[0] == top.key
                    and self.bundle.hints.date_part_named(normalize(mention[1])) is None):
                if forbidden:
                    return Decision(sel, text, top.key, top.score, threshold, margin, mention[1],
                                    "type", False, runner,
                                    [f"{where} {says} {mention[1]!r}, a synonym of {top.key}",
                                     *why], hits)
                return Decision(sel, text, top.key, top.score, threshold, margin, mention[1],
                                "mention", True, runner,
                                [f"{where} {says} {mention[1]!r}, a synonym of {top.key}, the "
                                 f"semantic step's best key ({top.score:.2f}, threshold "
                                 f"{threshold:.2f})", *why], hits)
        return Decision(sel, text, top.key, top.score, threshold, margin, top.synonym,
                        reason, accepted, runner, ["semantic", *why], hits)

    def _reviewed(self, text: str, allowed: Collection[str] | None,
                  ) -> tuple[str | None, str] | None:
        """(key, reviewed text) when the field's whole text (label and other attributes)
        is a reviewed field's text, its key admitted; key None for a confirmed unknown. A
        person's answer for this very field outranks what its label alone says ("Organisation |
        org login" confirmed as the username beats the label "Organisation")."""
        if PART_SEPARATOR not in text:
            return None
        key, syn = self.lexicon.exact(text)
        if key is None or syn is None or PART_SEPARATOR not in syn:
            return None
        if key == UNKNOWN:
            return None, syn
        return (key, syn) if allowed is None or key in allowed else None

    def _offered(self, label: str, text: str, allowed: Collection[str] | None,
                 ) -> tuple[str | None, str | None, str, Offered, list[str]] | None:
        """(key, synonym, evidence, what is offered, the parts it lists) for a label that
        offers alternatives ("Email/Username", "City or Zip"): the one offered key that the
        field's declared evidence admits or that its other attributes (placeholder, ``name``,
        ``id``) name by a word that tells the offered keys apart (``name="location_search_zip"``;
        ``name="nom"`` under "Nom, prénom" says no more than the label); else the key whose
        parts they are (the hints file's ``composites``: "Nom, prénom" is a full name), or
        that a list of them asks for (``listed_parts``: "City, State, Zip" is an address,
        made of the parts listed); key None when nothing says which (the field abstains:
        filling one of them would be a guess). None for any other label."""
        offer = self.lexicon.alternatives(label, self.bundle.hints.or_words)
        names = " or ".join(sorted(offer.keys))
        offered = {k: v for k, v in offer.keys.items() if allowed is None or k in allowed}
        if not offered:
            return None
        on_offer = Offered(offered, offer.either)  # the admitted ones, in the label's order
        if len(offered) == 1:
            key, syn = next(iter(offered.items()))
            return key, syn, (f"the label offers {names}; the field's declared evidence "
                              f"admits only {key}"), on_offer, []
        # A word picks one of them only if it tells them apart: "name" lies in "Business
        # name" (company) and "nom" in "Nom et prénom" (full name, the parts' whole).
        wholes = {k for k, parts in self.bundle.hints.composites.items() if offered.keys() <= parts | {k}}
        among = frozenset(offered) | wholes
        picked: dict[str, tuple[str, str]] = {}
        for part in text.split(PART_SEPARATOR)[1:]:
            for key, syn in self.lexicon.mentioned(part).items():
                if key in offered and not self.lexicon.broader(syn, key, among):
                    picked.setdefault(key, (part, syn))
        if len(picked) == 1:
            key, (part, syn) = next(iter(picked.items()))
            return key, syn, (f"the label offers {names}; {part!r} mentions {syn!r}, a "
                              f"synonym of {key}"), on_offer, []
        # A list of parts ("City, State, Zip") may also ask for a key the parts are listed
        # for (``listed_parts``: an address); a choice ("City or Zip") asks for one of them.
        listed = [] if offer.either else sorted(
            k for k, parts in self.bundle.hints.listed_parts.items() if offered.keys() <= parts)
        whole = next((k for k in [*sorted(wholes), *listed]
                      if k in self.bundle.index.keys and (allowed is None or k in allowed)), None)
        if whole is not None:
            return (whole, None, f"the label offers {names}: together, {whole}", on_offer,
                    [] if whole in wholes else list(offered))
        return (None, None, f"the label offers {names} and no other attribute says which",
                on_offer, [])

    def _whole_named(self, label: str, allowed: Collection[str] | None,
                     ) -> tuple[str, list[str]] | None:
        """(key, parts) where the label names two or more parts of a key the hints file
        declares as their whole (``composites``): "First and last name", "Фамилия Имя
        Отчество", "Your first name and last name" ask for the full name, whatever a
        ``name="first_name"`` or ``name="user_name"`` says. None otherwise."""
        composites = self.bundle.hints.composites
        if not composites:  # no hints file (the titles): no word lookup per field
            return None
        mentioned = self.lexicon.mentioned(label).keys()
        for whole, parts in sorted(composites.items()):
            named = sorted(parts & mentioned)
            if (len(named) >= 2 and whole in self.bundle.index.keys
                    and (allowed is None or whole in allowed)):
                return whole, named
        return None

    def _part_key(self, fld: Mapping[str, Any], text: str, allowed: Collection[str] | None,
                  ) -> tuple[str, str, str, bool] | None:
        """(key, attribute text, synonym, whether the page shows it) when the field's other
        attributes (placeholder, name, id) name a key exactly and the field admits it; else
        None. A placeholder shown under a label outranks identifiers ("请输入邮箱：" with the
        placeholder "Email Address" and ``name="username"``); identifiers count when those
        that name a key agree on it. Exact matches only: this step is not calibrated."""
        def admitted(key: str | None) -> bool:
            return key not in (None, UNKNOWN) and (allowed is None or key in allowed)

        placeholder = str(fld.get("placeholder") or "").strip()
        if placeholder and str(fld.get("label") or "").strip():
            key, syn = self.lexicon.exact(placeholder)
            if admitted(key) and syn is not None:
                return str(key), placeholder, syn, True
        found = self._named_by_parts(text, self.lexicon.exact)
        if len(found) != 1:
            return None
        key, (part, syn) = next(iter(found.items()))
        return (key, part, syn, False) if admitted(key) else None

    def _number(self, fld: Mapping[str, Any], key: str | None,
                numbered: Sequence[Sequence[str]]) -> tuple[int, str] | None:
        """(number, attribute as written) for the number the field's first attribute ends
        in (:meth:`Lexicon.number`); where it ends in none, for the number of a later
        attribute whose words name a key of ``key``'s series: the attribute that says which
        address it is says which line too ("Suite / Apt #" with ``name="shipping_address2"``)."""
        written = written_attributes(fld)
        n = self.lexicon.number(written[0]) if written else None
        if n is not None:
            return n, written[0]
        series = next((s for s in numbered if key in s), None)
        if series is None:
            return None
        return next(((m, raw) for raw in written[1:] if (m := self.lexicon.number(raw)) is not None
                     and not set(series).isdisjoint(self.lexicon.mentioned(raw))), None)

    def _identifier_head(self, text: str, allowed: Collection[str] | None,
                         ) -> tuple[str, str, str, dict[str, str]] | None:
        """(key, identifier, synonym, what the words before it name) for a field that has
        only identifiers, when those with a :meth:`Lexicon.head` agree on its key
        and the field admits it. An identifier is a developer's compound, written head last
        in the camelCase or snake_case of English (``tbCompanyAddress``,
        ``billing_address_city``, ``ddlState``): the semantic step reads "company" in it as
        much as "address", and a confirmed unknown near its other words ("ddl model") says
        nothing against its head."""
        found: dict[str, tuple[str, str, dict[str, str]]] = {}
        for part in text.split(PART_SEPARATOR):
            headed = self._head(part)
            if headed is not None:
                found.setdefault(headed[0], (part, *headed[1:]))
        if len(found) != 1:
            return None
        key, (part, syn, before) = next(iter(found.items()))
        return (key, part, syn, before) if allowed is None or key in allowed else None

    @staticmethod
    def _named_by_parts(text: str, find: Callable[[str], tuple[str | None, str | None] | None],
                        ) -> dict[str, tuple[str, str]]:
        """Per key that ``find`` names in the field's other attributes (placeholder, name,
        id: the parts of ``text`` after the first), the first such attribute and synonym."""
        found: dict[str, tuple[str, str]] = {}
        for part in text.split(PART_SEPARATOR)[1:]:
            key, syn = find(part) or (None, None)
            if key is not None and syn is not None:
                found.setdefault(key, (part, syn))
        return found

    def contradiction(self, label: str, key: str, synonym: str | None = None) -> str | None:
        """Why the label contradicts the semantic step's ``key``, or None (always None unless
        the hints file turns ``contradictions`` on): the label names other keys by their
        synonyms and none of ``key``'s ("First name of the company owner" nearest to
        `company`). Two signals that disagree are no match: the mirror of the mention step.
        No contradiction: a word that lies inside one of ``key``'s own entries ("Name" in
        "Name of your employer", `company`: "Company name"); a part of the whole that ``key``
        is (``composites``: "First and last name" names the last name, a part of
        `full_name`); a mention that shares a word stem with ``synonym``, the entry the
        semantic step matched, whose evidence that word is ("Junior software developer in
        banking" names "Junior software developer" and matched "Software developer in
        banking")."""
        if not self.bundle.hints.contradictions:
            return None
        said = self.lexicon.mentioned(label)
        if not said or key in said:
            return None
        parts = self.bundle.hints.composites.get(key, frozenset())
        other = {k: syn for k, syn in said.items()
                 if k not in parts and not self.lexicon.broader(syn, k, frozenset({key}))
                 and not (synonym and self.lexicon.shares_stem(syn, synonym))}
        if not other:
            return None
        named = ", ".join(f"{syn!r} ({k})" for k, syn in other.items())
        return f"the label names {named}, not {key}: the semantic step's key is contradicted"

    def _head(self, text: str) -> tuple[str, str, dict[str, str]] | None:
        """:meth:`Lexicon.head` of ``text``, unless it offers alternatives: a list ("City,
        Country", ``city_or_zip``) has no head."""
        if self.lexicon.alternatives(text, self.bundle.hints.or_words).keys:
            return None
        return self.lexicon.head(text)

    def _head_word(self, text: str) -> tuple[str, str] | None:
        """(key, synonym) of :meth:`_head`: even a broader word, unless it takes a modifier."""
        found = self._head(text)
        return None if found is None else (found[0], found[1])

    def _narrow_mention(self, text: str) -> tuple[str, str] | None:
        """:meth:`Lexicon.mention` of ``text``, unless the synonym is a broader word."""
        found = self.lexicon.mention(text)
        return None if found is None or self.lexicon.broader(found[1], found[0]) else found

    def _form_rule(self, fld: Mapping[str, Any], form_kind: str | None) -> str | None:
        if form_kind is None:
            return None
        ftype = str(fld.get("type") or "").lower()
        ftext = normalize(main_text(fld))
        for rule in self.bundle.hints.context_rules:
            if rule.get("form_kind") != form_kind:
                continue
            if "field_type" in rule and rule["field_type"] != ftype:
                if not ("text_contains" in rule and rule["text_contains"] in ftext):
                    continue
            elif "text_contains" in rule and rule["text_contains"] not in ftext:
                continue
            return rule["key"]
        return None


def revise(d: Decision, key: str, reason: str, why: str) -> None:
    """Give ``d`` another key by a form-level step: the words' key becomes the runner-up
    and ``why`` is added to the evidence."""
    if d.key is not None:
        d.runner_up = {"key": d.key, "score": d.score}
    d.evidence.append(why)
    d.key, d.reason, d.listed = key, reason, []


def apply_numbers(decisions: list[Decision], numbered: Sequence[Sequence[str]],
                  numbers: Sequence[tuple[int, str] | None],
                  admitted: Sequence[frozenset[str] | None] | None = None) -> None:
    """A key of a numbered series (the hints file's ``numbered``: address lines 1 and 2)
    becomes the series' n-th key where the field's label ends in the number n: "Address 2",
    "Street Address Line 2" are the second line though their words are the first line's.
    Only keys the field's words decided (lexical, semantic, mention) change, only to a key
    the field's declared evidence admits; a number past the series' end changes nothing.
    ``numbers``: per decision, the number and the attribute as written that ends in it
    (:meth:`Matcher._number`: the label, else the placeholder, ``name`` or ``id``;
    ``name="Address2"`` says 2 too)."""
    for i, (d, numbered_by) in enumerate(zip(decisions, numbers, strict=True)):
        if numbered_by is None or not d.accepted or d.reason not in FREE_REASONS:
            continue
        n, written = numbered_by
        series = next((s for s in numbered if d.key in s), None)
        if series is None or n > len(series) or series[n - 1] == d.key:
            continue
        allowed = admitted[i] if admitted is not None else None
        if allowed is not None and series[n - 1] not in allowed:
            continue
        revise(d, series[n - 1], "number",
               f"{written!r} ends in {n}: {series[n - 1]} is number {n} of {', '.join(series)}")


def apply_needed_words(decisions: list[Decision], hints: Hints, said: str) -> None:
    """Withdraw keys that the hints file's ``needs_words`` tie to words the request does
    not say: a "Day" or "Year" field is a birth date only where a field or the form
    mentions birth (on the forms dev pages, every date-of-birth field has such a word on
    its page). Only keys the field's words decided (lexical, semantic, mention) are
    withdrawn; ``said`` is :func:`~semindex.text.request_text` of the request."""
    for d in decisions:
        if not d.accepted or d.reason not in FREE_REASONS or d.key is None:
            continue
        missing = hints.missing_words(d.key, said)
        if missing:
            d.accepted, d.reason = False, "missing_context"
            d.evidence.append(f"{d.key} needs a word such as {', '.join(repr(w) for w in missing[:3])} "
                              "in the field or its form; the request says none")


def apply_date_parts(decisions: list[Decision], words: Sequence[str], hints: Hints,
                     keys: Collection[str], said: str,
                     admitted: Sequence[frozenset[str] | None] | None = None) -> None:
    """A field whose words name one part of a date and nothing else ("Day", "MM", "aaaa",
    "Año": the hints file's ``date_parts``) is the date key that the request calls for: the
    one key that a ``type=date`` field can be (the hints file's ``types``) whose
    ``needs_words`` the request says ("birth", "dob", "Geburt"). A birth date asked for as
    three selects is three such fields; on the forms dev pages each of the 26 fields that
    name only a date part on a page that mentions birth is one. Declared evidence stands,
    and so does a confirmed unknown that is the field's own text (one
    that is only its nearest example does not: "Day of arrival" confirmed as none of the keys
    says nothing of "Day"); ``words``: per field, its first attribute."""
    dated = [k for k in hints.types.get("date", ()) if k in keys and hints.needs_words.get(k)
             and not hints.missing_words(k, said)]
    if len(dated) != 1:
        return
    key, need = dated[0], hints.needs_words[dated[0]]
    word = next(w for w in need if says_one_of(said, (w,)))
    for i, (d, text) in enumerate(zip(decisions, words, strict=True)):
        if (d.reason not in (*FREE_REASONS, "below_threshold", "lexical_only", "known_unknown")
                or (d.reason == "known_unknown" and d.score >= SAME_TEXT)
                or (d.accepted and d.key == key)):
            continue
        allowed = admitted[i] if admitted is not None else None
        part = hints.date_part_named(normalize(text), need)
        if part is None or (allowed is not None and key not in allowed):
            continue
        revise(d, key, "date_part", f"the field names the {part} of a date and the request "
               f"says {word!r}: the {part} of {key}")
        d.accepted = True


def apply_sibling_rules(decisions: list[Decision], rules: Sequence[SiblingRule],
                        keys: Collection[str],
                        admitted: Sequence[frozenset[str] | None] | None = None) -> None:
    """Re-read keys by the other fields of the request, as the hints file declares:
    "Name" beside a last-name field is the first name, "Nome" in a form without one the
    full name, "Name" beside a password field with no email, user-name or phone field the
    login name. Only keys the field's words decided (lexical, semantic, mention) change, only
    to a key the version has and the field's declared evidence admits (``admitted``, per
    field; None: any), not where the field's text says one of the rule's ``unless`` words
    ("First name" stays a first name beside no last name), and only in a request of two
    fields or more (a lone field says nothing of its form). The siblings are the other
    fields' decisions before any rule, so the order of fields does not matter; the rules
    apply in the file's order, each to the key the one before left ("Имя" without a last
    name is the full name, and that beside a lone password field the login name)."""
    if len(decisions) < 2 or not rules:
        return
    decided = [d.key if d.accepted else None for d in decisions]
    for i, d in enumerate(decisions):
        if not d.accepted or d.reason not in FREE_REASONS or d.key is None:
            continue
        others = decided[:i] + decided[i + 1:]
        allowed = admitted[i] if admitted is not None else None
        key, why = d.key, []
        for rule in rules:
            if (rule.key == key and rule.becomes in keys
                    and (allowed is None or rule.becomes in allowed)
                    and rule.holds(others) and not rule.kept_by(normalize(d.text))):
                key = rule.becomes
                why.append(rule.describe())
        if key != d.key:
            revise(d, key, "sibling", "; then ".join(why))


def apply_rejections(decisions: list[Decision], rejected: Collection[tuple[str, str]]) -> None:
    """Withdraw a key that a person rejected for the field's very text (``rejected``:
    normalised text and key, the version's reviewed rejections): "not company" for a field
    stays "not company" though nobody said what it is. Only keys the field's words decided
    (and the steps that re-read them, the alternative other fields leave included) are
    withdrawn, never declared evidence."""
    for d in decisions:
        if (d.accepted and d.key is not None
                and d.reason in (*FREE_REASONS, *REREAD_REASONS, "assignment")
                and (normalize(d.text), d.key) in rejected):
            d.accepted, d.reason = False, "rejected"
            d.evidence.append(f"a person rejected {d.key} for this field's text")


def apply_alternatives(decisions: list[Decision], repeatable: Collection[str]) -> None:
    """A label that offers alternatives with nothing to choose among them (reason
    ``ambiguous``) asks for the one offered key that no other field of the request holds:
    beside an email field, "Email/Username" is the user name; beside a city field, "PSČ /
    Mesto" is the postal code. A sibling reading, like the sibling rules, so it holds on a
    page as in a form: a form asks for a thing once, so the keys other accepted fields
    hold are used up, except repeatable ones. Only where exactly one offered key is left,
    and no other such field is left with that same key."""
    pending = [i for i, d in enumerate(decisions) if d.reason == "ambiguous" and not d.accepted]
    if not pending:  # most requests: no label offered alternatives
        return
    held = {d.key for d in decisions if d.accepted and d.key is not None}
    left: dict[int, str] = {}
    for i in pending:
        free = [k for k in decisions[i].alternatives if k in repeatable or k not in held]
        if len(free) == 1:
            left[i] = free[0]
    claims = Counter(left.values())
    for i, key in left.items():
        if claims[key] > 1 and key not in repeatable:
            continue
        d = decisions[i]
        taken = [k for k in d.alternatives if k != key]
        revise(d, key, "assignment",
               f"{', '.join(taken)} {'is' if len(taken) == 1 else 'are'} another field's: "
               f"the label's one alternative left is {key}")
        d.accepted, d.score, d.alternatives, d.either = True, 1.0, [], False


def assign_jointly(decisions: list[Decision], repeatable: frozenset[str] | set[str]) -> None:
    """Give each non-repeatable key to at most one field, maximising the total margin.

    Solved as an assignment problem (Hungarian algorithm) over the accepted fields and
    every key they could take (score above that key's threshold), not first-come: a field
    that loses its first choice falls back to its next acceptable key or abstains.
    Decisions from declared evidence (autocomplete, form rules) are fixed; a field whose
    label lists a key's parts (:attr:`Decision.listed`) takes part in none of it.
    """
    from scipy.optimize import linear_sum_assignment

    free = (*FREE_REASONS, "sibling", "number")
    # A field whose label lists a key's parts ("City, State, Zip": the address) holds
    # those parts, not what a field named by the key holds ("Address"): neither takes it.
    open_rows = [i for i, d in enumerate(decisions) if d.accepted and d.reason in free and not d.listed]
    fixed = {d.key for d in decisions if d.accepted and d.reason not in free}
    contested: dict[str | None, list[int]] = {}
    for i in open_rows:
        contested.setdefault(decisions[i].key, []).append(i)
    if all(len(v) == 1 and k not in fixed for k, v in contested.items()) or not open_rows:
        return
    options: dict[int, dict[str, tuple[float, KeyHit | None]]] = {}
    for i in open_rows:
        d = decisions[i]
        # The field's own key wins ties: an alternative must make the total strictly better.
        own = d.score - d.threshold + 1.0 + OWN_KEY_TIE_BREAK
        opts: dict[str, tuple[float, KeyHit | None]] = {str(d.key): (own, None)}
        for h in d.candidates:
            if h.key != d.key and h.score >= d.threshold and not h.lexical_only:
                opts.setdefault(h.key, (h.score - d.threshold + 1.0, h))
        options[i] = {k: v for k, v in opts.items() if k not in fixed or k in repeatable}
    columns: list[str] = []
    for key in sorted({k for o in options.values() for k in o}):
        columns += [key] * (len(open_rows) if key in repeatable else 1)
    gain = np.zeros((len(open_rows), len(columns)))
    for r, i in enumerate(open_rows):
        for c, key in enumerate(columns):
            gain[r, c] = options[i].get(key, (-1e6, None))[0]
    rows, cols = linear_sum_assignment(-gain) if columns else ([], [])
    chosen = {open_rows[r]: columns[c] for r, c in zip(rows, cols, strict=True) if gain[r, c] > 0}
    for i in open_rows:
        d = decisions[i]
        choice = chosen.get(i)
        if choice == d.key:
            continue
        if choice is None:
            d.accepted = False
            d.reason = "assignment"
            d.evidence.append(f"{d.key} went to a field with stronger evidence")
            continue
        key = choice
        hit = options[i][key][1]
        d.evidence.append(f"assignment: {d.key} went to another field")
        d.key, d.reason = str(key), "assignment"
        if hit is not None:
            d.score, d.synonym = hit.score, hit.synonym
