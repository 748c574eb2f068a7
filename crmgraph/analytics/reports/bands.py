"""Rank bands: customers ranked by a value, highest first, cut at fixed shares of those that have one.

Ranks are by the value, then by customer id (ties break the same way every time), so a band's members are
the same on every read of the same data: a drill-down lists exactly the customers a band counted.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal

# (key, label, the band holds ranks up to this many tenths of those ranked)
RANKED = (
    ("top10", "Top 10%", 1),
    ("next20", "Next 20%", 3),
    ("middle30", "Middle 30%", 6),
    ("bottom40", "Bottom 40%", 10),
)


def band_of(value: Any, ranked: ColumnElement[bool], customer_id: Any, unranked: str) -> ColumnElement[str]:
    """The band key of each row: among the ``ranked`` rows (those with a value), by rank of ``value``
    descending; ``unranked`` for the others. A window expression: select it beside the row."""
    position = func.row_number().over(order_by=(case((ranked, 0), else_=1), value.desc(), customer_id))
    count = func.sum(case((ranked, 1), else_=0)).over()
    # rank <= ceil(tenths * n / 10), in integers: 10 * rank <= tenths * n + 9
    whens = [(and_(ranked, position * 10 <= count * tenths + 9), literal(key)) for key, _, tenths in RANKED]
    return case(*whens, else_=literal(unranked))


def labels(unranked: tuple[str, str]) -> list[tuple[str, str]]:
    """(key, label) of every band, in order, the unranked one last."""
    return [(key, label) for key, label, _ in RANKED] + [unranked]
