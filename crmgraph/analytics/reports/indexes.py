"""The indexes the report queries want on a PostgreSQL store, created once per process when missing.

DuckDB scans its columns faster than an index would find the rows (its ART indexes serve point look-ups), so
an embedded store gets none. On PostgreSQL, the filters (period, owner, country, segment) and the joins
from a record to its customer and from a deal to its history are what the planner needs an index for.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

INDEXES = {
    "reports_customers_owner": "customers (owner_id)",
    "reports_customers_country": "customers (country)",
    "reports_segments_key": "customer_segments (segment_key, customer_id)",
    "reports_deals_created": "deals (created_at)",
    "reports_deals_owner": "deals (owner_id)",
    "reports_deals_closed": "deals (outcome, close_date)",
    "reports_tickets_created": "tickets (created_at)",
    "reports_tickets_status": "tickets (status)",
    "reports_party_days_customer": "party_days (customer_id, entity, day)",
    "reports_leads_owner": "leads (owner_id)",
    "reports_members_lead": "campaign_members (lead_key)",
}


def ensure_indexes(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as conn:
        for name, target in INDEXES.items():
            conn.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON {target}"))
