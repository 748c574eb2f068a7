"""The ``zendesk`` adapter: Zendesk Support API v2 (organizations, users, tickets and their comments)."""

from crmgraph.adapters.zendesk.adapter import ZendeskAdapter

__all__ = ["ZendeskAdapter"]
