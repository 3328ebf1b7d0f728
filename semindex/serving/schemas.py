"""Request and response bodies of the HTTP API (validated by FastAPI, shown at ``/docs``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from semindex.data import LONE_SURROGATE, is_text, parse_verdict


def problems(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Pydantic's validation errors as ``{"field", "message"}``, named as a request's fields
    are (``fields.0.maxlength``). Our own checks (value errors) say most; they come first.
    A union's branch tags ("function-after[_text(), str]") are pydantic's, not the
    request's, and are left out."""
    out = []
    for e in sorted(errors, key=lambda e: e["type"] != "value_error"):
        loc = ".".join(str(x) for x in e["loc"] if x != "body" and "[" not in str(x))
        out.append({"field": loc or "body", "message": str(e["msg"])})
    return out


def _text(value: str) -> str:
    if not is_text(value):
        raise ValueError(LONE_SURROGATE)
    return value


#: A string of a request: JSON may carry a lone surrogate escape (``"\\ud800"``), which is
#: no text: neither the tokenizer nor the UTF-8 logs take it, so it is a 422 naming the field.
Text = Annotated[str, AfterValidator(_text)]


class Option(BaseModel):
    value: Text
    label: Text | None = None


class FieldIn(BaseModel):
    """One form field as the browser extension sees it. Unknown attributes are ignored."""

    model_config = ConfigDict(extra="ignore")

    selector: Text | None = None
    label: Text | None = None
    placeholder: Text | None = None
    name: Text | None = None
    id: Text | None = None
    type: Text | None = None
    autocomplete: Text | None = None
    required: bool | None = None
    options: list[Text | Option] | None = None
    maxlength: int | None = Field(None, ge=0)
    pattern: Text | None = None
    inputmode: Text | None = None


class FormIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    scope: Literal["form", "page"] = Field(
        "form", description="'page' when the fields are a whole page that may hold several "
        "forms: no kind inferred from the fields, no one-field-per-key assignment")
    kind: Text | None = None
    title: Text | None = None
    action: Text | None = None
    submit: Text | None = None
    heading: Text | None = None


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
    alternatives: list[str] = Field(
        default_factory=list, description="reason 'ambiguous': the keys the label offers "
        "(\"Email/Username\"), in the label's order, none of which the field's other evidence chose")
    either: bool = Field(False, description="the label offers its alternatives as a choice "
                         "(\"Email or username\"): any one answers it; false for a list of parts "
                         "that may all be wanted (\"City, State, Zip\")")
    listed: list[str] = Field(
        default_factory=list, description="the keys the label lists as the parts of the field's "
        "value (\"City, State, Zip\" as the address: city, state, postal_code), in its order")


class ClassifyOut(BaseModel):
    matches: list[DecisionOut]
    rejected: list[DecisionOut]
    model_version: str


class MatchIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    selector: Text | None = None
    key: Text | None = Field(None, description="the match's key; none for an ambiguous "
                             "decision, which gives its alternatives instead")
    alternatives: list[Text] | None = Field(None, description="an ambiguous decision's "
                                            "alternatives, as /ml/classify returned them")
    either: bool = Field(False, description="as /ml/classify returned it: the field takes the "
                         "first alternative the profile holds")
    listed: list[Text] | None = Field(None, description="as /ml/classify returned it: the field "
                                      "takes these keys' values, joined by ', '")
    text: Text | None = Field(None, description="the decision's text as /ml/classify returns it "
                             "(label | placeholder | name | id): a field it names as one part of a "
                             "date (Day, MM, Jahr) gets that part")
    type: Text | None = None
    placeholder: Text | None = None
    autocomplete: Text | None = Field(None, description="the field's autocomplete attribute: "
                                      "bday-day, bday-month, bday-year get that part of a date")
    maxlength: int | None = Field(None, ge=0)
    pattern: Text | None = Field(None, description="the field's HTML pattern: the value must match it")
    options: list[Text | Option] | None = None


class FillIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_profile: dict[Text, Text | None]
    matches: list[MatchIn]


class FillOut(BaseModel):
    fills: list[dict[str, Any]]
    model_version: str


class FeedbackIn(BaseModel):
    """A verdict on a match: the field's text as classify returned it (``query``), or the
    field itself (``field``), whose text the service then builds as classify does."""

    model_config = ConfigDict(extra="forbid")

    query: Text | None = Field(None, min_length=1,
                               description="the field's text: the `text` of a classify answer")
    field: FieldIn | None = Field(None, description="the field itself, instead of `query`")
    matched_key: Text = Field(..., min_length=1,
                             description="a canonical key, or 'unknown' for none of the keys")
    correct: bool | Text
    selector: Text | None = None
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

    @model_validator(mode="after")
    def _one_text(self) -> FeedbackIn:
        if (self.query is None) == (self.field is None):
            raise ValueError("give either query (the text of a classify answer) or field")
        return self


class ReloadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Annotated[Text, Field(min_length=1, description="default: latest")] | None = None


class TrainIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Text = "full-train"
    overrides: dict[Text, Text] = Field(default_factory=dict)
