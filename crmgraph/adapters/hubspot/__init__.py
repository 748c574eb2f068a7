"""The ``hubspot`` adapter: HubSpot CRM v3 (companies, contacts, deals, owners, engagements)."""

from crmgraph.adapters.hubspot.adapter import HubSpotAdapter

__all__ = ["HubSpotAdapter"]
