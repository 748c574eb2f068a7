"""How each system writes an instant (f-strings rather than ``strftime``: millions of stamps per estate)."""

from __future__ import annotations

from datetime import datetime


def hubspot(moment: datetime) -> str:
    m = moment
    return f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}.000Z"


def zendesk(moment: datetime) -> str:
    m = moment
    return f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}Z"


def sap_date(moment: datetime) -> str:
    return f"{moment.year:04d}{moment.month:02d}{moment.day:02d}"


def sap_time(moment: datetime) -> str:
    return f"{moment.hour:02d}{moment.minute:02d}{moment.second:02d}"
