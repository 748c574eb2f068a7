"""The ERP's change stamp is set by the database for any writer, on SQLite, PostgreSQL and MariaDB alike, so a
poller reading ``ZZAEDAT``/``ZZAEZET`` from a moment on sees every order placed or changed and every master
record changed, whoever wrote it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, insert, select, tuple_, update

from crmgraph.demo.layout import EstateLayout
from crmgraph.demo.seed.generate import reset_erp_schema
from crmgraph.demo.stores.erp import KNA1, VBAK, VBAP, change_stamp

ORDER_NUMBER, DEBTOR_NUMBER = "0009000001", "0000100001"
ORDER = {"VBELN": "0009000001", "ERDAT": "20261201", "ERZET": "101500", "AUART": "TA", "KUNNR": "0000100001",
         "NETWR": 100, "WAERK": "EUR", "GBSTK": "A"}  # fmt: skip
LINE = {"VBELN": "0009000001", "POSNR": "000010", "MATNR": "M-1", "ARKTX": "Widget", "KWMENG": 1, "VRKME": "ST",
        "NETPR": 100, "NETWR": 100, "WAERK": "EUR"}  # fmt: skip
DEBTOR = {"KUNNR": "0000100001", "NAME1": "Acme", "LAND1": "DE", "WAERS": "EUR", "ERDAT": "20200101"}


@pytest.fixture(params=["sqlite", "postgres_url", "mariadb_url"])
def erp(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = (
        f"sqlite:///{tmp_path / 'erp.sqlite'}" if request.param == "sqlite" else request.getfixturevalue(request.param)
    )
    engine = create_engine(url)
    reset_erp_schema(engine)
    yield engine
    engine.dispose()


def stamp_of(engine: Engine, order: str) -> datetime:
    with engine.connect() as conn:
        number = VBAK.c.VBELN
        day, time = conn.execute(select(VBAK.c.ZZAEDAT, VBAK.c.ZZAEZET).where(number == order)).one()
    return datetime.strptime(day + time, "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def changed_since(engine: Engine, moment: datetime) -> list[str]:
    """What a poller asks: the orders whose stamp is at or after ``moment``."""
    since = change_stamp(moment)
    with engine.connect() as conn:
        rows = conn.execute(
            select(VBAK.c.VBELN).where(tuple_(VBAK.c.ZZAEDAT, VBAK.c.ZZAEZET) >= (since["ZZAEDAT"], since["ZZAEZET"]))
        )
        return [row[0] for row in rows]


def test_an_order_inserted_without_a_stamp_is_stamped_with_the_moment_of_the_insert(erp: Engine) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    with erp.begin() as conn:
        conn.execute(insert(VBAK).values(**ORDER))
        conn.execute(insert(VBAP).values(**LINE))
    stamped = stamp_of(erp, ORDER_NUMBER)
    assert before - timedelta(seconds=1) <= stamped <= datetime.now(UTC) + timedelta(seconds=1)
    assert changed_since(erp, before) == [ORDER["VBELN"]]


def test_an_update_that_leaves_the_stamp_alone_moves_it_and_an_explicit_stamp_is_kept(erp: Engine) -> None:
    with erp.begin() as conn:
        conn.execute(insert(VBAK).values(**ORDER, ZZAEDAT="20261201", ZZAEZET="101500"))
        conn.execute(insert(KNA1).values(**DEBTOR, ZZAEDAT="20200101", ZZAEZET="000000"))
    assert stamp_of(erp, ORDER_NUMBER) == datetime(2026, 12, 1, 10, 15, tzinfo=UTC)
    before = datetime.now(UTC).replace(microsecond=0)
    assert changed_since(erp, before) == []
    with erp.begin() as conn:
        conn.execute(update(VBAK).where(VBAK.c.VBELN == ORDER_NUMBER).values(GBSTK="B"))
        conn.execute(update(KNA1).where(KNA1.c.KUNNR == DEBTOR_NUMBER).values(ZZAEDAT="20210101", ZZAEZET="120000"))
    assert changed_since(erp, before) == [ORDER["VBELN"]]
    with erp.connect() as conn:
        assert conn.execute(select(KNA1.c.ZZAEDAT, KNA1.c.ZZAEZET)).one() == ("20210101", "120000")


def test_a_debtor_inserted_or_changed_without_a_stamp_is_stamped(erp: Engine) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    with erp.begin() as conn:
        conn.execute(insert(KNA1).values(**DEBTOR))
    with erp.connect() as conn:
        day, time = conn.execute(select(KNA1.c.ZZAEDAT, KNA1.c.ZZAEZET)).one()
    assert (day, time) >= (change_stamp(before)["ZZAEDAT"], change_stamp(before)["ZZAEZET"])


def test_seeded_orders_are_stamped_with_their_creation(estate_layout: EstateLayout) -> None:
    engine = create_engine(estate_layout.erp_url)
    with engine.connect() as conn:
        rows = conn.execute(select(VBAK.c.ERDAT, VBAK.c.ERZET, VBAK.c.ZZAEDAT, VBAK.c.ZZAEZET)).all()
    engine.dispose()
    assert rows and all((erdat, erzet) == (day, time) for erdat, erzet, day, time in rows)
