"""Which children a joined read may answer for: only what it actually saw, never more."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

from crmgraph.records import Money, OrderLineRecord, OrderRecord, OrderStatus, Record
from crmgraph.schema.follow_up import CHILDREN, _settle

LINES = next(rule for rule in CHILDREN if rule.child == "order_line")
EUR = Money(Decimal("1.00"), "EUR")


def _order(number: str) -> OrderRecord:
    return OrderRecord("erp", number, number, "P1", datetime(2026, 1, 1, tzinfo=UTC), OrderStatus.OPEN, EUR)


def _line(order: str, position: int) -> OrderLineRecord:
    return OrderLineRecord("erp", f"{order}/{position}", order, position, "SKU", "thing", Decimal(1), "EA", EUR, EUR)


def _covered(
    parents: list[Record], joined: list[Record] | Exception, row_limit: int | None = 10, of_now: bool = False
) -> object:
    async def scenario() -> object:
        loop = asyncio.get_running_loop()
        parents_read, joined_read, answers = loop.create_future(), loop.create_future(), loop.create_future()
        parents_read.set_result(parents)
        if isinstance(joined, Exception):
            joined_read.set_exception(joined)
        else:
            joined_read.set_result(joined)
        _settle(LINES, row_limit, lambda: of_now, joined_read, parents_read, answers, None)
        return answers.result()

    return asyncio.run(scenario())


def test_a_parent_the_join_found_no_children_of_has_none_when_both_reads_are_of_now() -> None:
    covered = _covered([_order("1"), _order("2")], [_line("1", 10), _line("1", 20)], of_now=True)
    assert covered == {"1": [_line("1", 10), _line("1", 20)], "2": []}


def test_from_the_cache_a_parent_the_join_found_no_children_of_is_left_to_its_own_read() -> None:
    """Order 2 may be newer than the joined read (the two are cached apart): only its own read can tell."""
    covered = _covered([_order("1"), _order("2")], [_line("1", 10), _line("1", 20)])
    assert covered == {"1": [_line("1", 10), _line("1", 20)]}


def test_children_of_a_parent_the_parents_read_did_not_list_are_left_out() -> None:
    assert _covered([_order("1")], [_line("1", 10), _line("3", 10)]) == {"1": [_line("1", 10)]}


def test_a_failed_or_cut_joined_read_covers_nothing() -> None:
    assert _covered([_order("1")], RuntimeError("statement timeout")) == {}
    assert _covered([_order("1")], [_line("1", n) for n in range(3)], row_limit=2) == {}
