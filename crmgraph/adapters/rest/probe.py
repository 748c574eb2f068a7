"""``crmgraph check-config --probe``: a REST source's spec tried against the live API.

Per entity: the first page of its ``list`` (a few records), every record mapped; then ``get`` (or
``get_many``) of the first id, mapped. An entity without a list (a contact's activity) is tried through
one of its ``related`` calls, for a parent the probe of the parent's entity found. A report says which
record failed on which field, or how many mapped; nothing is written and nothing is cached.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from crmgraph.adapters.rest import calls
from crmgraph.adapters.rest.adapter import RestAdapter
from crmgraph.adapters.rest.mapping import MappingFailure
from crmgraph.errors import SourceError

PROBE_SIZE = 5


@dataclass
class EntityProbe:
    entity: str
    mapped: int = 0
    failures: list[str] = field(default_factory=list)  # "record 13: field updated_at: ..."
    skipped: str | None = None  # why nothing could be tried

    @property
    def ok(self) -> bool:
        return not self.failures


async def probe(adapter: RestAdapter) -> list[EntityProbe]:
    """Open ``adapter``, try each entity, close it."""
    await adapter.open()
    found: dict[str, str] = {}  # entity -> the first id its probe saw: parents for the related calls
    try:
        listed = {name: await _entity(adapter, name, found) for name in adapter.spec.entities}
        for name, report in listed.items():
            if report.skipped is not None:
                listed[name] = await _through_a_parent(adapter, name, found) or report
        return list(listed.values())
    finally:
        await adapter.close()


async def _through_a_parent(adapter: RestAdapter, name: str, found: dict[str, str]) -> EntityProbe | None:
    """The records of the first parent a related call of ``name`` can be asked for, mapped (by the adapter)."""
    by = next((by for by in adapter.spec.entities[name].related if by in found), None)
    if by is None:
        return None
    report = EntityProbe(name)
    try:
        (answer,) = await adapter.fetch_related(name, by, [found[by]])
    except SourceError as error:
        answer = error
    if isinstance(answer, SourceError):
        report.failures.append(f"{name} by {by} {found[by]}: {_said(answer)}")
    else:
        report.mapped = len(answer)
    return report


async def _entity(adapter: RestAdapter, name: str, found: dict[str, str]) -> EntityProbe:
    spec = adapter.spec.entities[name]
    report = EntityProbe(name)
    if spec.list is None:
        report.skipped = "no list call, and no related call for a record the probe found"
        return report
    try:
        answer = await calls.one_page(adapter.http, spec.list, {}, None, PROBE_SIZE)
    except SourceError as error:
        report.failures.append(f"list: {error.message}")
        return report
    first: str | None = None
    for raw in answer.rows[:PROBE_SIZE]:
        first = first or adapter.mappers[name].raw_id(raw)
        _try(report, partial(adapter.mappers[name], raw))
    if first is not None:
        found[name] = first
    if first is not None and (spec.get is not None or spec.get_many is not None):
        try:
            got = await adapter.fetch(name, [first])
        except SourceError as error:
            got = [error]
        if isinstance(got[0], SourceError):
            report.failures.append(f"get {first}: {_said(got[0])}")
        elif got[0] is None:
            report.failures.append(f"get {first}: the list gave it, but get finds no such record")
        else:
            report.mapped += 1
    return report


def _try(report: EntityProbe, map_one: Callable[[], object]) -> None:
    try:
        map_one()
    except SourceError as error:
        report.failures.append(_said(error))
    else:
        report.mapped += 1


def _said(error: SourceError) -> str:
    if isinstance(error, MappingFailure):
        return f"record {error.record_id or '(no id)'}: field {error.field}: {error.problem}"
    return error.message
