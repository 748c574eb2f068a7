"""HubSpot's CRM search (``POST /crm/v3/objects/{objectType}/search``): the request and its evaluation.

The request models enforce HubSpot's documented limits (5 filter groups, 6 filters a group, 18 in all,
200 results a page, 10,000 results a query), so that a client that passes here passes there. Filters
are compiled once, when the body is validated: a value that cannot be compared with its property (a
word for ``amount``) is a 400 naming the filter, as HubSpot answers, not a silent empty result.

Filter groups are ORed and the filters inside a group ANDed. Strings compare case-insensitively;
number properties numerically; date-time properties as instants, given as epoch milliseconds or ISO 8601.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from crmgraph.demo.crm_records import ObjectType, property_view
from crmgraph.demo.crm_stage_history import is_stage_date

MAX_FILTER_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS = 18
MAX_LIMIT = 200
MAX_RESULTS = 10_000

NUMBER_PROPERTIES = frozenset({"amount", "numberofemployees", "annualrevenue", "hs_call_duration", "hs_object_id"})
DATETIME_PROPERTIES = frozenset(
    {
        "createdate",
        "hs_lastmodifieddate",
        "lastmodifieddate",
        "closedate",
        "hs_timestamp",
        "hs_meeting_start_time",
        "hs_meeting_end_time",
    }
)

Properties = Mapping[str, str]
Predicate = Callable[[Properties], bool]
Comparable = TypeVar("Comparable", float, str)

_EPOCH_MILLIS = re.compile(r"-?\d+")
# Like Elasticsearch's standard tokenizer (behind HubSpot search): runs of letters and digits, except that
# each CJK character is a token of its own, so "瑞丰" finds "北京瑞丰医药有限公司".
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD = re.compile(f"[{_CJK}]|[^\\W_{_CJK}]+")


class Operator(StrEnum):
    EQ = "EQ"
    NEQ = "NEQ"
    LT = "LT"
    LTE = "LTE"
    GT = "GT"
    GTE = "GTE"
    BETWEEN = "BETWEEN"
    IN = "IN"
    NOT_IN = "NOT_IN"
    HAS_PROPERTY = "HAS_PROPERTY"
    NOT_HAS_PROPERTY = "NOT_HAS_PROPERTY"
    CONTAINS_TOKEN = "CONTAINS_TOKEN"
    NOT_CONTAINS_TOKEN = "NOT_CONTAINS_TOKEN"


def parse_instant(text: str) -> float | None:
    """Epoch milliseconds of a value given as epoch milliseconds or ISO 8601 (a bare date is UTC midnight)."""
    text = text.strip()
    if _EPOCH_MILLIS.fullmatch(text):
        return float(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() * 1000


def parse_number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def parse_text(text: str) -> str:
    return text.lower()


def tokens(value: str) -> set[str]:
    """What a token operator can match: the whole value, its words, and the alphanumeric runs in them."""
    lowered = value.lower()
    return {lowered, *lowered.split(), *_WORD.findall(lowered)}


def _wildcard(word: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in word.split("*")), re.DOTALL)


def _stringify(value: object) -> object:
    # HubSpot takes filter values as JSON strings, numbers or booleans and compares their text.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _token_predicate(name: str, operator: Operator, value: str | None) -> Predicate:
    words = (value or "").lower().split()
    if not words:
        raise ValueError(f"value: {operator} needs at least one token to look for")
    patterns = [_wildcard(word) for word in words]

    def contains(props: Properties) -> bool:
        present = props.get(name)
        if not present:
            return False
        candidates = tokens(present)
        return all(any(pattern.fullmatch(token) for token in candidates) for pattern in patterns)

    return contains if operator is Operator.CONTAINS_TOKEN else lambda props: not contains(props)


def _typed_predicate(
    name: str, operator: Operator, flt: Filter, parse: Callable[[str], Comparable | None], kind: str
) -> Predicate:
    """A comparison of ``name`` with the filter's operands, both read as ``kind`` by ``parse``."""

    def operand(field: str, raw: str | None) -> Comparable:
        if raw is None:
            raise ValueError(f"{field}: {operator} needs a {field}")
        parsed = parse(raw)
        if parsed is None:
            raise ValueError(f"{field}: {raw!r} is not {kind}, which {name} holds")
        return parsed

    def value_of(props: Properties) -> Comparable | None:
        raw = props.get(name)
        return None if raw is None else parse(raw)

    if operator in (Operator.IN, Operator.NOT_IN):
        if not flt.values:
            raise ValueError(f"values: {operator} needs a non-empty list of values")
        wanted = {operand("values", raw) for raw in flt.values}
        if operator is Operator.IN:
            return lambda props: value_of(props) in wanted
        # A record without the property is "not in" any list, as Elasticsearch's must_not reads it.
        return lambda props: value_of(props) not in wanted
    low = operand("value", flt.value)
    if operator is Operator.BETWEEN:
        high = operand("highValue", flt.highValue)
        return lambda props: (found := value_of(props)) is not None and low <= found <= high
    if operator is Operator.EQ:
        return lambda props: value_of(props) == low
    if operator is Operator.NEQ:
        return lambda props: value_of(props) != low
    if operator is Operator.LT:
        return lambda props: (found := value_of(props)) is not None and found < low
    if operator is Operator.LTE:
        return lambda props: (found := value_of(props)) is not None and found <= low
    if operator is Operator.GT:
        return lambda props: (found := value_of(props)) is not None and found > low
    return lambda props: (found := value_of(props)) is not None and found >= low


