"""Loading and validating the input data: canonical keys, feedback CSV, triplets, eval rows.

Errors name the file and the key or line. Feedback is a log written by people and by the
service, so it is parsed leniently by default (bad rows reported and skipped) and
strictly on request.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from semindex.errors import DataError
from semindex.text import normalize

log = logging.getLogger(__name__)

TRUE_WORDS = frozenset({"yes", "true", "1"})
FALSE_WORDS = frozenset({"no", "false", "0"})
#: The reserved answer "none of the keys". Feedback may confirm it (``query,unknown,yes``):
#: such queries become known-unknown examples. No canonical key may be called this.
UNKNOWN = "unknown"
FEEDBACK_COLUMNS = ("timestamp", "query", "matched_key", "correct", "selector", "score",
                    "model_version")
LONE_SURROGATE = "a lone surrogate (a \\ud800-\\udfff escape with no pair) is not text"


@dataclass(frozen=True)
class SynonymRecord:
    """One synonym of one canonical key: the unit that is embedded and indexed."""

    key: str
    synonym: str
    #: A synonym the encoder is never trained on (see :attr:`Canonical.lexical_only`).
    lexical_only: bool = False
    #: A field text a person reviewed (confirmed feedback, a known unknown), not a name the
    #: vocabulary gives the key (see :attr:`Canonical.reviewed`).
    reviewed: bool = False


@dataclass(frozen=True)
class Canonical:
    """Validated canonical data: ``{key: [synonym, ...]}`` in file order."""

    synonyms: dict[str, list[str]]
    source: str = "<memory>"
    #: Normalised synonyms that count only by their words: another file's (the hints
    #: file's other-language labels), never trained on. The lexical and mention steps
    #: compare them; as the nearest neighbour of a field they decide nothing on their own
    #: (an English encoder places words of other languages near unrelated identifiers).
    lexical_only: frozenset[str] = frozenset()
    #: Normalised texts added from feedback (:meth:`with_extra` with ``reviewed``): whole
    #: field texts, which say how one site labelled a field, not what the key is called.
    reviewed: frozenset[str] = frozenset()

    @property
    def keys(self) -> list[str]:
        return list(self.synonyms)

    def records(self) -> list[SynonymRecord]:
        """One record per synonym (the index holds one vector per synonym)."""
        return [SynonymRecord(k, s, (n := normalize(s)) in self.lexical_only, n in self.reviewed)
                for k, syns in self.synonyms.items() for s in syns]

    def flattened(self) -> list[dict[str, str]]:
        """The seed's ``[{id, text}]`` form: all synonyms of a key joined into one text."""
        return [{"id": k, "text": " ".join(syns)} for k, syns in self.synonyms.items()]

    def with_extra(self, extra: Iterable[tuple[str, str]], *, reviewed: bool = False) -> Canonical:
        """A copy enriched with ``(key, text)`` pairs, deduplicated: a text it already holds,
        under any key, stays that key's (one text means one thing). ``reviewed``: the texts
        are confirmed feedback (:attr:`reviewed`)."""
        merged = {k: list(v) for k, v in self.synonyms.items()}
        held = set(self.key_of())
        added = set()
        for key, text in extra:
            if key in merged and normalize(text) not in held:
                held.add(normalize(text))
                added.add(normalize(text))
                merged[key].append(text.strip())
        return Canonical(merged, self.source, self.lexical_only,
                         self.reviewed | added if reviewed else self.reviewed)

    def key_of(self) -> dict[str, str]:
        """Each normalised synonym's key (the first key that holds it)."""
        out: dict[str, str] = {}
        for key, syns in self.synonyms.items():
            for s in syns:
                out.setdefault(normalize(s), key)
        return out


def with_synonyms(canonical: Canonical, extra: Mapping[str, Sequence[str]]) -> Canonical:
    """``canonical`` plus more synonyms per key (a hints file's other-language labels), which
    become :attr:`Canonical.lexical_only`; a text the canonical file already holds, under
    any key, stays what that file says."""
    taken = canonical.key_of()
    added = [(k, s) for k, syns in extra.items() for s in syns if normalize(s) not in taken]
    merged = canonical.with_extra(added)
    return replace(merged, lexical_only=merged.lexical_only | {normalize(s) for _, s in added})


