"""The reports over the analytic store: one module per report, each a few SQL statements (SQLAlchemy Core)
that DuckDB and PostgreSQL run alike, answering plain dataclasses that the schema
(:mod:`crmgraph.schema.reports`) and the exports (:mod:`crmgraph.web.report_exports`) show.

    filters     the filter and the row scope as SQL conditions
    registry    the reports by name
    runner      run one off the event loop, cached per store version, with its freshness
    drilldown   the opaque tokens that name a figure; the customers behind it
"""

from __future__ import annotations

from crmgraph.analytics.reports.filters import ReportFilter, ReportRequest, Scope, scope_of
from crmgraph.analytics.reports.registry import REPORTS, Report
from crmgraph.analytics.reports.runner import customer_page, customers_query, report, report_now

__all__ = [
    "REPORTS",
    "Report",
    "ReportFilter",
    "ReportRequest",
    "Scope",
    "customer_page",
    "customers_query",
    "report",
    "report_now",
    "scope_of",
]