class Filter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    propertyName: str = Field(min_length=1)
    operator: Operator
    value: str | None = None
    highValue: str | None = None
    values: list[str] | None = None
    _predicate: Predicate = PrivateAttr()

    @field_validator("value", "highValue", mode="before")
    @classmethod
    def _scalar(cls, value: object) -> object:
        return _stringify(value)

    @field_validator("values", mode="before")
    @classmethod
    def _scalars(cls, values: object) -> object:
        return [_stringify(value) for value in values] if isinstance(values, list) else values

    @model_validator(mode="after")
    def _compile(self) -> Self:
        name, operator = self.propertyName, self.operator
        if operator is Operator.HAS_PROPERTY:
            self._predicate = lambda props: bool(props.get(name))
        elif operator is Operator.NOT_HAS_PROPERTY:
            self._predicate = lambda props: not props.get(name)
        elif operator in (Operator.CONTAINS_TOKEN, Operator.NOT_CONTAINS_TOKEN):
            self._predicate = _token_predicate(name, operator, self.value)
        elif name in NUMBER_PROPERTIES:
            self._predicate = _typed_predicate(name, operator, self, parse_number, "a number")
        elif name in DATETIME_PROPERTIES or is_stage_date(name):
            kind = "a date-time (epoch milliseconds or ISO 8601)"
            self._predicate = _typed_predicate(name, operator, self, parse_instant, kind)
        else:
            self._predicate = _typed_predicate(name, operator, self, parse_text, "a string")
        return self

    def matches(self, props: Properties) -> bool:
        return self._predicate(props)


class FilterGroup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filters: list[Filter] = Field(min_length=1, max_length=MAX_FILTERS_PER_GROUP)


class Sort(BaseModel):
    model_config = ConfigDict(extra="forbid")

    propertyName: str = Field(min_length=1)
    direction: Literal["ASCENDING", "DESCENDING"] = "ASCENDING"

    def key(self, props: Properties) -> tuple[int, float, str]:
        """A key that orders by this property in either direction, records without a value last."""
        value = _sort_value(self.propertyName, props.get(self.propertyName))
        # reverse=True would put the records without a value first: flip their rank so they stay last.
        missing = value is None
        rank = int(not missing) if self.direction == "DESCENDING" else int(missing)
        if isinstance(value, float):
            return (rank, value, "")
        return (rank, 0.0, value or "")


