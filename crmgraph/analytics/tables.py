"""The analytic store's tables: one row per record a report reads, already joined to its golden customer.

The same SQLAlchemy Core tables serve DuckDB (embedded, the default) and PostgreSQL. Amounts are kept in
the reporting currency (``reports.currency``, converted at the configured rate; NULL when no rate is
known, the original kept beside it). ``customer_id`` is the golden customer the record belongs to (NULL while
identity resolution has not filed it). Keys are ``source:id`` strings so that two systems' ids never meet.

Who writes: :mod:`crmgraph.analytics.loader` (``crmgraph reports rebuild``, every table at once) and
:mod:`crmgraph.analytics.incremental` (the rows a change event names). Who reads: the report queries.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)

metadata = MetaData()

AMOUNT = Numeric(18, 2)


def _key(name: str) -> Column[str]:
    return Column(name, String(200), primary_key=True)


customers = Table(
    "customers",
    metadata,
    _key("customer_id"),
    Column("name", String(300)),
    Column("country", String(2)),
    Column("owner_id", String(100)),
    Column("industry", String(100)),
    Column("lifecycle_stage", String(100)),
    Column("created_at", DateTime(timezone=True)),
)

# The marketing segments a customer's leads are in: the reports' "segment" filter.
customer_segments = Table(
    "customer_segments",
    metadata,
    _key("customer_id"),
    _key("segment_key"),
    Column("segment_name", String(300)),
)

deals = Table(
    "deals",
    metadata,
    _key("deal_key"),
    Column("source", String(100), nullable=False),
    Column("source_id", String(100), nullable=False),
    Column("customer_id", String(200), index=True),
    Column("party_id", String(100)),  # the source's own party: how the row is filed again when identity changes
    Column("owner_id", String(100)),
    Column("name", String(300)),
    Column("stage", String(100), nullable=False),  # the pipeline stage id, as the CRM names it
    Column("outcome", String(10), nullable=False),  # OPEN, WON, LOST
    Column("amount", AMOUNT),  # reporting currency
    Column("amount_original", AMOUNT),
    Column("currency", String(3)),
    Column("created_at", DateTime(timezone=True)),
    Column("close_date", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
)

# When each deal entered each stage (its stage history): conversion and velocity between stages.
deal_stages = Table(
    "deal_stages",
    metadata,
    _key("deal_key"),
    _key("stage"),
    Column("entered_at", DateTime(timezone=True), nullable=False),
)

tickets = Table(
    "tickets",
    metadata,
    _key("ticket_key"),
    Column("source", String(100), nullable=False),
    Column("source_id", String(100), nullable=False),
    Column("customer_id", String(200), index=True),
    Column("party_id", String(100)),  # the source's own party (organization), as for deals
    Column("group_id", String(100)),
    Column("assignee_id", String(100)),
    Column("priority", String(10)),  # URGENT, HIGH, NORMAL, LOW; NULL when the ticket has none
    Column("kind", String(50)),  # the system's own type of request (Zendesk: problem, incident, ...)
    # What the request is about (complaint, billing, delivery, ...): the triage classifier's category
    # (workflows.triage) where one is configured, else the system's type. The reports' "category".
    Column("category", String(50)),
    Column("tags", String(2000), nullable=False, default=""),  # ",tag1,tag2," so that one LIKE finds a tag
    Column("complaint", Boolean, nullable=False, default=False),
    Column("status", String(10), nullable=False),  # NEW, OPEN, PENDING, ON_HOLD, SOLVED, CLOSED
    Column("created_at", DateTime(timezone=True)),
    Column("first_reply_at", DateTime(timezone=True)),
    Column("solved_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
)

# Orders and invoices as their source aggregated them (a GROUP BY pushed down to the SQL ERP): one row per
# party, day and currency. ``customer_id`` is the party's golden customer when the row was written.
party_days = Table(
    "party_days",
    metadata,
    _key("source"),
    _key("entity"),  # order, invoice
    _key("party_id"),
    Column("day", Date, primary_key=True),
    _key("currency"),
    Column("customer_id", String(200), index=True),
    Column("count", Integer, nullable=False),
    Column("total", AMOUNT),  # reporting currency
    Column("total_original", AMOUNT, nullable=False),
)

campaigns = Table(
    "campaigns",
    metadata,
    _key("campaign_key"),
    Column("source", String(100), nullable=False),
    Column("source_id", String(100), nullable=False),
    Column("name", String(300), nullable=False),
    Column("channel", String(100)),
    Column("cost", AMOUNT),  # reporting currency
    Column("starts_at", DateTime(timezone=True)),
    Column("ends_at", DateTime(timezone=True)),
)

leads = Table(
    "leads",
    metadata,
    _key("lead_key"),
    Column("source", String(100), nullable=False),
    Column("source_id", String(100), nullable=False),
    Column("customer_id", String(200), index=True),
    Column("owner_id", String(100)),
    Column("stage", String(100)),
    Column("created_at", DateTime(timezone=True)),
)

campaign_members = Table(
    "campaign_members",
    metadata,
    _key("campaign_key"),
    _key("lead_key"),
)

# The customer value model's answer per customer (BG/NBD + Gamma-Gamma over the order history).
customer_value = Table(
    "customer_value",
    metadata,
    _key("customer_id"),
    Column("orders", Integer, nullable=False),
    Column("frequency", Integer, nullable=False),  # repeat purchase days
    Column("recency_days", Float, nullable=False),
    Column("age_days", Float, nullable=False),
    Column("monetary", Float),  # mean value of a repeat purchase day, reporting currency
    Column("lifetime_revenue", AMOUNT),  # invoiced, reporting currency
    Column("p_alive", Float),
    Column("expected_purchases", Float),
    Column("predicted_clv", Float),
    Column("computed_at", DateTime(timezone=True), nullable=False),
)

# How fresh each part of the store is: ``name`` is ``source.entity`` (``crm.deal``) or a derived table
# (``model.customer_value``). Every report answers with the oldest of the parts it read.
freshness = Table(
    "freshness",
    metadata,
    _key("name"),
    Column("loaded_at", DateTime(timezone=True)),  # the last full load (rebuild)
    Column("changed_at", DateTime(timezone=True)),  # the last change event applied
    Column("rows", Integer, nullable=False, default=0),
)

# The store's own state: ``store`` counts committed writes (report caches key on it); ``value_model`` holds
# the fitted parameters of the customer value model (JSON), so incremental updates predict without a refit.
store_state = Table(
    "store_state",
    metadata,
    _key("name"),
    Column("version", BigInteger, nullable=False, default=0),
    Column("detail", Text),
    Column("updated_at", DateTime(timezone=True)),
)
