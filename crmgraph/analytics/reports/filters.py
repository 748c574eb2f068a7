"""What a report is asked for: its filter (period, owner, team, country, segment) and the asker's row scope.

Both become SQL conditions on a record table of the analytic store (:func:`record_conditions`). A record's
customer is tested through the ``customers`` table (country, owner) and ``customer_segments`` (segment);
an owner filter tests the record's own owner where it has one (deals) and its customer's otherwise (a lead's
owner is a user of the marketing system, not a CRM owner).

The row scope is the request's :meth:`~crmgraph.policy.roles.Access.scope_clauses`: clauses ORed, each a
``{field: allowed values}`` that must all hold on the record's customer. A clause on ``owner_id`` also
holds the record's own owner to those values where it has one, so a sales rep's funnel is their own
deals, not every deal of the customers they own. A record no customer holds is outside every scope.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select

from crmgraph.analytics.tables import customer_segments, customers
from crmgraph.errors import ClientError

# A row scope, hashable (it keys the answer cache): clauses of (field, allowed values) pairs. None: everyone.
Scope = tuple[tuple[tuple[str, tuple[str, ...]], ...], ...] | None


def scope_of(clauses: Sequence[Mapping[str, Iterable[str]]] | None) -> Scope:
    """The scope :meth:`Access.scope_clauses` answered, in a canonical hashable form."""
    if clauses is None:
        return None
    return tuple(
        sorted(tuple(sorted((field, tuple(sorted(values))) for field, values in clause.items())) for clause in clauses)
    )


@dataclass(frozen=True)
class ReportFilter:
    """A report's filter, as the client gave it (``team`` by name; :meth:`owners` resolves it)."""

    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive
    owner_id: str | None = None
    team: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2, upper case
    segment_key: str | None = None  # customer_segments.segment_key: "source:id"

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None and (value.tzinfo is None or value.utcoffset() is None):
                object.__setattr__(self, name, value.replace(tzinfo=UTC))
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ClientError(
                f"filter.to: must be after filter.from ({self.start.isoformat()}), got {self.end.isoformat()}"
            )
        if self.country is not None:
            if len(self.country) != 2 or not self.country.isalpha() or not self.country.isascii():
                raise ClientError(
                    f"filter.country: expected an ISO 3166-1 alpha-2 code such as DE, got {self.country!r}"
                )
            object.__setattr__(self, "country", self.country.upper())

    def owners(self, teams: Mapping[str, tuple[str, ...]]) -> frozenset[str] | None:
        """The owner ids the filter keeps (None: any owner); a :class:`ClientError` for a team not configured."""
        wanted: frozenset[str] | None = None
        if self.team is not None:
            if self.team not in teams:
                known = ", ".join(sorted(teams)) or "none are configured (workflows.assignment.leads.teams)"
                raise ClientError(f"filter.team: no team {self.team!r}; the teams are {known}")
            wanted = frozenset(teams[self.team])
        if self.owner_id is not None:
            wanted = frozenset({self.owner_id}) if wanted is None else wanted & {self.owner_id}
        return wanted

    def without_period(self) -> ReportFilter:
        return replace(self, start=None, end=None)

    def as_json(self) -> dict[str, Any]:
        """The filter as JSON values, only the fields set (a drill-down token carries it)."""
        values = {
            key: value.isoformat() if isinstance(value, datetime) else value for key, value in asdict(self).items()
        }
        return {key: value for key, value in values.items() if value is not None}

    @classmethod
    def from_json(cls, values: Mapping[str, Any]) -> ReportFilter:
        """The filter :meth:`as_json` wrote; ValueError or TypeError for anything else."""
        unknown = set(values) - {"start", "end", "owner_id", "team", "country", "segment_key"}
        if unknown:
            raise ValueError(f"unknown filter fields {sorted(unknown)}")
        kept: dict[str, Any] = {}
        for key, value in values.items():
            if not isinstance(value, str):
                raise TypeError(f"{key}: expected a string")
            kept[key] = datetime.fromisoformat(value) if key in ("start", "end") else value
        return cls(**kept)


