"""Drill-down tokens: which figure of which report, under which filter, a client wants the customers of.

A token is base64url of a small JSON object ``{"r": report, "k": figure key, "f": filter}``. It is opaque to
clients but not secret, and not signed: it carries no authority. The row scope is not in it; the scope of
the request that presents it is applied again, so a forged token names no customer the asker could not
see anyway.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import orjson

from crmgraph.analytics.reports.filters import ReportFilter
from crmgraph.errors import ClientError

MAX_TOKEN_LENGTH = 2048  # far above any token issued (a filter of six short fields)
ARGUMENT = "drillDown"


@dataclass(frozen=True)
class DrillDown:
    report: str
    key: str  # the figure within the report ("" for the whole report)
    filter: ReportFilter


def encode(report: str, key: str, report_filter: ReportFilter) -> str:
    raw = orjson.dumps({"r": report, "k": key, "f": report_filter.as_json()}, option=orjson.OPT_SORT_KEYS)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str, reports: frozenset[str]) -> DrillDown:
    """The figure a token names; a :class:`ClientError` naming the ``drillDown`` argument for anything this API
    did not issue (or a report it no longer has)."""
    shown = repr(token) if len(token) <= 40 else f"{token[:40]!r}... ({len(token)} characters)"
    bad = ClientError(
        f"{ARGUMENT}: {shown} is not a drill-down token this API issued (take one from a report's figure)"
    )
    if len(token) > MAX_TOKEN_LENGTH:
        raise bad
    try:
        value = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, orjson.JSONDecodeError, ValueError):
        raise bad from None
    if not isinstance(value, dict) or set(value) != {"r", "k", "f"}:
        raise bad
    report, key, raw_filter = value["r"], value["k"], value["f"]
    if (
        not isinstance(report, str)
        or report not in reports
        or not isinstance(key, str)
        or not isinstance(raw_filter, dict)
    ):
        raise bad
    try:
        report_filter = ReportFilter.from_json(raw_filter)
    except (TypeError, ValueError, ClientError):
        raise bad from None
    return DrillDown(report, key, report_filter)
