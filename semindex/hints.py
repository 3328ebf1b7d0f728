"""Field evidence declared as data next to the canonical keys (never code per site).

A hints file (JSON, conventionally ``<canonical>.hints.json``) maps HTML evidence to keys::

    {
      "autocomplete": {"given-name": "first_name", "email": "email", ...},
      "types": {"email": ["email"], "password": ["password"], "checkbox": [], ...},
      "type_means": {"password": "password"},
      "repeatable": ["password", "address_line2"],
      "context_rules": [{"form_kind": "login", "field_type": "email", "key": "username"}],
      "form_kinds": {"login": ["log in", "sign in"], "signup": ["register", "sign up"]}
    }
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from semindex.errors import DataError

# Autofill detail tokens that only qualify the field (section-*, shipping, billing, ...).
_QUALIFIERS = ("shipping", "billing", "home", "work", "mobile", "fax", "pager", "webauthn")


@dataclass(frozen=True)
class Hints:
    autocomplete: dict[str, str] = field(default_factory=dict)
    types: dict[str, list[str]] = field(default_factory=dict)
    repeatable: frozenset[str] = frozenset()
    context_rules: tuple[dict[str, str], ...] = ()
    form_kinds: dict[str, list[str]] = field(default_factory=dict)
    #: Types that decide the key whatever the field's text (``password`` -> password).
    type_means: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"autocomplete": self.autocomplete, "types": self.types,
                "type_means": self.type_means, "repeatable": sorted(self.repeatable),
                "context_rules": list(self.context_rules), "form_kinds": self.form_kinds}

    def autocomplete_key(self, value: str | None) -> str | None:
        """The key named by an ``autocomplete`` attribute (qualifier tokens skipped)."""
        if not value:
            return None
        tokens = [t for t in value.lower().split()
                  if not t.startswith("section-") and t not in _QUALIFIERS]
        for token in reversed(tokens):  # the field name is the last detail token
            if token in self.autocomplete:
                return self.autocomplete[token]
        return None

    def keys_for_type(self, html_type: str | None) -> list[str] | None:
        """The only keys a field of this HTML type can be (``[]``: none, e.g. a checkbox),
        or None when the type is not declared and says nothing."""
        if not html_type:
            return None
        return self.types.get(html_type.lower())

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


def parse_hints(obj: Any, source: str, keys: list[str] | None = None) -> Hints:
    if not isinstance(obj, dict):
        raise DataError(f"{source}: hints must be a JSON object")
    known = set(keys) if keys is not None else None

    def check_key(key: Any, where: str) -> str:
        if not isinstance(key, str) or (known is not None and key not in known):
            raise DataError(f"{source}: {where}: {key!r} is not a canonical key")
        return key

    ac = obj.get("autocomplete", {})
    types = obj.get("types", {})
    means = obj.get("type_means", {})
    if not isinstance(ac, dict) or not isinstance(types, dict) or not isinstance(means, dict):
        raise DataError(f"{source}: 'autocomplete', 'types' and 'type_means' must be objects")
    autocomplete = {str(t).lower(): check_key(k, f"autocomplete.{t}") for t, k in ac.items()}
    type_map: dict[str, list[str]] = {}
    for t, ks in types.items():
        if not isinstance(ks, list):
            raise DataError(f"{source}: types.{t} must be a list of keys")
        type_map[str(t).lower()] = [check_key(k, f"types.{t}") for k in ks]
    repeatable = frozenset(check_key(k, "repeatable") for k in obj.get("repeatable", []))
    rules = []
    for i, rule in enumerate(obj.get("context_rules", [])):
        if not isinstance(rule, dict) or "key" not in rule or "form_kind" not in rule:
            raise DataError(f"{source}: context_rules[{i}] needs 'form_kind' and 'key'")
        check_key(rule["key"], f"context_rules[{i}].key")
        rules.append({str(k): str(v) for k, v in rule.items()})
    kinds = obj.get("form_kinds", {})
    if not isinstance(kinds, dict):
        raise DataError(f"{source}: 'form_kinds' must be an object")
    return Hints(autocomplete, type_map, repeatable, tuple(rules),
                 {str(k): [str(c).lower() for c in v] for k, v in kinds.items()},
                 {str(t).lower(): check_key(k, f"type_means.{t}") for t, k in means.items()})


def load_hints(path: str | Path | None, keys: list[str] | None = None) -> Hints:
    """Load a hints file; ``None`` or a missing file gives empty hints."""
    if path is None or not Path(path).exists():
        return Hints()
    p = Path(path)
    try:
        obj = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{p}: line {exc.lineno}: invalid JSON: {exc.msg}") from exc
    return parse_hints(obj, str(p), keys)