@dataclass(frozen=True)
class ReportRequest:
    """Everything a report's answer depends on: the filter, the teams it may name, the scope, and now."""

    filter: ReportFilter
    scope: Scope = None
    teams: Mapping[str, tuple[str, ...]] | None = None
    now: datetime | None = None  # None: the current time (backlog ages, days since the last order)

    def owners(self) -> frozenset[str] | None:
        return self.filter.owners(self.teams or {})

    def moment(self) -> datetime:
        return self.now if self.now is not None else datetime.now(UTC)


def in_period(column: Any, report_filter: ReportFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if report_filter.start is not None:
        conditions.append(column >= report_filter.start)
    if report_filter.end is not None:
        conditions.append(column < report_filter.end)
    return conditions


def in_day_period(column: Any, report_filter: ReportFilter) -> list[ColumnElement[bool]]:
    """The period on a ``Date`` column (a day is in it when it starts within it)."""
    conditions: list[ColumnElement[bool]] = []
    if report_filter.start is not None:
        conditions.append(column >= _first_day_from(report_filter.start))
    if report_filter.end is not None:
        conditions.append(column < _first_day_from(report_filter.end))
    return conditions


def _first_day_from(moment: datetime) -> date:
    """The first day (in UTC) that starts at or after ``moment``."""
    moment = moment.astimezone(UTC)
    day = moment.date()
    return day if moment.time() == time.min else day + timedelta(days=1)


def _customers_where(conditions: list[ColumnElement[bool]], customer_id: Any) -> ColumnElement[bool]:
    return customer_id.in_(select(customers.c.customer_id).where(*conditions))  # type: ignore[no-any-return]


def record_conditions(request: ReportRequest, customer_id: Any, owner: Any = None) -> list[ColumnElement[bool]]:
    """The filter's and the scope's conditions on a record whose customer is ``customer_id`` and whose own
    owner (deals) is ``owner`` (None: the record has none; its customer's owner is tested)."""
    report_filter = request.filter
    conditions: list[ColumnElement[bool]] = []
    on_customer: list[ColumnElement[bool]] = []
    if report_filter.country is not None:
        on_customer.append(customers.c.country == report_filter.country)
    owners = request.owners()
    if owners is not None:
        if owner is not None:
            conditions.append(owner.in_(sorted(owners)))
        else:
            on_customer.append(customers.c.owner_id.in_(sorted(owners)))
    if on_customer:
        conditions.append(_customers_where(on_customer, customer_id))
    if report_filter.segment_key is not None:
        members = select(customer_segments.c.customer_id).where(
            customer_segments.c.segment_key == report_filter.segment_key
        )
        conditions.append(customer_id.in_(members))
    if request.scope is not None:
        conditions.append(scope_condition(request.scope, customer_id, owner))
    return conditions


def scope_condition(scope: Scope, customer_id: Any, owner: Any = None) -> ColumnElement[bool]:
    """The row scope on a record (see the module's docstring); every record for no scope."""
    assert scope is not None
    clauses: list[ColumnElement[bool]] = []
    for clause in scope:
        on_record: list[ColumnElement[bool]] = [customer_id.is_not(None)]
        on_customer: list[ColumnElement[bool]] = []
        for field, values in clause:
            if field == "customer_id":
                on_record.append(customer_id.in_(values))
            elif field == "owner_id":
                on_customer.append(customers.c.owner_id.in_(values))
                if owner is not None:
                    on_record.append(owner.in_(values))
            elif field == "country":
                on_customer.append(customers.c.country.in_(values))
            else:  # the policy model admits only the three fields above: a new one must be added here
                raise AssertionError(f"scope field {field!r} has no condition in the reports")
        if on_customer:
            on_record.append(_customers_where(on_customer, customer_id))
        clauses.append(and_(*on_record))
    return or_(*clauses) if clauses else false()
