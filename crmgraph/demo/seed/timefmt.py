"""How each system writes an instant."""

from __future__ import annotations

from datetime import datetime


def hubspot(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def zendesk(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def sap_date(moment: datetime) -> str:
    return moment.strftime("%Y%m%d")


def sap_time(moment: datetime) -> str:
    return moment.strftime("%H%M%S")
