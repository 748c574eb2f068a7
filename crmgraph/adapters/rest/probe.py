"""``crmgraph check-config --probe``: a REST source's spec tried against the live API.

Per entity: the first page of its ``list`` (a few records), every record mapped; then ``get`` (or
``get_many``) of the first id, mapped. A report says which record failed on which field, or how many
mapped; nothing is written and nothing is cached.
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
    try:
        return [await _entity(adapter, name) for name in adapter.spec.entities]
    finally:
        await adapter.close()


async def _entity(adapter: RestAdapter, name: str) -> EntityProbe:
    spec = adapter.spec.entities[name]
    report = EntityProbe(name)
    if spec.list is None:
        report.skipped = "no list call to take records from"
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
