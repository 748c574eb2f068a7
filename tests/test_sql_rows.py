"""Moments held as date and time text: the parsed-once path reads them as the column-by-column path does."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest

from crmgraph.adapters.sql.mapping import DEFAULT_MAPPING, EntityMapping, SqlMapping
from crmgraph.adapters.sql.rows import Row
from crmgraph.errors import UpstreamBadResponse

SPEC = cast(EntityMapping, SimpleNamespace(table="VBAK", id=("VBELN",)))
PLACED = ("ERDAT", "ERZET")


def _row(mapping: SqlMapping | None = None, **columns: Any) -> Row:
    return Row("erp", SPEC, {"VBELN": "0001000001", **columns}, mapping or DEFAULT_MAPPING)


def test_date_and_time_text_is_a_moment_in_the_configured_zone() -> None:
    assert _row(ERDAT="20260701", ERZET="065906").moment(PLACED) == datetime(2026, 7, 1, 6, 59, 6, tzinfo=UTC)
    berlin = DEFAULT_MAPPING.model_copy(update={"timezone": "Europe/Berlin"})
    moment = _row(berlin, ERDAT="20260701", ERZET="065906").moment(PLACED)
    assert moment == datetime(2026, 7, 1, 6, 59, 6, tzinfo=ZoneInfo("Europe/Berlin"))
    assert moment is not None
    offset = moment.utcoffset()
    assert offset is not None and offset.total_seconds() == 7200


def test_padded_blank_and_null_texts_read_as_before() -> None:
    # CHAR columns come back blank-padded from some databases.
    assert _row(ERDAT="20260701  ", ERZET="065906 ").moment(PLACED) == datetime(2026, 7, 1, 6, 59, 6, tzinfo=UTC)
    assert _row(ERDAT="20260701", ERZET="   ").moment(PLACED) == datetime(2026, 7, 1, tzinfo=UTC)  # no time: midnight
    assert _row(ERDAT="20260701", ERZET=None).moment(PLACED) == datetime(2026, 7, 1, tzinfo=UTC)
    assert _row(ERDAT="00000000", ERZET="065906").moment(PLACED) is None  # SAP's initial date
    assert _row(ERDAT="   ", ERZET="065906").moment(PLACED) is None
    assert _row(ERDAT="20260701").moment(("ERDAT",)) == datetime(2026, 7, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("columns", "named"),
    [({"ERDAT": "2026-07-01", "ERZET": "065906"}, "ERDAT is '2026-07-01', not a date like %Y%m%d"),
     ({"ERDAT": "20260701", "ERZET": "99xx"}, "ERZET is '99xx', not a time like %H%M%S")],
)  # fmt: skip
def test_text_that_is_no_moment_fails_naming_its_column(columns: dict[str, str], named: str) -> None:
    with pytest.raises(UpstreamBadResponse) as raised:
        _row(None, **columns).moment(PLACED)
    assert named in str(raised.value)
    assert "VBAK 0001000001" in str(raised.value)


def test_values_the_driver_typed_take_the_general_path() -> None:
    typed = datetime(2026, 7, 1, 6, 59, 6)
    assert _row(ERDAT=typed, ERZET="000000").moment(PLACED) == typed.replace(tzinfo=UTC)
    assert _row(ERDAT=typed.date(), ERZET="065906").moment(PLACED) == datetime(2026, 7, 1, 6, 59, 6, tzinfo=UTC)
