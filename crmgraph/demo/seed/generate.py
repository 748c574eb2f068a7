"""Generate a whole demo estate, or load just the ERP into another database."""

from __future__ import annotations

import shutil
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

from crmgraph.demo.layout import EstateLayout
from crmgraph.demo.seed.crm_projection import owners, project_crm
from crmgraph.demo.seed.erp_projection import project_erp, project_erp_later
from crmgraph.demo.seed.ids import Ids
from crmgraph.demo.seed.manifest import Manifest
from crmgraph.demo.seed.marketing_projection import project_marketing
from crmgraph.demo.seed.party import AS_OF, Party, make_party
from crmgraph.demo.seed.passes import run_pass
from crmgraph.demo.seed.sink import (
    CRM_INSERTS,
    MARKETING_INSERTS,
    TICKET_INSERTS,
    LabelSink,
    SqliteSink,
    SqlSink,
    TruthSink,
    open_truth,
)
from crmgraph.demo.seed.ticket_projection import agents, project_tickets, project_tickets_later
from crmgraph.demo.stores import crm as crm_store
from crmgraph.demo.stores import marketing as marketing_store
from crmgraph.demo.stores import tickets as ticket_store
from crmgraph.demo.stores.erp import metadata as erp_metadata

Progress = Callable[[int, int], None]  # (customers done, customers in all)
OWNERS = 40
PROGRESS_EVERY = 500


def _fast_sqlite_load(engine: Engine) -> None:
    """A fresh file being filled: no journal, no fsync (a crash just means generating again)."""

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=OFF")
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.close()


def erp_engine(url: str, *, bulk_load: bool = False) -> Engine:
    engine = create_engine(url)
    if bulk_load and engine.dialect.name == "sqlite":
        _fast_sqlite_load(engine)
    return engine


def reset_erp_schema(engine: Engine) -> None:
    erp_metadata.drop_all(engine)
    erp_metadata.create_all(engine)


