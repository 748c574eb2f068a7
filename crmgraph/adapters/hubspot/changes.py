"""HubSpot's change feed: the companies, contacts or deals modified since a moment, through the CRM search.

HubSpot has no change log to read, so integrations search on the last-modified property, sorted by it::

    POST /crm/v3/objects/{companies|contacts|deals}/search
    {"filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": <ms>}]}],
     "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}], "limit": 200, ...}

(contacts go by ``lastmodifieddate``, companies and deals by ``hs_lastmodifieddate``). A search answers at
most 10,000 results, however it is paged (``after`` + ``limit`` beyond that is refused), so the feed does not
page with ``after``: each page is a new search whose lower bound is the modification time of the last record
the page before gave. The records of that millisecond come again and are dropped by id (the ids given at the
bound travel in the cursor). Only when a whole page shares one millisecond does ``after`` step through that
millisecond's records; more than 10,000 of them (a bulk import stamped in one instant) cannot be read this way
and fail the feed.

Moving the bound rather than an offset also keeps the feed whole while records change under it: a record
modified meanwhile moves to the end of the order, where a later page finds it, and shifts no one else out
of the page they were to be read in.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from crmgraph.adapters.hubspot.mapping import parse_instant
from crmgraph.errors import ClientError, UpstreamBadResponse

SEARCH_LIMIT = 200  # results of one search page: HubSpot's ceiling
SEARCH_WINDOW = 10_000  # results one search reaches, whatever the paging
# The property each object type's last modification is searchable by (both are set by HubSpot itself).
CHANGE_PROPERTY = {"companies": "hs_lastmodifieddate", "contacts": "lastmodifieddate", "deals": "hs_lastmodifieddate"}


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(moment: datetime) -> int:
    """``moment`` as epoch milliseconds, rounded down (exactly: no float): a bound never later than asked."""
    return (moment - EPOCH) // timedelta(milliseconds=1)


@dataclass(frozen=True)
class FeedPosition:
    """Where the next page of a change feed starts: records modified at or after ``bound`` (epoch ms),
    ``after`` of them skipped (only within one millisecond), ``given`` those of ``bound`` already handed out."""

    bound: int
    after: int = 0
    given: frozenset[str] = frozenset()

    def encode(self) -> str:
        return base64.urlsafe_b64encode(json.dumps([self.bound, self.after, sorted(self.given)]).encode()).decode()

    @classmethod
    def decode(cls, source: str, cursor: str) -> FeedPosition:
        try:
            bound, after, given = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        except (ValueError, TypeError):  # not base64, not JSON, or not three values
            bound = after = given = None
        valid = (
            type(bound) is int
            and type(after) is int
            and after >= 0
            and isinstance(given, list)
            and all(isinstance(i, str) for i in given)
        )
        if not valid:
            raise ClientError(f"{cursor!r} is not a change-feed cursor {source} gave out")
        return cls(bound, after, frozenset(given))


def search_body(position: FeedPosition, object_type: str, properties: Sequence[str], size: int) -> dict[str, Any]:
    changed = CHANGE_PROPERTY[object_type]
    body: dict[str, Any] = {
        "filterGroups": [{"filters": [{"propertyName": changed, "operator": "GTE", "value": str(position.bound)}]}],
        "sorts": [{"propertyName": changed, "direction": "ASCENDING"}],
        "properties": [*properties, changed],
        "limit": max(1, min(size, SEARCH_LIMIT)),
    }
    if position.after:
        body["after"] = str(position.after)
    return body


def modified_ms(source: str, raw: Mapping[str, Any], object_type: str) -> int:
    """The record's last modification as the search compared it (its ``updatedAt`` if the property is absent)."""
    properties = raw.get("properties")
    value = properties.get(CHANGE_PROPERTY[object_type]) if isinstance(properties, Mapping) else None
    if not isinstance(value, str) or not value:
        value = raw.get("updatedAt")
    moment = parse_instant(value) if isinstance(value, str) else None
    if moment is None:
        what = f"unexpected answer: a {object_type} search result without a modification time"
        raise UpstreamBadResponse(source, what)
    return epoch_ms(moment)


def advance(
    source: str, position: FeedPosition, raws: Sequence[Mapping[str, Any]], object_type: str, more: bool, limit: int
) -> tuple[list[Mapping[str, Any]], FeedPosition | None]:
    """The records of a page not given before, and where the next page starts (None after the last page)."""
    stamped = [(modified_ms(source, raw, object_type), str(raw.get("id")), raw) for raw in raws]
    fresh = [raw for ms, oid, raw in stamped if not (ms == position.bound and oid in position.given)]
    if not more or not stamped:
        return fresh, None
    last = stamped[-1][0]
    if last < position.bound:
        raise UpstreamBadResponse(source, f"unexpected answer: a {object_type} search sorted out of order")
    at_last = frozenset(oid for ms, oid, _ in stamped if ms == last)
    if last > position.bound:
        return fresh, FeedPosition(last, 0, at_last)
    # The whole page is one millisecond: step through it with `after`, within the search's 10,000 results.
    after = position.after + len(stamped)
    if after + limit > SEARCH_WINDOW:
        raise UpstreamBadResponse(
            source,
            f"more than {SEARCH_WINDOW:,} {object_type} were modified in the same millisecond ({last}); a search "
            "cannot page through them: read the source whole (a full `crmgraph link`)",
        )
    return fresh, FeedPosition(position.bound, after, position.given | at_last)
