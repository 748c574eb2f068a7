"""The demo legacy estate: the systems crmgraph federates, simulated faithfully and instrumented.

- a CRM speaking a subset of the HubSpot CRM v3 objects API (``crm_api``),
- a ticket system speaking a subset of the Zendesk Support v2 API (``ticket_api``),
- an ERP that is a legacy SQL database with SAP-style tables (``stores.erp``),

all filled by a deterministic seed generator (``seed``) that also writes the identity ground truth.
"""
