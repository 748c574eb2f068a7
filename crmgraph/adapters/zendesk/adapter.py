"""The ``zendesk`` adapter: a ticket system speaking the Zendesk Support v2 API.

Access paths (source ids are Zendesk's integer ids, as strings)::

    party   by id      GET /api/v2/organizations/show_many?ids=      100 ids a call
    person  by id      GET /api/v2/users/show_many?ids=              100 ids a call
    ticket  by id      GET /api/v2/tickets/show_many?ids=            100 ids a call
    ticket  by party   GET /api/v2/search/export?query=type:ticket organization:{id} organization:{id} ...
                       &filter[type]=ticket                          100 organizations a call (paged, 1,000
                                                                     tickets a page); one organization
                                                                     alone: organizations/{id}/tickets
    ticket  by person  GET /api/v2/users/{id}/tickets/requested      one requester a call (paged)
    comment by ticket  GET /api/v2/tickets/{id}/comments             one ticket a call (paged)

The tickets of a page of organizations come from Zendesk's search, whose index can lag a few minutes behind
a change (Zendesk says so): a ticket opened a moment ago may be missing from a list page until it is indexed
(a customer's own page, one organization, reads its listing and shows it at once).

Tickets are writable (opened, changed, commented on): see :mod:`crmgraph.adapters.zendesk.writes`.
    person  by email   GET /api/v2/users/search?query=email:{email}  one address a call (paged)

Tickets carry their service metrics (``first_reply_at``, ``solved_at``) where the ticket's metric set is
read with it: by id (``show_many?include=metric_sets``), scanned and followed (the ticket export with
``include=metric_sets``); a ticket read by party or person has them unset. ``group_id`` and ``kind``
(Zendesk's ``type``) come with the ticket itself on every path. ``first_reply_at`` is the ticket's creation
plus the metric set's ``reply_time_in_minutes.calendar`` (Zendesk counts whole minutes to the first public
reply by an agent); ``solved_at`` is the metric set's, the last time the ticket was solved.

    scan ticket  GET /api/v2/incremental/tickets/cursor?start_time=0&include=metric_sets, then ?cursor=

``party`` (organizations) and ``person`` (users) are scannable through Zendesk's incremental exports
from the epoch, up to 1,000 records a call (ten times the list endpoints' 100), in the order of their
last update::

    scan party   GET /api/v2/incremental/organizations?start_time=     time-based: a page restarts at the
                                                                        last second of the one before, and
                                                                        the records already given are dropped
    scan person  GET /api/v2/incremental/users/cursor?start_time=0, then ?cursor=   cursor-based

A record updated while a scan runs may come again later in the same scan, with its new values; none is
missed. A scan of people gives end users only: agents and admins are the support team, nobody's
contacts. The same exports from a later ``start_time`` are the change feeds of ``party`` and ``person``
(:meth:`~crmgraph.adapters.sdk.base.Adapter.changes`): the records updated at or after that second, oldest
first.

There is no ``person by party``: Zendesk's organization-users listing is not part of the API subset the
demo simulates, so the path is not declared.

Settings::

    url                  https://acme.zendesk.com (required)
    email                the API user's e-mail; basic auth user is "{email}/token" (required)
    token                the API token (required; pass it as ${ENV} in configuration)
    timeout_s            seconds per upstream call (default 10)
    max_related          most records one key of a related path returns (default 1000)
    page_size            records per page when paging, 1..100 (default 100, Zendesk's maximum)
    search_page_size     records per page of an export search, 1..1000 (default 1000, Zendesk's maximum)
    rate_limit           the plan's quota, {requests: 400, per_s: 60} (default 200 a minute, the Team plan's);
                         it sizes the concurrency budget (crmgraph.adapters.sdk.budget)
    external_id_source   the source that ``external_id`` points into, for identity links (default "crm";
                         "" when external_id holds something else)

``max_related`` protects the facade from a whale: an organization with 50,000 tickets would otherwise
cost 500 sequential calls and hold all of them in memory for one field. The lists are cut after that many
records in Zendesk's order (by id, i.e. oldest first; comments by creation time) and a warning is logged.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx

from crmgraph.adapters.sdk.base import AccessPath, Adapter, FetchResult, RelatedResult
from crmgraph.adapters.sdk.budget import RateLimit
from crmgraph.adapters.sdk.http import HttpSource, expect
from crmgraph.adapters.sdk.writes import WriteOp
from crmgraph.adapters.zendesk.mapping import PARTY_FIELDS, ZendeskMapping
from crmgraph.adapters.zendesk.writes import find_by_key, send_ticket
from crmgraph.errors import AdapterContractError, ClientError, ConfigError, SourceError, UpstreamBadResponse
from crmgraph.records import Page, Record

logger = logging.getLogger(__name__)
T = TypeVar("T")

API = "/api/v2"
MAX_PAGE_SIZE = 100  # Zendesk's ceiling for page[size] and for show_many ids
MAX_EXPORT_PAGE = 1000  # Zendesk's ceiling for per_page of an incremental export
ORGANIZATIONS_PER_SEARCH = 100  # organizations OR-ed in one search query (a URL of about 3 KB)
MAX_ZENDESK_ID = 2**63 - 1  # ids are 64-bit signed integers; a bigger number is refused with a 400


def zendesk_id(key: str) -> bool:
    """Whether ``key`` is an id Zendesk could hold, written as Zendesk writes it (``7``, never ``007``)."""
    return key.isascii() and key.isdigit() and key == str(int(key)) and 0 < int(key) <= MAX_ZENDESK_ID


def plausible_email(key: str) -> bool:
    # Whitespace or quotes would change the meaning of the search query rather than match an address.
    return "@" in key and not any(c.isspace() or c == '"' for c in key)


@dataclass(frozen=True)
class _Related:
    """The listing to page through for one key of a related path; ``{key}`` stands for the key."""

    path: str
    holds: str  # the name of the records' list in the answer body
    query: str | None = None  # a search: the key goes in ?query= rather than in the path

    def request(self, key: str) -> tuple[str, dict[str, str]] | None:
        """The URL and parameters for ``key``, or None when no record can match it (no call needed)."""
        if self.query is None:
            return (self.path.format(key=key), {}) if zendesk_id(key) else None
        return (self.path, {"query": self.query.format(key=key)}) if plausible_email(key) else None


def _raw_id(raw: Any) -> int | None:
    value = raw.get("id") if isinstance(raw, dict) else None
    return value if type(value) is int else None


def _is_staff(raw: Any) -> bool:
    return isinstance(raw, Mapping) and raw.get("role") in ("agent", "admin")


_COLLECTIONS = {"party": "organizations", "person": "users", "ticket": "tickets"}
_RELATED = {
    ("ticket", "party"): _Related(f"{API}/organizations/{{key}}/tickets", "tickets"),
    ("ticket", "person"): _Related(f"{API}/users/{{key}}/tickets/requested", "tickets"),
    ("comment", "ticket"): _Related(f"{API}/tickets/{{key}}/comments", "comments"),
    ("person", "email"): _Related(f"{API}/users/search", "users", query="email:{key}"),
}


def _setting(source: str, settings: Mapping[str, Any], key: str, kind: type[T], default: T | None = None) -> T:
    value = settings.get(key, default)
    path = f"sources.{source}.{key}"
    if value is None:
        raise ConfigError(path, f"the zendesk adapter needs {key}")
    if kind is float and type(value) is int:
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ConfigError(path, f"must be {kind.__name__}, got {value!r}")
    return value


def _export_cursor(start: int, given: list[str]) -> str:
    """A scan cursor of the organization export: where the next page starts, and the ids of that second the
    scan has given already (the export gives them again)."""
    return base64.urlsafe_b64encode(json.dumps([start, given]).encode()).decode()


def _export_position(source: str, cursor: str | None, start_time: int = 0) -> tuple[int, frozenset[str]]:
    if cursor is None:
        return start_time, frozenset()
    try:
        start, given = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError):  # not base64, not JSON, or not a pair
        start = given = None
    if type(start) is not int or not isinstance(given, list) or not all(isinstance(i, str) for i in given):
        raise ClientError(f"{cursor!r} is not a cursor {source} gave out")
    return start, frozenset(given)


def _next_start(source: str, next_page: object) -> int:
    """The ``start_time`` of a time-based export's ``next_page``: the page is then asked for on the configured
    host, never at the URL the answer names (which would take the credentials wherever it points)."""
    values = parse_qs(urlsplit(next_page).query).get("start_time", []) if isinstance(next_page, str) else []
    expect(source, len(values) == 1 and values[0].isdigit(), f"next_page without a start_time: {next_page!r}")
    return int(values[0])


class ZendeskAdapter(Adapter):
    kind = "zendesk"
    paths = (
        AccessPath("party", max_batch=MAX_PAGE_SIZE),
        AccessPath("person", max_batch=MAX_PAGE_SIZE),
        AccessPath("ticket", max_batch=MAX_PAGE_SIZE),
        # Tickets of many organizations in one export search (see _tickets_of_organizations).
        AccessPath("ticket", "party", max_batch=ORGANIZATIONS_PER_SEARCH),
        *(AccessPath(entity, by, max_batch=1) for entity, by in _RELATED if by != "party"),  # no batch form
    )
    # Tickets are scanned (for reports) and followed (the feed crmgraph polls for ticket events) through the
    # incremental ticket export, with their metric sets side-loaded.
    scannable = frozenset({"party", "person", "ticket"})
    change_feeds = frozenset({"party", "person", "ticket"})
    writable = frozenset({("ticket", "create"), ("ticket", "update")})  # comments come with an update
    holds = MappingProxyType({"party": PARTY_FIELDS})
    # Zendesk Support's smallest plan (Team) allows 200 requests a minute (Growth and Professional 400,
    # Enterprise 700: set the source's rate_limit): the concurrency budget is sized from it (50 in flight).
    rate_limit = RateLimit(requests=200, per_s=60.0)

    def __init__(
        self, source: str, settings: Mapping[str, Any], *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        """``transport`` replaces the network, for tests that need answers no real system gives."""
        super().__init__(source, settings)
        self.url = _setting(source, settings, "url", str)
        self.email = _setting(source, settings, "email", str)
        self.token = _setting(source, settings, "token", str)
        self.timeout_s = _setting(source, settings, "timeout_s", float, 10.0)
        self.max_related = _setting(source, settings, "max_related", int, 1000)
        self.page_size = _setting(source, settings, "page_size", int, MAX_PAGE_SIZE)
        self.search_page_size = _setting(source, settings, "search_page_size", int, MAX_EXPORT_PAGE)
        xref_source = _setting(source, settings, "external_id_source", str, "crm")
        if (
            self.timeout_s <= 0
            or self.max_related < 1
            or not 1 <= self.page_size <= MAX_PAGE_SIZE
            or not 1 <= self.search_page_size <= MAX_EXPORT_PAGE
        ):
            raise ConfigError(
                f"sources.{source}",
                f"timeout_s must be > 0, max_related >= 1, page_size 1..{MAX_PAGE_SIZE} "
                f"and search_page_size 1..{MAX_EXPORT_PAGE}",
            )
        self.mapping = ZendeskMapping(source, xref_source or None)
        self._transport = transport
        self._http: HttpSource | None = None

    async def open(self) -> None:
        self._http = HttpSource(
            self.source,
            self.url,
            auth=httpx.BasicAuth(f"{self.email}/token", self.token),
            timeout=httpx.Timeout(self.timeout_s, connect=min(3.0, self.timeout_s)),
            max_connections=self.max_concurrency,
            transport=self._transport,
        )

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    @property
    def http(self) -> HttpSource:
        if self._http is None:
            raise AdapterContractError(f"{self.source} ({self.kind}) was used before open()")
        return self._http

    def _mapper(self, entity: str) -> Callable[[object], Record]:
        return {"party": self.mapping.party, "person": self.mapping.person, "ticket": self.mapping.ticket}[entity]

    # --- by id ------------------------------------------------------------------------------------

    async def _fetch(self, entity: str, ids: Sequence[str]) -> Sequence[FetchResult]:
        collection = _COLLECTIONS[entity]
        # A key Zendesk could not hold would make show_many refuse the whole batch with a 400.
        asked = [key for key in ids if zendesk_id(key)]
        if not asked:
            return [None] * len(ids)
        params = {"ids": ",".join(asked)} | ({"include": "metric_sets"} if entity == "ticket" else {})
        body = await self.http.get_json(f"{API}/{collection}/show_many", params=params)
        raws = self._records(body, collection)
        metrics = self._metric_sets(body) if entity == "ticket" else {}
        found: dict[str, FetchResult] = {}
        unattributed = False
        for raw in raws:
            record: Record
            try:
                if entity == "ticket":
                    record = self.mapping.ticket(raw, metrics.get(_raw_id(raw)))
                else:
                    record = self._mapper(entity)(raw)
            except SourceError as error:
                raw_id = raw.get("id") if isinstance(raw, dict) else None
                if type(raw_id) is int:
                    found[str(raw_id)] = error
                else:
                    unattributed = True
                continue
            found[record.source_id] = record
        if unattributed:
            # A record we cannot tell the id of may be any of the missing ones: "no such record" could be false.
            failure = UpstreamBadResponse(self.source, f"{collection}/show_many returned a record without an id")
            return [found.get(key, failure if zendesk_id(key) else None) for key in ids]
        return [found.get(key) for key in ids]

    # --- writes (crmgraph/adapters/zendesk/writes.py) ----------------------------------------------

    async def _write(self, op: WriteOp) -> Record:
        return self.mapping.ticket(await send_ticket(self.http, self.source, op))

    async def find_written(self, entity: str, idempotency_key: str) -> Record | None:
        if entity != "ticket":
            return None
        found = await find_by_key(self.http, idempotency_key)
        return self.mapping.ticket(found) if found is not None else None

    # --- related ----------------------------------------------------------------------------------

    async def _fetch_related(self, entity: str, by: str, keys: Sequence[str]) -> Sequence[RelatedResult]:
        if (entity, by) == ("ticket", "party"):
            return await self._tickets_of_organizations(keys)
        related = _RELATED[(entity, by)]
        results: list[RelatedResult] = []
        for key in keys:  # one key a call: the SDK fans the keys out, so this loop runs once
            try:
                results.append(await self._related(entity, related, key))
            except SourceError as error:
                results.append(error)
        return results

    async def _tickets_of_organizations(self, keys: Sequence[str]) -> list[RelatedResult]:
        """The tickets of up to 100 organizations in one listing: ``GET /search/export`` with
        ``type:ticket organization:1 organization:2 ...`` (Zendesk ORs the values of a keyword named more than
        once), paged by cursor, ``search_page_size`` a page; each organization's tickets in id order, as its
        own listing gives them. If the organizations hold more than ``max_related`` tickets each on average, the
        search stops there and each is read from its own listing instead (with its own cut). One organization
        (a customer-360 page) is read from its own listing: the same one call, in Zendesk's order, and
        without the search index's lag behind a ticket just written."""
        organizations = [key for key in keys if zendesk_id(key)]
        if len(organizations) <= 1:
            return [await self._related_or_error("ticket", _RELATED[("ticket", "party")], key) for key in keys]
        found: dict[str, list[Any]] = {key: [] for key in organizations}
        if organizations:
            query = "type:ticket " + " ".join(f"organization:{key}" for key in organizations)
            params = {"query": query, "filter[type]": "ticket"}
            raws = await self._walk(f"{API}/search/export", params, "results", self.search_page_size,
                                    self.max_related * len(organizations) + 1)  # fmt: skip
            if len(raws) > self.max_related * len(organizations):
                return [await self._related_or_error("ticket", _RELATED[("ticket", "party")], key) for key in keys]
            for raw in raws:
                owner = raw.get("organization_id") if isinstance(raw, dict) else None
                if str(owner) in found:
                    found[str(owner)].append(raw)
        results: list[RelatedResult] = []
        for key in keys:
            listed = sorted(found.get(key, []), key=lambda raw: _raw_id(raw) or 0)
            if len(listed) > self.max_related:
                logger.warning("%s: organization %s has more than %d tickets; cut there (max_related)",
                               self.source, key, self.max_related)  # fmt: skip
            try:
                results.append([self.mapping.ticket(raw) for raw in listed[: self.max_related]])
            except SourceError as error:
                results.append(error)
        return results

    async def _related_or_error(self, entity: str, related: _Related, key: str) -> RelatedResult:
        try:
            return await self._related(entity, related, key)
        except SourceError as error:
            return error

    async def _related(self, entity: str, related: _Related, key: str) -> list[Record]:
        request = related.request(key)
        if request is None:
            return []
        url, params = request
        raws = await self._walk(url, params, related.holds)
        if entity == "comment":
            return [self.mapping.comment(raw, key) for raw in raws]
        return [self._mapper(entity)(raw) for raw in raws]

    async def _walk(
        self, url: str, params: dict[str, str], holds: str, page_size: int | None = None, most: int | None = None
    ) -> list[Any]:
        """Every record of a cursor-paged listing, up to ``max_related``; [] when its parent does not exist.

        The next page is asked for with ``page[after]`` on the configured host rather than by following
        ``links.next``: a link is an absolute URL, and following it would send the credentials wherever
        the answer points.
        """
        raws: list[Any] = []
        after: str | None = None
        most = self.max_related if most is None else most
        while True:
            size = min(page_size or self.page_size, most - len(raws))
            query = params | {"page[size]": str(size)} | ({"page[after]": after} if after else {})
            # Only the first page may 404 meaning "no such parent"; later, the parent existed a moment ago.
            body = await self.http.get_json(url, params=query, allow_missing=after is None)
            if body is None:
                return []
            page = self._records(body, holds)
            raws += page
            meta = body.get("meta")
            if not (isinstance(meta, Mapping) and meta.get("has_more") is True):
                return raws
            if len(raws) >= most:
                logger.warning("%s: %s has more than %d records; cut there (max_related)", self.source, url, len(raws))
                return raws[:most]
            cursor = meta.get("after_cursor")
            expect(self.source, bool(page) and isinstance(cursor, str) and cursor != after, f"{url}: a stuck cursor")
            after = str(cursor)

    # --- scan -------------------------------------------------------------------------------------

    async def _scan(self, entity: str, cursor: str | None, size: int) -> Page:
        return await self._changes_from(entity, 0, cursor, size)

    async def _changes(self, entity: str, since: datetime, cursor: str | None, size: int) -> Page:
        # Exports count in whole seconds, from start_time inclusive: the second of `since` is read whole.
        return await self._changes_from(entity, max(0, int(since.timestamp() // 1)), cursor, size)

    async def _changes_from(self, entity: str, start_time: int, cursor: str | None, size: int) -> Page:
        per_page = str(max(1, min(size, MAX_EXPORT_PAGE)))
        if entity == "person":
            return await self._scan_users(cursor, per_page, start_time)
        if entity == "ticket":
            return await self._scan_tickets(cursor, per_page, start_time)
        return await self._scan_organizations(cursor, per_page, start_time)

    async def _scan_tickets(self, cursor: str | None, per_page: str, start_time: int) -> Page:
        """One page of the cursor-based ticket export (``GET /incremental/tickets/cursor``)."""
        position = {"cursor": cursor} if cursor else {"start_time": str(start_time)}
        params = position | {"per_page": per_page, "include": "metric_sets"}
        body = await self.http.get_json(f"{API}/incremental/tickets/cursor", params=params)
        metrics = self._metric_sets(body)
        records: list[Record] = [
            self.mapping.ticket(raw, metrics.get(_raw_id(raw))) for raw in self._records(body, "tickets")
        ]
        if body.get("end_of_stream") is True:
            return Page(records, None)
        after = body.get("after_cursor")
        expect(self.source, isinstance(after, str) and after != cursor, "tickets export: a cursor that does not move")
        return Page(records, str(after))

    async def _scan_users(self, cursor: str | None, per_page: str, start_time: int) -> Page:
        """One page of the cursor-based user export; the scan cursor is Zendesk's ``after_cursor``."""
        position = {"cursor": cursor} if cursor else {"start_time": str(start_time)}
        body = await self.http.get_json(f"{API}/incremental/users/cursor", params=position | {"per_page": per_page})
        # Unlike a related list, a scan page has no per-key slot for a bad record: the page fails as a whole.
        # Agents and admins are the support team, not anyone's customer: a scan of people leaves them out.
        users = [raw for raw in self._records(body, "users") if not _is_staff(raw)]
        records: list[Record] = [self.mapping.person(raw) for raw in users]
        if body.get("end_of_stream") is True:
            return Page(records, None)
        after = body.get("after_cursor")
        expect(self.source, isinstance(after, str) and after != cursor, "users export: a cursor that does not move")
        return Page(records, str(after))

    async def _scan_organizations(self, cursor: str | None, per_page: str, start_time: int) -> Page:
        """One page of the time-based organization export, without the records an earlier page gave."""
        start, seen = _export_position(self.source, cursor, start_time)
        params = {"start_time": str(start), "per_page": per_page}
        body = await self.http.get_json(f"{API}/incremental/organizations", params=params)
        raws = self._records(body, "organizations")
        records: list[Record] = []
        at: dict[int, list[str]] = {}  # the ids given, by the second they were last updated in
        for raw in raws:
            record = self.mapping.party(raw)
            second = int(record.updated_at.timestamp()) if record.updated_at is not None else None
            if second == start and record.source_id in seen:
                continue  # given by the page before: the export starts again at that page's last second
            records.append(record)
            if second is not None:
                at.setdefault(second, []).append(record.source_id)
        if body.get("end_of_stream") is True:
            return Page(records, None)
        following = _next_start(self.source, body.get("next_page"))
        expect(self.source, following > start or bool(records), "organizations export: a page that does not move")
        given = at.get(following, []) + (list(seen) if following == start else [])
        return Page(records, _export_cursor(following, given))

    # --- helpers ----------------------------------------------------------------------------------

    def _metric_sets(self, body: Any) -> dict[int | None, Any]:
        """The side-loaded ``metric_sets`` of an answer, by ticket id."""
        sets = body.get("metric_sets", []) if isinstance(body, Mapping) else []
        expect(self.source, isinstance(sets, list), "metric_sets that are not a list")
        found: dict[int | None, Any] = {}
        for raw in sets:
            ticket_id = raw.get("ticket_id") if isinstance(raw, dict) else None
            expect(self.source, type(ticket_id) is int, f"a metric set without a ticket_id: {raw!r}")
            found[ticket_id] = raw
        return found

    def _records(self, body: Any, holds: str) -> list[Any]:
        expect(self.source, isinstance(body, Mapping) and isinstance(body.get(holds), list), f"no {holds} list")
        records: list[Any] = body[holds]
        return records
