"""The reports by name (the GraphQL root field's name): how each computes, what it reads, who is behind a figure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from sqlalchemy import Connection, Select

from crmgraph.analytics.reports import campaigns, churn, complaints, funnel, service, value
from crmgraph.analytics.reports.filters import ReportRequest
from crmgraph.analytics.settings import ReportsConfig


@dataclass(frozen=True)
class Report:
    name: str
    title: str
    parts: tuple[str, ...]  # the freshness entities it reads
    compute: Callable[[Connection, ReportRequest, ReportsConfig], Any]
    customers_behind: Callable[[str, ReportRequest, ReportsConfig], Select[Any] | None]


def _report(module: ModuleType, title: str) -> Report:
    return Report(module.NAME, title, tuple(module.PARTS), module.compute, module.customers_behind)


REPORTS: dict[str, Report] = {
    report.name: report
    for report in (
        _report(funnel, "Sales funnel"),
        _report(service, "Service: response and resolution against SLA"),
        _report(campaigns, "Campaign ROI"),
        _report(value, "Customer value"),
        _report(complaints, "Complaints against revenue"),
        _report(churn, "Churn risk"),
    )
}
