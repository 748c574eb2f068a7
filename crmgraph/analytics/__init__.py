"""Reports: the figures management reads (funnel, service, campaign ROI, customer value, cross-department).

A facade that fetches live per request cannot sum every deal of a quarter by walking every customer, so
reports have their own data path (docs/reports.md): aggregation is pushed down to a source that can do it
(the SQL ERP's ``GROUP BY``), the rest is kept in an analytic store (DuckDB embedded, PostgreSQL when
configured) filled by ``crmgraph reports rebuild`` and kept current from the change events.
"""