def generate_estate(layout: EstateLayout, *, customers: int, seed: int, progress: Progress | None = None) -> Manifest:
    """Write the CRM, ticket, ERP and marketing stores, the ground truth and the manifest under ``layout.root``.

    Files are built in a scratch directory and moved into place at the end, manifest last, so an
    interrupted run never leaves an estate that looks complete.
    """
    if customers < 1:
        raise ValueError("customers must be at least 1")
    started = time.monotonic()
    layout.root.mkdir(parents=True, exist_ok=True)
    layout.manifest.unlink(missing_ok=True)
    scratch = EstateLayout(layout.root / ".partial")
    shutil.rmtree(scratch.root, ignore_errors=True)
    scratch.root.mkdir()

    ids = Ids(seed)
    crm = SqliteSink(crm_store.connect(scratch.crm_db), CRM_INSERTS)
    tickets = SqliteSink(ticket_store.connect(scratch.tickets_db), TICKET_INSERTS)
    marketing = SqliteSink(marketing_store.connect(scratch.marketing_db), MARKETING_INSERTS)
    engine = erp_engine(scratch.erp_url, bulk_load=True)
    reset_erp_schema(engine)
    erp = SqlSink(engine)
    with open_truth(scratch.ground_truth) as handle, open_truth(scratch.ticket_labels) as label_handle:
        truth = TruthSink(handle)
        labels = LabelSink(label_handle)
        for row in owners(OWNERS):
            crm.add("owners", row)
        agent_rows = agents(ids)
        for row in agent_rows:
            tickets.add("users", row)
        agent_ids = [int(str(row[0])) for row in agent_rows]
        # One pass per system, each in its own order of the parties (see ids.py and passes.py); a party is
        # drawn anew in each pass, which costs less than keeping the whole estate in memory.
        done = 0

        def tick() -> None:
            nonlocal done
            done += 1
            if progress is not None and done % PROGRESS_EVERY == 0:
                progress(done // 4, customers)

        def draw(index: int) -> Party:
            return make_party(seed, index, OWNERS)

        run_pass(
            "crm",
            ids.visiting_order("crm", customers),
            draw,
            lambda party: project_crm(party, seed, ids, crm, truth),
            lambda party, later: None,
            tick,
        )
        run_pass(
            "tickets",
            ids.visiting_order("tickets", customers),
            draw,
            lambda party: project_tickets(party, seed, ids, agent_ids, tickets, truth, labels),
            lambda party, later: project_tickets_later(party, later, seed, ids, agent_ids, tickets, truth, labels),
            tick,
        )
        _erp_pass(seed, ids, customers, erp, truth, tick)
        # Last, so that it cannot move a row of the others (it draws from streams of its own anyway).
        project_marketing(seed, customers, OWNERS, marketing, truth, tick)
        crm.close()
        tickets.close()
        erp.close()
        marketing.close()
    crm_store.create_indexes(crm.conn)
    ticket_store.create_indexes(tickets.conn)
    marketing_store.create_indexes(marketing.conn)
    crm.conn.close()
    tickets.conn.close()
    marketing.conn.close()
    engine.dispose()
    if progress is not None:
        progress(customers, customers)

    for name in (
        "crm.sqlite",
        "tickets.sqlite",
        "erp.sqlite",
        "marketing.sqlite",
        "ground_truth.csv",
        "tickets_labels.csv",
    ):
        (scratch.root / name).replace(layout.root / name)
    scratch.root.rmdir()
    noise: defaultdict[str, dict[str, int]] = defaultdict(dict)
    for (system, obj, kind), affected in truth.noise.items():
        noise[f"{system}/{obj}"][kind] = affected
    by_kind: defaultdict[str, dict[str, int]] = defaultdict(dict)
    for (kind, value), count in sorted(labels.counts.items()):
        by_kind[f"tickets/{kind}"][value] = count
    manifest = Manifest(
        seed=seed,
        customers=customers,
        as_of=AS_OF.isoformat(),
        seconds=round(time.monotonic() - started, 2),
        rows={
            "crm": dict(crm.rows),
            "tickets": dict(tickets.rows),
            "erp": dict(erp.rows),
            "marketing": dict(marketing.rows),
        },
        records={f"{system}/{obj}": n for (system, obj), n in truth.records.items()},
        noise=dict(noise),
        labels=dict(by_kind),
    )
    manifest.write(layout.manifest)
    return manifest


def load_erp(url: str, *, customers: int, seed: int, progress: Progress | None = None) -> dict[str, int]:
    """(Re)create the ERP tables at ``url`` and load the same rows the full estate would hold."""
    engine = erp_engine(url, bulk_load=True)
    try:
        reset_erp_schema(engine)
        ids = Ids(seed)
        sink = SqlSink(engine)
        truth = TruthSink(None)
        done = 0

        def tick() -> None:
            nonlocal done
            done += 1
            if progress is not None and done % PROGRESS_EVERY == 0:
                progress(done, customers)

        _erp_pass(seed, ids, customers, sink, truth, tick)
        sink.close()
    finally:
        engine.dispose()
    return dict(sink.rows)


def _erp_pass(seed: int, ids: Ids, customers: int, sink: SqlSink, truth: TruthSink, tick: Callable[[], None]) -> None:
    """The ERP's pass: the same in a whole estate and in ``load_erp``, so both write the same rows."""
    run_pass(
        "erp",
        ids.visiting_order("erp", customers),
        lambda index: make_party(seed, index, OWNERS),
        lambda party: project_erp(party, seed, ids, sink, truth),
        lambda party, later: project_erp_later(party, later, seed, ids, sink, truth),
        tick,
    )


def data_dir_is_current(root: Path, *, seed: int, customers: int) -> bool:
    manifest = Manifest.read(EstateLayout(root).manifest)
    return manifest is not None and manifest.matches(seed=seed, customers=customers)
