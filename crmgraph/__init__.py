"""crmgraph: one GraphQL customer graph over the CRM, ERP and ticket systems a company already runs."""

from __future__ import annotations

__version__ = "0.1.0"
