"""Rows and JSON records read again are not mapped again, and never answer for one that changed.

The SQL adapter reads the demo ERP's SQLite file (a scratch copy each test damages or changes); the memos
are also driven directly, with rows whose values are equal in Python but not to a mapping, and with the
Zendesk mapping on records that differ in one character.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update

from crmgraph.adapters.sdk.remembered import mapped_once
from crmgraph.adapters.sql import SqlAdapter
from crmgraph.adapters.sql.mapped_rows import MappedRows
from crmgraph.adapters.zendesk.mapping import ZendeskMapping
from crmgraph.demo.stores.erp import VBAK
from crmgraph.errors import UpstreamBadResponse
from crmgraph.records import OrderRecord
from tests.test_adapter_sql import _change, _scalars, erp_copy, sqlite_url  # noqa: F401  (fixtures)


class Counted:
    """A row's mapping that counts how often it ran."""

    def __init__(self, value: Any) -> None:
        self.value = value
        self.runs = 0

    def __call__(self) -> Any:
        self.runs += 1
        return self.value


def test_a_row_read_again_is_mapped_once_and_equal_values_of_other_types_are_other_rows() -> None:
    memo = MappedRows()
    kind = object()
    read = Counted(("id", "record"))
    assert memo.mapped(kind, {"a": 1, "b": "x"}, read, lambda _: True) == ("id", "record")
    assert memo.mapped(kind, {"a": 1, "b": "x"}, read, lambda _: True) == ("id", "record")
    assert read.runs == 1
    for other in ({"a": 1.0, "b": "x"}, {"a": True, "b": "x"}, {"a": 1, "b": "x "}, {"a": 1, "b": "x", "c": None}):
        memo.mapped(kind, other, read, lambda _: True)
    assert read.runs == 5, "1.0, True, a blank and another column are other rows"
    memo.mapped(object(), {"a": 1, "b": "x"}, read, lambda _: True)
    assert read.runs == 6, "another entity's mapping maps its own rows"


def test_what_is_not_kept_is_mapped_every_time_and_unhashable_values_are_read_as_they_come() -> None:
    memo = MappedRows()
    kind = object()
    failing = Counted(("id", "error"))
    for _ in range(2):
        memo.mapped(kind, {"a": 1}, failing, lambda _: False)
    listed = Counted(("id", "record"))
    for _ in range(2):
        memo.mapped(kind, {"a": [1, 2]}, listed, lambda _: True)
    assert (failing.runs, listed.runs) == (2, 2)


def test_the_memo_forgets_everything_once_full() -> None:
    memo = MappedRows(capacity=2)
    kind = object()
    read = Counted("record")
    for value in (1, 2, 3, 1):
        memo.mapped(kind, {"a": value}, read, lambda _: True)
    assert read.runs == 4, "full at the third row: the first was forgotten with the second"


def _order(url: str, order_id: str) -> Any:
    async def main() -> Any:
        adapter = SqlAdapter("erp", {"url": url})
        await adapter.open()
        try:
            first = (await adapter.fetch("order", [order_id]))[0]
            _change(url, update(VBAK).where(order_id == VBAK.c.VBELN).values(NETWR=Decimal("12345.67")))
            changed = (await adapter.fetch("order", [order_id]))[0]
            _change(url, update(VBAK).where(order_id == VBAK.c.VBELN).values(GBSTK="Z"))
            broken = [(await adapter.fetch("order", [order_id]))[0] for _ in range(2)]
            _change(url, update(VBAK).where(order_id == VBAK.c.VBELN).values(GBSTK="C"))
            mended = (await adapter.fetch("order", [order_id]))[0]
            again = (await adapter.fetch("order", [order_id]))[0]
            return first, changed, broken, mended, again
        finally:
            await adapter.close()

    return asyncio.run(main())


def test_a_changed_row_is_read_as_it_now_is_and_a_broken_one_fails_every_read(erp_copy: str) -> None:  # noqa: F811
    order_id = _scalars(erp_copy, select(VBAK.c.VBELN).order_by(VBAK.c.VBELN).limit(1))[0]
    first, changed, broken, mended, again = _order(erp_copy, order_id)
    assert isinstance(first, OrderRecord) and first.total.amount != Decimal("12345.67")
    assert isinstance(changed, OrderRecord) and changed.total.amount == Decimal("12345.67")
    assert all(isinstance(b, UpstreamBadResponse) and "GBSTK is 'Z'" in str(b) for b in broken)
    assert isinstance(mended, OrderRecord) and mended.total.amount == Decimal("12345.67")
    assert again is mended, "the same row again: the record mapped before"


@dataclass(frozen=True)
class CountingMapping:
    source: str
    runs: list[object]

    def __hash__(self) -> int:
        return hash(self.source)

    @mapped_once
    def thing(self, raw: object, extra: object = None) -> tuple[object, object]:
        self.runs.append(raw)
        if raw == {"bad": True}:
            raise ValueError("unreadable")
        return ("mapped", raw, extra)


def test_an_identical_json_record_is_mapped_once_and_any_difference_maps_anew() -> None:
    mapping = CountingMapping("crm", [])
    first = mapping.thing({"id": "1", "name": "Acme"})
    assert mapping.thing({"id": "1", "name": "Acme"}) is first
    assert len(mapping.runs) == 1
    for other, extra in (({"id": "1", "name": "Acme "}, None), ({"name": "Acme", "id": "1"}, None),
                         ({"id": "1", "name": "Acme"}, "p-2"), ({"id": "1", "name": "Acme"}, {"m": 1})):  # fmt: skip
        mapping.thing(other, extra)
    assert len(mapping.runs) == 5, "a blank, another key order, another argument: each mapped"
    assert CountingMapping("other", mapping.runs).thing({"id": "1", "name": "Acme"}) is not first
    for _ in range(2):
        with pytest.raises(ValueError):
            mapping.thing({"bad": True})
    assert len(mapping.runs) == 8, "a failure is not kept"
    mapping.thing({"id": "1", "name": "Acme"}, extra={1, 2})  # a set is not JSON: mapped as it comes, twice
    mapping.thing({"id": "1", "name": "Acme"}, extra={1, 2})
    assert len(mapping.runs) == 10


def test_a_ticket_changed_upstream_is_mapped_as_it_now_is() -> None:
    mapping = ZendeskMapping("tickets", "crm")
    raw = {"id": 7, "subject": "VAT", "status": "open", "organization_id": 3, "created_at": "2026-10-01T09:00:00Z"}
    before = mapping.ticket(raw)
    after = mapping.ticket({**raw, "status": "solved"})
    assert (before.status.value, after.status.value) == ("OPEN", "SOLVED")
    assert mapping.ticket(dict(raw)) is before
    with pytest.raises(UpstreamBadResponse):
        mapping.ticket({**raw, "status": "lost"})