def _sort_value(name: str, raw: str | None) -> float | str | None:
    if raw is None:
        return None
    if name in NUMBER_PROPERTIES:
        return parse_number(raw)
    if name in DATETIME_PROPERTIES or is_stage_date(name):
        return parse_instant(raw)
    return raw.lower()


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filterGroups: list[FilterGroup] = Field(default_factory=list, max_length=MAX_FILTER_GROUPS)
    sorts: list[Sort] = Field(default_factory=list)
    query: str | None = None
    properties: list[str] = Field(default_factory=list)
    limit: int = Field(10, ge=1, le=MAX_LIMIT)
    after: int = Field(0, ge=0)

    @field_validator("filterGroups")
    @classmethod
    def _at_most_18_filters(cls, groups: list[FilterGroup]) -> list[FilterGroup]:
        total = sum(len(group.filters) for group in groups)
        if total > MAX_FILTERS:
            raise ValueError(f"at most {MAX_FILTERS} filters in all filter groups together, got {total}")
        return groups

    @field_validator("sorts", mode="before")
    @classmethod
    def _sort_strings(cls, sorts: object) -> object:
        # HubSpot also takes a sort as a bare property name, descending when prefixed with "-".
        if not isinstance(sorts, list):
            return sorts
        return [
            {
                "propertyName": s.removeprefix("-"),
                "direction": "DESCENDING" if s.startswith("-") else "ASCENDING",
            }
            if isinstance(s, str)
            else s
            for s in sorts
        ]

    @field_validator("after")
    @classmethod
    def _within_10000_results(cls, after: int, info: ValidationInfo) -> int:
        limit = info.data.get("limit")
        if isinstance(limit, int) and after + limit > MAX_RESULTS:
            raise ValueError(
                f"a search returns at most {MAX_RESULTS:,} results, and after ({after}) + limit ({limit}) "
                "goes beyond them; narrow the filters (e.g. on hs_object_id) instead of paging further"
            )
        return after

    def matches(self, props: Properties, object_type: ObjectType) -> bool:
        groups = self.filterGroups
        if groups and not any(all(f.matches(props) for f in group.filters) for group in groups):
            return False
        return self._query_matches(props, object_type)

    def _query_matches(self, props: Properties, object_type: ObjectType) -> bool:
        """Every word of ``query`` starts a token of one of the type's default searchable properties."""
        words = _WORD.findall((self.query or "").lower())
        if not words:
            return True
        candidates = set[str]().union(*(tokens(props.get(name) or "") for name in object_type.searchable))
        return all(any(token.startswith(word) for token in candidates) for word in words)


Match = tuple[sqlite3.Row, dict[str, str]]


def run_search(rows: Iterable[sqlite3.Row], object_type: ObjectType, request: SearchRequest) -> tuple[int, list[Match]]:
    """The total number of matches and the requested page of them; ``rows`` must come in id order."""
    matched: list[Match] = []
    compared = {f.propertyName for group in request.filterGroups for f in group.filters}
    compared |= {sort.propertyName for sort in request.sorts}
    # Deriving a deal's stage dates costs more than the rest of its view: only where the search compares them.
    stage_dates = any(is_stage_date(name) for name in compared)
    for row in rows:
        props = property_view(row, object_type, with_stages=stage_dates)
        if request.matches(props, object_type):
            matched.append((row, props))
    # Stable sorts from the last key to the first leave id order as the final tiebreaker.
    for sort in reversed(request.sorts):
        matched.sort(key=lambda match: sort.key(match[1]), reverse=sort.direction == "DESCENDING")
    page = matched[request.after : request.after + request.limit]
    if not stage_dates:
        page = [(row, property_view(row, object_type)) for row, _ in page]  # the answer shows every property
    return len(matched), page