def new_records(pairs: Iterable[tuple[str, str]], existing: Sequence[SynonymRecord]) -> list[SynonymRecord]:
    """``(key, text)`` pairs of reviewed field texts as index records, skipping texts
    already indexed (by normalised text, under any key: a text stays what it already is) and
    repeats."""
    seen = {normalize(r.synonym) for r in existing}
    out = []
    for key, text in pairs:
        norm = normalize(text)
        if norm and norm not in seen:
            seen.add(norm)
            out.append(SynonymRecord(key, text.strip(), reviewed=True))
    return out


def unknown_records(texts: Iterable[str], existing: Sequence[SynonymRecord]) -> list[SynonymRecord]:
    """Known-unknown examples as index records under :data:`UNKNOWN` (deduplicated; a text
    that is already a synonym of a key stays that key's)."""
    return new_records(((UNKNOWN, t) for t in texts), existing)


def read_text(path: str | Path, what: str) -> str:
    """A data file's text: UTF-8, with or without the byte-order mark that spreadsheet
    programs write. A missing file, or bytes that are not UTF-8 (a file saved as Latin-1 or
    Windows-1252), is a :class:`DataError` naming the file and line."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{p}: {what} not found") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataError(f"{p}: line {line}: not UTF-8 (byte 0x{raw[exc.start]:02x}); "
                        f"save the {what} as UTF-8") from None


def not_text(obj: Any, where: str = "") -> str | None:
    """Where in a decoded JSON value a string (or object key) is no Unicode text: a lone
    surrogate, which a JSON escape such as ``\\ud800`` can carry and which neither UTF-8 nor
    the tokenizer accepts; None when every string is text. ``where`` is JSON-path-like
    (``email[0]``, ``fields.0.label`` as the HTTP layer names fields)."""
    if isinstance(obj, str):
        return None if is_text(obj) else (where or "value")
    if isinstance(obj, dict):
        for k, v in obj.items():
            at = f"{where}.{k}" if where else str(k)
            if isinstance(k, str) and not is_text(k):
                return at
            found = not_text(v, at)
            if found is not None:
                return found
    if isinstance(obj, list):
        for i, v in enumerate(obj):
            found = not_text(v, f"{where}[{i}]")
            if found is not None:
                return found
    return None


def is_text(s: str) -> bool:
    """Whether ``s`` encodes as UTF-8 (holds no lone surrogate)."""
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def read_json(path: str | Path, what: str) -> Any:
    """A JSON data file, decoded (:func:`read_text`, then :func:`decode_json`)."""
    return decode_json(read_text(path, what), Path(path))


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _DuplicateKey(key)
        obj[key] = value
    return obj


def decode_json(text: str, p: Path, line: int | None = None) -> Any:
    """``text`` (the file ``p``, or its line ``line``) decoded. Invalid JSON, a key written
    twice in one object (JSON keeps the last one and silently drops the first: a canonical
    key's first synonym list) and a string that is no text (:func:`not_text`) are a
    :class:`DataError` naming the file and line or place."""
    at = f"{p}: line {line}" if line is not None else str(p)
    try:
        obj = json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise DataError(f"{p}: line {line or exc.lineno}: invalid JSON: {exc.msg}") from exc
    except _DuplicateKey as exc:
        raise DataError(f"{at}: key {exc.args[0]!r} appears twice in one object "
                        "(the first would be lost)") from None
    bad = not_text(obj)
    if bad is not None:
        raise DataError(f"{at}: {bad}: {LONE_SURROGATE}")
    return obj


def parse_canonical(obj: Any, source: str = "<memory>") -> Canonical:
    """Validate a decoded canonical object; see :func:`load_canonical`."""
    if not isinstance(obj, dict):
        raise DataError(f"{source}: canonical data must be a JSON object "
                        f"{{key: [synonym, ...]}}, got {type(obj).__name__}")
    if not obj:
        raise DataError(f"{source}: canonical data has no keys")
    seen: dict[str, str] = {}
    out: dict[str, list[str]] = {}
    for key, syns in obj.items():
        if not isinstance(key, str) or not key.strip():
            raise DataError(f"{source}: blank key {key!r}")
        norm = normalize(key)
        if norm == UNKNOWN:
            raise DataError(f"{source}: key {key!r} is reserved (it is the answer 'none of the keys')")
        if norm in seen:
            raise DataError(f"{source}: key {key!r} duplicates {seen[norm]!r} after normalisation")
        seen[norm] = key
        if not isinstance(syns, list):
            raise DataError(f"{source}: key {key!r}: synonyms must be a list of strings")
        if not syns:
            raise DataError(f"{source}: key {key!r}: synonym list is empty")
        clean: list[str] = []
        for i, syn in enumerate(syns):
            if not isinstance(syn, str):
                raise DataError(f"{source}: key {key!r}: synonym #{i} is "
                                f"{type(syn).__name__}, expected a string")
            if not syn.strip():
                raise DataError(f"{source}: key {key!r}: synonym #{i} is blank")
            clean.append(syn.strip())
        out[key] = clean
    return Canonical(out, source)


def load_canonical(path: str | Path) -> Canonical:
    """Load and validate a canonical JSON file ``{key: [synonym, ...]}``."""
    return parse_canonical(read_json(path, "canonical file"), str(path))


@dataclass(frozen=True)
class FeedbackRow:
    """One verdict of a person on a match: ``query`` is (or is not) ``matched_key``."""

    query: str
    matched_key: str
    correct: bool
    line: int
    context: dict[str, str] = field(default_factory=dict)


@dataclass
class Feedback:
    """Parsed feedback with its problems; ``rows`` keeps every valid row in file order."""

    rows: list[FeedbackRow]
    problems: list[str]
    unknown_keys: dict[str, int]
    source: str = "<memory>"

    def resolved(self) -> list[FeedbackRow]:
        """One verdict per (normalised query, key) pair, and one confirmed key per query.

        Conflicting verdicts on the same pair are settled by majority; a tie goes to the
        most recent row (the last in the log), since people correct earlier mistakes.
        A query confirmed as several keys (``unknown`` included) keeps the key with the
        most confirmations (a tie again goes to the most recent): one text means one
        thing, and a stray confirmation must not index the text under a second key.
        """
        groups: dict[tuple[str, str], list[int]] = {}  # positions in ``rows``: file order
        for i, row in enumerate(self.rows):
            groups.setdefault((normalize(row.query), row.matched_key), []).append(i)
        kept: list[int] = []
        best_yes: dict[str, tuple[int, int]] = {}  # query -> (confirmations, position) of its key
        for (norm, _), positions in groups.items():
            yes = sum(self.rows[i].correct for i in positions)
            no = len(positions) - yes
            verdict = self.rows[positions[-1]].correct if yes == no else yes > no
            last = [i for i in positions if self.rows[i].correct == verdict][-1]
            kept.append(last)
            if verdict:
                best_yes[norm] = max(best_yes.get(norm, (0, -1)), (yes, last))
        winners = {i for _, i in best_yes.values()}
        return [self.rows[i] for i in sorted(kept) if not self.rows[i].correct or i in winners]

    def then(self, later: Feedback) -> Feedback:
        """This feedback followed by ``later`` (whose rows count as the more recent)."""
        unknown = dict(self.unknown_keys)
        for key, n in later.unknown_keys.items():
            unknown[key] = unknown.get(key, 0) + n
        return Feedback(self.rows + later.rows, self.problems + later.problems, unknown,
                        f"{self.source} + {later.source}")

    def confirmed(self) -> list[tuple[str, str]]:
        return [(r.query, r.matched_key) for r in self.resolved()
                if r.correct and r.matched_key != UNKNOWN]

    def rejected(self) -> list[tuple[str, str]]:
        return [(r.query, r.matched_key) for r in self.resolved()
                if not r.correct and r.matched_key != UNKNOWN]

    def unknowns(self) -> list[str]:
        """Queries confirmed as none of the keys (and confirmed as no key either)."""
        resolved = self.resolved()
        keyed = {normalize(r.query) for r in resolved if r.correct and r.matched_key != UNKNOWN}
        return [r.query for r in resolved
                if r.correct and r.matched_key == UNKNOWN and normalize(r.query) not in keyed]


#: A CSV cell that begins with one of these is a formula to a spreadsheet (CSV injection:
#: a logged query ``=HYPERLINK(...)`` would run when a reviewer opens the log). The logs
#: write such a cell behind a quote, as spreadsheets do, and the reader takes it off.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: str) -> str:
    """``value`` as a CSV cell that a spreadsheet shows as text. A value that begins with a
    quote gets one more, so that :func:`from_csv_cell` gives back exactly ``value``."""
    return "'" + value if value.startswith((*FORMULA_STARTS, "'")) else value


def from_csv_cell(value: str) -> str:
    """The text a :func:`csv_cell` holds (other cells, such as ``'Nickname'`` in a file
    written by hand, are returned as they are)."""
    quoted = value.startswith("'") and value[1:].startswith((*FORMULA_STARTS, "'"))
    return value[1:] if quoted else value


def parse_verdict(value: str) -> bool | None:
    v = value.strip().lower()
    if v in TRUE_WORDS:
        return True
    if v in FALSE_WORDS:
        return False
    return None


def load_feedback(path: str | Path | None, *, known_keys: Sequence[str] | None = None,
                  strict: bool = False) -> Feedback:
    """Read a feedback CSV (``query`` or ``query_key``, ``matched_key``, ``correct``, ...).

    A missing file is not an error (no feedback yet): a warning and an empty result.
    Malformed rows are reported with their line numbers and skipped, or raise
    :class:`DataError` when ``strict``. Rows naming keys outside ``known_keys`` are kept
    out and counted in ``unknown_keys``.
    """
    if path is None:
        return Feedback([], [], {})
    p = Path(path)
    if not p.exists():
        log.warning("feedback file %s not found: no feedback from it yet", p)
        return Feedback([], [], {}, str(p))
    rows: list[FeedbackRow] = []
    problems: list[str] = []
    unknown: dict[str, int] = {}
    known = set(known_keys) if known_keys is not None else None
    with io.StringIO(read_text(p, "feedback file"), newline="") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        reader.fieldnames = header
        qcol = "query" if "query" in header else "query_key" if "query_key" in header else None
        missing = [c for c in ("matched_key", "correct") if c not in header]
        if qcol is None:
            missing.insert(0, "query")
        if missing:
            raise DataError(f"{p}: line 1: header lacks column(s) {', '.join(missing)} "
                            f"(found {', '.join(header) or 'nothing'})")
        for rec in reader:
            line = reader.line_num
            problem = None
            if None in rec:
                problem = "more cells than header columns"
            query = from_csv_cell((rec.get(qcol) or "").strip())
            key = from_csv_cell((rec.get("matched_key") or "").strip())
            verdict = parse_verdict(rec.get("correct") or "")
            if problem is None and not query:
                problem = f"empty {qcol}"
            elif problem is None and not key:
                problem = "empty matched_key"
            elif problem is None and verdict is None:
                problem = f"correct={rec.get('correct')!r} is not yes/no/true/false/1/0"
            if problem:
                msg = f"{p}: line {line}: {problem}"
                if strict:
                    raise DataError(msg)
                problems.append(msg)
                continue
            if normalize(key) == UNKNOWN:
                key = UNKNOWN
            elif known is not None and key not in known:
                unknown[key] = unknown.get(key, 0) + 1
                continue
            context = {k: from_csv_cell(v or "") for k, v in rec.items()
                       if k not in (qcol, "matched_key", "correct") and isinstance(k, str)}
            rows.append(FeedbackRow(query, key, bool(verdict), line, context))
    for msg in problems:
        log.warning("skipped feedback row: %s", msg)
    if unknown:
        log.warning("%s: feedback names unknown keys (rows skipped): %s", p,
                    ", ".join(f"{k} x{n}" for k, n in sorted(unknown.items())))
    return Feedback(rows, problems, unknown, str(p))


@dataclass(frozen=True)
class Triplet:
    anchor: str
    positive: str
    negative: str


def load_triplets(path: str | Path) -> list[Triplet]:
    """Read triplet JSONL (``anchor`` or ``question``, ``positive``, ``negative``).

    The seed's rules: every field present, no empty string, at least one row.
    """
    p = Path(path)
    out: list[Triplet] = []
    for n, obj in _jsonl_objects(p, "triplet file", "an object"):
        anchor_col = "anchor" if "anchor" in obj else "question"
        for col in (anchor_col, "positive", "negative"):
            value = obj.get(col)
            if not isinstance(value, str):
                raise DataError(f"{p}: line {n}: missing or non-string field {col!r}")
            if not value.strip():
                raise DataError(f"{p}: line {n}: field {col!r} is empty")
        out.append(Triplet(obj[anchor_col], obj["positive"], obj["negative"]))
    if not out:
        raise DataError(f"{p}: no triplets (at least one row is required)")
    return out


@dataclass(frozen=True)
class LabelledRow:
    """One labelled evaluation row: a field (or a bare query) and its expected key or None."""

    field: dict[str, Any]
    expected: str | None
    group: str  # site (forms) or query (titles): folds never split a group
    #: The page the field was found on (the data's ``source``); None for a bare query.
    page: str | None = None


def load_eval_rows(path: str | Path) -> list[LabelledRow]:
    """Read labelled rows in the formats of the evaluation data.

    Forms: ``label, placeholder, name, id, input_type, expected, site`` and optionally
    ``source`` (the page).
    Titles: ``query, expected``. ``expected`` may be null (the right answer is "unknown").
    """
    p = Path(path)
    out: list[LabelledRow] = []
    for n, obj in _jsonl_objects(p, "evaluation file", "an object with an 'expected' field",
                                 required="expected"):
        expected = obj["expected"]
        if expected is not None and not isinstance(expected, str):
            raise DataError(f"{p}: line {n}: 'expected' must be a string or null")
        page = None
        if "query" in obj:
            fld: dict[str, Any] = {"label": str(obj["query"])}
            group = normalize(str(obj["query"]))
        else:
            page = str(obj["source"]) if obj.get("source") else None
            fld = {k: obj.get(k) or "" for k in ("label", "placeholder", "name", "id")}
            fld["type"] = obj.get("input_type") or obj.get("type") or ""
            for extra in ("autocomplete", "options", "tag"):
                if obj.get(extra):
                    fld[extra] = obj[extra]
            group = str(obj.get("site") or n)
        out.append(LabelledRow(fld, expected, group, page))
    return out


def _jsonl_objects(p: Path, what: str, shape: str,
                   required: str | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of each non-blank line of a JSON Lines file; a missing file,
    a line that is no JSON, or one that is not an object (holding ``required``) is a
    :class:`DataError` naming the file and line (``what``, ``shape``: its words)."""
    for n, line in enumerate(read_text(p, what).splitlines(), start=1):
        if not line.strip():
            continue
        obj = decode_json(line, p, n)
        if not isinstance(obj, dict) or (required is not None and required not in obj):
            raise DataError(f"{p}: line {n}: expected {shape}")
        yield n, obj


def file_sha256(path: str | Path | None) -> str | None:
    """Hash of a data file for the manifest (``None`` when there is no file)."""
    if path is None or not Path(path).exists():
        return None
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_unknowns(path: str | Path | None) -> list[str]:
    """Known-unknown texts (one per line, ``#`` comments): fields that are none of the keys.
    ``None``: none; a path that names no file is a :class:`DataError`."""
    if path is None:
        return []
    lines = read_text(path, "unknowns file").splitlines()
    return [t.strip() for t in lines if t.strip() and not t.lstrip().startswith("#")]
