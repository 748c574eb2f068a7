"""Whether someone is at work at a moment, by their working hours in their own time zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from crmgraph.workflows.assignment.settings import Day, WorkingHours

DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def at_work(hours: WorkingHours | None, now: datetime) -> bool:
    """No hours: always. A shift whose end is before its start runs over midnight (22:00-06:00)."""
    if hours is None:
        return True
    local = now.astimezone(ZoneInfo(hours.time_zone))
    moment, today = local.time(), DAYS[local.weekday()]
    if hours.start <= hours.end:
        return today in hours.days and hours.start <= moment < hours.end
    yesterday = DAYS[(local - timedelta(days=1)).weekday()]
    return (today in hours.days and moment >= hours.start) or (yesterday in hours.days and moment < hours.end)
