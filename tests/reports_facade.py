"""The facade in front of the test estate with an analytic store filled from tests/reports_data.py, and the
roles the reports' tests sign in as (tokens as tests/test_governance.py makes them)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from crmgraph.analytics.store import AnalyticStore
from tests.conftest import Estate
from tests.facade import Facade, facade_config, serve_facade, store_copy
from tests.reports_data import Slots, fill, slots_of_identity
from tests.test_governance import AUDIENCE, ISSUER, SECRET

GOVERNANCE = f"""auth: {{jwt: {{hs256_secret: "{SECRET}", issuer: {ISSUER}, audience: {AUDIENCE}}}, api_keys: false}}
        policy:
          roles:
            admin: {{mutations: ["*"]}}
            sales_rep: {{scope: [{{field: owner_id, attribute: owner_id}}]}}
            marketing: {{mask: [Customer.email, CustomerValueRow.name, ChurnRiskRow.name]}}
            analyst: {{deny: [CampaignRoiReport.roi, CampaignRoi.roi, FunnelOwner.winRate]}}
        reports: {{store_url: "{{store_url}}"}}"""


@contextmanager
def reports_facade(estate: Estate, linked_identity: str, folder: Path) -> Iterator[tuple[Facade, Slots]]:
    """The facade, and which real customers and owners the store's slots stand for."""
    identity = store_copy(linked_identity, folder)
    slots = slots_of_identity(identity)
    store_url = f"duckdb:///{folder / 'analytics.duckdb'}"
    store = AnalyticStore(store_url)
    fill(store, slots)
    store.close()  # DuckDB: one process writes a file; the facade opens it again
    governance = GOVERNANCE.replace("{store_url}", store_url)
    config = facade_config(estate.crm_url, estate.tickets_url, estate.layout.erp_url, identity,
                           namespace=f"reports-{folder.name}", governance=governance)  # fmt: skip
    with serve_facade(config) as running:
        yield running, slots
