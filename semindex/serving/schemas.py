"""Request and response bodies of the HTTP API (validated by FastAPI, shown at ``/docs``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from semindex.data import parse_verdict


class Option(BaseModel):
    value: str
    label: str | None = None


class FieldIn(BaseModel):
    """One form field as the browser extension sees it. Unknown attributes are ignored."""

    model_config = ConfigDict(extra="ignore")

    selector: str | None = None
    label: str | None = None
    placeholder: str | None = None
    name: str | None = None
    id: str | None = None
    type: str | None = None
    autocomplete: str | None = None
    required: bool | None = None
    options: list[str | Option] | None = None
    maxlength: int | None = Field(None, ge=0)
    pattern: str | None = None
    inputmode: str | None = None


class FormIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    scope: Literal["form", "page"] = Field(
        "form", description="'page' when the fields are a whole page that may hold several "
        "forms: no kind inferred from the fields, no one-field-per-key assignment")
    kind: str | None = None
    title: str | None = None
    action: str | None = None
    submit: str | None = None
    heading: str | None = None


class ClassifyIn(BaseModel):
    fields: list[FieldIn] = Field(..., min_length=1)
    form: FormIn | None = None


class DecisionOut(BaseModel):
    selector: str | None
    text: str
    key: str | None
    score: float
    threshold: float
    margin: float
    synonym: str | None
    reason: str
    accepted: bool
    runner_up: dict[str, Any] | None
    evidence: list[str]


class ClassifyOut(BaseModel):
    matches: list[DecisionOut]
    rejected: list[DecisionOut]
    model_version: str


class MatchIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    selector: str | None = None
    key: str
    text: str | None = Field(None, description="the decision's text as /ml/classify returns it "
                             "(label | placeholder | name | id): a field it names as one part of a "
                             "date (Day, MM, Jahr) gets that part")
    type: str | None = None
    placeholder: str | None = None
    maxlength: int | None = Field(None, ge=0)
    pattern: str | None = Field(None, description="the field's HTML pattern: the value must match it")
    options: list[str | Option] | None = None


class FillIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_profile: dict[str, str | None]
    matches: list[MatchIn]


class FillOut(BaseModel):
    fills: list[dict[str, Any]]
    model_version: str


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(..., min_length=1)
    matched_key: str = Field(..., min_length=1,
                             description="a canonical key, or 'unknown' for none of the keys")
    correct: bool | str
    selector: str | None = None
    score: float | None = None

    @field_validator("correct")
    @classmethod
    def _verdict(cls, v: bool | str) -> bool:
        if isinstance(v, bool):
            return v
        verdict = parse_verdict(v)
        if verdict is None:
            raise ValueError("must be true/false or yes/no/1/0")
        return verdict


class ReloadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str | None = None


class TrainIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: str = "full-train"
    overrides: dict[str, str] = Field(default_factory=dict)
