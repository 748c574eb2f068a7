"""The YAML description of a REST API (``sources.<name>.spec`` or ``.api``), as pydantic models.

Every section refuses keys it does not know. What pydantic cannot see (field names of the canonical
record, required record fields left unmapped, placeholders a call needs) is checked by
:func:`crmgraph.adapters.rest.checks.spec_problems`. docs/rest-sources.md documents every key.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jmespath
from jmespath.exceptions import JMESPathError
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from crmgraph.adapters.rest.auth import AuthSpec, NoAuth

TIME_FORMATS = ("iso8601", "epoch_s", "epoch_ms")
FieldType = Literal["string", "int", "decimal", "bool", "datetime", "date", "money", "enum", "list", "pairs"]


def _expression(value: str) -> str:
    try:
        jmespath.compile(value)
    except JMESPathError as exc:
        raise ValueError(f"not a JMESPath expression ({str(exc).splitlines()[0]}): {value!r}") from None
    return value


def _pattern(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {value!r} ({exc})") from None
    return value


def _time_format(value: object) -> object:
    if not isinstance(value, str) or not (value in TIME_FORMATS or "%" in value):
        raise ValueError(f"expected a strftime pattern or one of {', '.join(TIME_FORMATS)}, got {value!r}")
    return value


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"not an IANA time zone: {value!r}") from None
    return value


Expression = Annotated[str, Field(min_length=1), AfterValidator(_expression)]
Pattern = Annotated[str, Field(min_length=1), AfterValidator(_pattern)]
TimeFormat = Annotated[str, BeforeValidator(_time_format)]
Zone = Annotated[str, AfterValidator(_zone)]
Scalar = str | int | float | bool


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(Strict):
    """Where one canonical field is in the API's record, and how its value reads."""

    path: Expression
    type: FieldType | None = None  # inferred from the canonical record's field when left out
    format: TimeFormat | None = None  # datetime and date: iso8601 (default), epoch_s, epoch_ms or strftime
    timezone: Zone | None = None  # the zone of naive times (a naive time without one is refused)
    map: dict[str, Any] | None = None  # upstream value (as text) -> canonical value
    default: Any = None  # when the API gives null or nothing
    required: bool | None = None  # null refused; default: what the record needs
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")  # money: a fixed ISO 4217 code
    currency_path: Expression | None = None  # money: where the record says its currency


class Paging(Strict):
    """How a listing is paged: ``none``, ``offset`` (offset/limit), ``page`` (page number), ``cursor``, ``link``."""

    style: Literal["none", "offset", "page", "cursor", "link"] = "none"
    size_param: str | None = None  # the parameter carrying the page size
    max_size: int = Field(100, ge=1, le=10_000)  # the API's cap on the page size
    offset_param: str = "offset"
    page_param: str = "page"
    first_page: int = Field(1, ge=0)
    cursor_param: str = "cursor"
    next: Expression | None = None  # cursor: where the answer holds the next cursor
    has_more: Expression | None = None  # cursor: where it says whether there is more (optional)
    total: Expression | None = None  # offset, page: where it holds the total count (text is read as a number)

    @model_validator(mode="after")
    def _cursor_needs_next(self) -> Paging:
        if self.style == "cursor" and self.next is None:
            raise ValueError("cursor paging needs `next`: where the answer holds the next cursor")
        return self


class Call(Strict):
    """One HTTP call: ``{id}``, ``{ids}``, ``{key}``, ``{keys}``, ``{since}``, ``{query}`` in the path or a
    parameter's value stand for what the call is made for."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    path: str = Field(min_length=1)
    params: dict[str, Scalar] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    select: Expression = "@"  # from the answer to the record (get) or to the list of records
    paging: Paging = Field(default_factory=Paging)

    def mentions(self, name: str) -> bool:
        marker = "{" + name + "}"
        return marker in self.path or any(marker in str(value) for value in self.params.values())


class GetMany(Call):
    """Many ids in one call: ``{ids}`` stands for them joined with ``joiner``."""

    joiner: str = ","
    max_batch: int = Field(100, ge=1, le=1000)


class Related(Call):
    """The records related to a parent: ``{key}`` (one parent a call) or ``{keys}`` (many, joined)."""

    key_field: str | None = None  # the canonical field holding the parent's key
    joiner: str = ","
    max_batch: int = Field(50, ge=1, le=1000)
    members: Expression | None = None  # two-step: each row's member id, the records then fetched by id
    max_related: int = Field(1000, ge=1)  # most records one parent gives (the list is cut after them)


class Changes(Call):
    """The records changed since a moment: ``{since}`` written in ``since_format``."""

    since_format: TimeFormat = "iso8601"
    timezone: Zone = "UTC"  # the zone ``since`` is written in


class Refusals(Strict):
    """Where a refused write's answer names the fields at fault."""

    select: Expression  # the list of problems
    field: Expression | None = None  # within a problem: the API's field name
    message: Expression = "@"  # within a problem: its text
    names: dict[str, str] = Field(default_factory=dict)  # the API's field name -> canonical, where not a path


class Write(Call):
    """A create or update: the body is built from the canonical values through the fields' paths."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    envelope: str | None = Field(None, pattern=r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")  # {"ticket": {...}}
    body: dict[str, Any] = Field(default_factory=dict)  # constant members, merged under the mapped values
    links: dict[str, str] = Field(default_factory=dict)  # link name (party) -> canonical field (party_id)
    # canonical field -> where this call writes it, when not where it is read (Zendesk: comment.body)
    paths: dict[str, Annotated[str, Field(pattern=r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")]] = Field(
        default_factory=dict
    )
    idempotency_field: str | None = None  # the body path that keeps the idempotency key
    refusals: Refusals | None = None


class EntitySpec(Strict):
    """One canonical entity the API serves."""

    record: str | None = None  # the canonical record type; default: the entity's name
    id: Expression = "id"  # where the record's id is
    # The ids the API can hold, as a regular expression the whole id must match ("[1-9][0-9]*"): any other id
    # is answered as missing without a call (an API refuses a whole batch for one malformed id).
    id_pattern: Pattern | None = None
    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    get: Call | None = None
    get_many: GetMany | None = None
    related: dict[str, Related] = Field(default_factory=dict)
    list: Call | None = None
    search: Call | None = None
    changes: Changes | None = None
    create: Write | None = None
    update: Write | None = None


class RestSpec(Strict):
    """A whole API: where it is, how to sign in, and the entities it serves."""

    base_url: str = Field(pattern=r"^https?://")
    auth: AuthSpec = Field(default_factory=NoAuth)
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = Field(10.0, gt=0, le=600)
    entities: dict[str, EntitySpec] = Field(min_length=1)

    @field_validator("entities")
    @classmethod
    def _names(cls, entities: dict[str, EntitySpec]) -> dict[str, EntitySpec]:
        for name in entities:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ValueError(f"entity name {name!r}: use lower-case letters, digits and _")
        return entities
