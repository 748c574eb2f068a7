"""Each parent's newest rows in one statement: a page of customers that shows five orders each.

The rows of a batch of parents are ranked within each parent by the day of their moment (an order's
``placed_at``), newest first, and those ranked past ``newest`` are left out. The rank counts whole days and
ties share one, so every row on the day of the last one kept is kept too: the answer holds each parent's
``newest`` latest records whatever their time of day or id, and the caller sorts and cuts as it would the
whole list. Ranking by day is also what keeps it exact in a time zone with daylight saving time, where local
clock times of one night repeat an hour but local days never overlap.

The day must sort in SQL as the moments do: a ``DATE`` column, a text column written ``%Y%m%d`` (or another
year-month-day layout), or a ``DATETIME`` held in UTC. Otherwise no statement is made and the parents' whole
lists are read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, and_, bindparam, func, select
from sqlalchemy.sql import Select
from sqlalchemy.types import Date, DateTime, TypeEngine

from crmgraph.adapters.sql.changes import sorts_as_text
from crmgraph.adapters.sql.mapping import EntityMapping, SqlMapping

NEWEST = "newest"  # the bound parameter: how many of each parent's latest records are wanted
RANK = "crmgraph_newest_rank"  # the label of the rank (never a legacy column name)
# The moment each entity's records are read newest first by (as SqlAdapter answers them).
MOMENTS = {"order": "placed_at", "invoice": "issued_at"}


def day_column(
    spec: EntityMapping, entity: str, types: Mapping[str, TypeEngine[Any]], formats: SqlMapping
) -> str | None:
    """The column holding the day of ``entity``'s moment, when it sorts in SQL as the moments do."""
    field = MOMENTS.get(entity)
    moment: tuple[str, ...] | None = getattr(spec.fields, field, None) if field else None
    if not moment:
        return None
    day = moment[0]
    kind = types.get(day)
    if isinstance(kind, DateTime):
        return day if kind.timezone or formats.timezone == "UTC" else None
    if isinstance(kind, Date):
        return day
    return day if sorts_as_text(formats.date_format, "Ymd") else None


def newest_rows(base: Select[Any], table: Table, parent: str, day: str, ids: Sequence[str], keys: str) -> Select[Any]:
    """``base`` (the entity's columns and its ``where``) for the parents in the ``keys`` parameter, each
    parent's rows past the ``NEWEST`` parameter's rank left out.

    The rows are ranked by their ``ids`` columns, parent and day alone, and only those kept are read whole,
    joined back by their ids: sorting and ranking whole rows (every column carried through the window) took
    half as long again in SQLite as ranking these and joining (docs/benchmarks.md). The ranking applies
    ``base``'s ``where``, so that a row it leaves out never takes a rank.
    """
    rank = func.rank().over(
        partition_by=table.c[parent],
        order_by=(table.c[day].is_(None), table.c[day].desc()),  # rows without a day last, on every database
    )
    ranking = select(*(table.c[column] for column in ids), rank.label(RANK)).where(
        table.c[parent].in_(bindparam(keys, expanding=True))
    )
    if base.whereclause is not None:
        ranking = ranking.where(base.whereclause)
    ranked = ranking.subquery()
    same_row = and_(*(table.c[column] == ranked.c[column] for column in ids))
    return base.join_from(table, ranked, same_row).where(ranked.c[RANK] <= bindparam(NEWEST))
