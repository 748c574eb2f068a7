"""The ``hubspot`` adapter: crmgraph's CRM, over HubSpot's CRM v3 objects, v4 associations and owners APIs.

Settings (``sources.<name>`` in the configuration)::

    crm: {adapter: hubspot, url: "https://api.hubapi.com", token: "${HUBSPOT_TOKEN}", timeout_s: 10, currency: EUR}

``token`` is a private app token, sent as ``Authorization: Bearer``. ``deal_stages`` lists the stage ids of
pipelines other than the default one whose entry dates deals are read with (``[]`` by default). ``timeout_s``
bounds each call (10 s by default). ``currency`` is the account's company currency, for deals whose
``deal_currency_code`` is unset (single-currency accounts leave it so); without it such a deal's amount is a
bad response. ``precondition`` says how a write naming the version it read is made conditional: ``read`` (the
default) compares the record's ``updatedAt`` just before the write; ``header`` sends the demo CRM's
``X-Crmgraph-If-Updated-At``, which it checks with the write (the real HubSpot ignores it).
``owners_ttl_s`` is how long the account's owner list, read whole, is kept (300 s by default; see
:mod:`crmgraph.adapters.hubspot.owners`). ``rate_limit`` is the private app's quota, ``{requests: 190, per_s:
10}`` on Professional and Enterprise (100 per 10 s by default): it sizes the concurrency budget.

Companies, contacts, deals and engagements are writable: see :mod:`crmgraph.adapters.hubspot.writes`.

Entities are crmgraph's, source ids are HubSpot's (as strings), except an interaction's, which names its
engagement type, because HubSpot numbers each type on its own: ``"calls:20000000123"``.

What each access path costs upstream (calls in one row run concurrently, at most ``max_concurrency`` at
a time for the whole adapter: by default 25, a quarter of HubSpot's 100 requests per 10 s; see
:mod:`crmgraph.adapters.sdk.budget`):

======================= =================================================================================
party by id             one companies ``batch/read`` per 100 ids; a single id: one ``GET`` of the company
                        with the ids associated with it, which serves the reads by party below too
person, deal by id      per 100 ids: one ``batch/read`` and one v4 associations read to companies, for
                        ``party_id`` (the primary company, else the first)
interaction by id       the same, once per engagement type present among the ids
owner by id             none most of the time: the account's owners are read whole (``GET /crm/v3/owners``,
                        500 a page) once per ``owners_ttl_s`` (300 s) for the process, and every owner
                        id is answered from that list (HubSpot has no batch read of owners)
person, deal by party   per 1,000 companies: one associations read (one more round for the companies with
                        more than 500 left), then one ``batch/read`` per 100 distinct associated records;
                        contacts the identity links foresee (``expected_related``) are read beside the
                        associations, and afterwards only those they add
interaction by party    the same for each of the four engagement types: four associations reads, and
                        one ``batch/read`` per 100 engagements of each type found
one company by party    (the customer-360 case) no associations read: the company's ``GET`` above lists
                        its contacts, deals and engagements, one call shared by every path in the request
scan party, person,     one list call per page of at most 100 (HubSpot's ceiling); contacts and deals are
deal                    listed with their companies (``?associations=companies``), so a page costs no
                        associations read (only a record with more companies than its answer lists adds
                        one v4 read)
changes party, person,  one search call per page of at most 200, on ``hs_lastmodifieddate`` (contacts:
deal                    ``lastmodifieddate``) from the moment asked, oldest change first (see
                        :mod:`crmgraph.adapters.hubspot.changes`); a page of contacts or deals adds one v4
                        associations read for their companies (search answers carry no associations)
======================= =================================================================================

A deal's ``stage_entered`` comes from HubSpot's calculated ``hs_date_entered_{stageId}`` properties, asked
on every deal path (by id, by party, scan, changes) for the stages of HubSpot's default sales pipeline
(:data:`~crmgraph.adapters.hubspot.mapping.DEFAULT_PIPELINE_STAGES`) and those the ``deal_stages`` setting
names: each stage the deal has a moment for, oldest first. A stage HubSpot has no moment for (never entered)
or that neither names is absent.

``party_id`` is filled on every path, at the price of the associations read by id, because a record is
cached under its id whichever path loaded it: it must not lack its company when ``node(id)`` loaded it.
Read by party, a record's ``party_id`` is the company it was read for (the SDK contract); read by id or
scanned, the primary company. They differ only for a contact or deal with several companies.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from types import MappingProxyType
from typing import Any, TypeVar, cast

import httpx

from crmgraph.adapters.hubspot.changes import FeedPosition, advance, epoch_ms, search_body
from crmgraph.adapters.hubspot.mapping import (
    DEAL_PROPERTIES,
    DEFAULT_PIPELINE_STAGES,
    ENGAGEMENT_TYPES,
    PARTY_FIELDS,
    PARTY_PROPERTIES,
    PERSON_PROPERTIES,
    STAGE_ENTERED_PREFIX,
    EngagementType,
    HubSpotMapping,
    interaction_id,
    parse_interaction_id,
)
from crmgraph.adapters.hubspot.owners import DEFAULT_TTL_S, OwnerDirectory
from crmgraph.adapters.hubspot.writes import Target, conflict, send, stale
from crmgraph.adapters.hubspot.writes import target as write_target
from crmgraph.adapters.sdk.base import AccessPath, Adapter, FetchResult, RelatedResult
from crmgraph.adapters.sdk.budget import RateLimit
from crmgraph.adapters.sdk.calls import expected_related, shared_in_request
from crmgraph.adapters.sdk.http import DEFAULT_TIMEOUT, HttpSource, expect
from crmgraph.adapters.sdk.writes import WriteOp, WriteRefused
from crmgraph.errors import AdapterContractError, ConfigError, SourceError, UpstreamBadResponse
from crmgraph.records import InteractionRecord, Page, Record

log = logging.getLogger(__name__)

R = TypeVar("R", bound=Record)
A = TypeVar("A")
B = TypeVar("B")
Raw = Mapping[str, Any]
Build = Callable[[Raw, str | None], R]  # (upstream record, party_id) -> canonical record

BATCH_READ_LIMIT = 100  # inputs of one objects batch/read
ASSOCIATION_INPUTS_LIMIT = 1_000  # inputs of one v4 associations batch/read
LIST_LIMIT = 100  # records of one list page
OWNERS_PAGE = 500  # owners of one GET /crm/v3/owners page
SCANNED = {
    "party": ("companies", PARTY_PROPERTIES),
    "person": ("contacts", PERSON_PROPERTIES),
    "deal": ("deals", DEAL_PROPERTIES),
}
# HubSpot-defined association types that mark the primary company: contact -> company 1, deal -> company 5.
PRIMARY_COMPANY_TYPE_IDS = frozenset({1, 5})
# How a record's own answer (v3 ``associations``) names a contact's primary company (type 1); the plain
# association every associated company has is ``contact_to_company_unlabeled`` (type 279).
PRIMARY_CONTACT_COMPANY = ("contact_to_company", 1)
PRIMARY_DEAL_COMPANY = ("deal_to_company", 5)  # a deal's, likewise (plain: ``deal_to_company_unlabeled``, 341)
# The entities listed with their companies, and how each names its primary company.
WITH_COMPANY = {"person": ("contacts", PRIMARY_CONTACT_COMPANY), "deal": ("deals", PRIMARY_DEAL_COMPANY)}


@dataclass(frozen=True)
class Associated:
    """One associated record as the v4 associations API lists it."""

    to_id: str
    type_ids: frozenset[int]


# What a company's own GET lists with it: everything a by-party path of this adapter reads.
VIEW_ASSOCIATIONS = ("contacts", "deals", *ENGAGEMENT_TYPES)


@dataclass(frozen=True)
class CompanyView:
    """One company as its ``GET ...?associations=`` answers: its record and the ids associated with it."""

    raw: Raw
    # By object type: the associated records, or None when HubSpot listed only the first page of them.
    associated: Mapping[str, list[Associated] | None]


def primary_company(companies: Sequence[Associated]) -> str | None:
    """The company marked primary; else the first HubSpot lists (the oldest id), as its UI shows it."""
    for company in companies:
        if company.type_ids & PRIMARY_COMPANY_TYPE_IDS:
            return company.to_id
    return companies[0].to_id if companies else None


class HubSpotAdapter(Adapter):
    """Reads companies, contacts, deals, engagements and owners of one HubSpot account (see the module)."""

    kind = "hubspot"
    paths = (
        AccessPath("party", max_batch=BATCH_READ_LIMIT),
        AccessPath("person", max_batch=BATCH_READ_LIMIT),
        AccessPath("deal", max_batch=BATCH_READ_LIMIT),
        AccessPath("interaction", max_batch=BATCH_READ_LIMIT),
        AccessPath("owner", max_batch=OWNERS_PAGE, kept_whole=True),  # answered from the whole list (owners.py)
        AccessPath("person", by="party", max_batch=ASSOCIATION_INPUTS_LIMIT),
        AccessPath("deal", by="party", max_batch=ASSOCIATION_INPUTS_LIMIT),
        AccessPath("interaction", by="party", max_batch=ASSOCIATION_INPUTS_LIMIT),
    )
    scannable = frozenset({"party", "person", "deal"})
    change_feeds = frozenset({"party", "person", "deal"})
    writable = frozenset(
        (entity, action) for entity in ("party", "person", "deal", "interaction") for action in ("create", "update")
    )
    holds = MappingProxyType({"party": PARTY_FIELDS})
    # HubSpot's documented burst limit for a private app (Free and Starter; Professional and Enterprise
    # allow 190, set with the source's rate_limit): the concurrency budget is sized from it (25 in flight).
    rate_limit = RateLimit(requests=100, per_s=10.0)

    def __init__(self, source: str, settings: Mapping[str, Any]) -> None:
        super().__init__(source, settings)
        self.url = _text_setting(source, settings, "url")
        self._token = _text_setting(source, settings, "token")
        self._timeout = _timeout_setting(source, settings)
        self.mapping = HubSpotMapping(source, _currency_setting(source, settings))
        # How a write naming a version is made conditional: "header", the demo CRM's precondition header
        # (the real HubSpot ignores it); "read", the version compared just before the write (a short race).
        self._precondition = _choice_setting(source, settings, "precondition", ("read", "header"))
        # The stages of other pipelines whose entry dates a deal is read with (the default pipeline's always).
        self._deal_properties = (*DEAL_PROPERTIES, *(f"{STAGE_ENTERED_PREFIX}{stage}" for stage in
                                                     _deal_stages_setting(source, settings)))  # fmt: skip
        # Bounds the calls in flight for the whole adapter: one SDK batch may make several at once.
        self._wire = asyncio.Semaphore(self.max_concurrency)
        self._http: HttpSource | None = None
        # The account's owners, kept for the process (HubSpot has no batch read of owners, and few of them).
        self._owners = OwnerDirectory(_seconds_setting(source, settings, "owners_ttl_s", DEFAULT_TTL_S))
        self._owner_records: dict[str, tuple[Raw, Record]] = {}  # owner id -> (the raw owner, its record)

    async def open(self) -> None:
        self._http = HttpSource(
            self.source,
            self.url,
            headers={"Authorization": f"Bearer {self._token}"},
            timeout=self._timeout,
            max_connections=self.max_concurrency,
        )

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    # --- the SDK's protected methods -------------------------------------------------------------

    async def _fetch(self, entity: str, ids: Sequence[str]) -> Sequence[FetchResult]:
        match entity:
            case "party":
                if _single_company(ids):
                    view = await self._company_view(ids[0])
                    found = {} if view is None else {ids[0]: view.raw}
                else:
                    found = await self._read("companies", ids, PARTY_PROPERTIES)
                return _each(ids, found, lambda key, raw: self.mapping.party(raw))
            case "person":
                return await self._read_with_company("contacts", ids, PERSON_PROPERTIES, self.mapping.person)
            case "deal":
                return await self._read_with_company("deals", ids, self._deal_properties, self.mapping.deal)
            case "interaction":
                return await self._interactions(ids)
            case "owner":  # from the account's whole owner list, read once per owners_ttl_s (see owners.py)
                found = await self._owners.lookup(list(ids), self._read_owners)
                return _each(ids, found, self._owner_record)
        raise AdapterContractError(f"{self.kind} cannot fetch {entity}")

    def _owner_record(self, owner_id: str, raw: Raw) -> Record:
        """The owner's record, mapped once per read of the owner list (records are immutable), not once per page
        that shows the owner."""
        kept = self._owner_records.get(owner_id)
        if kept is not None and kept[0] is raw:
            return kept[1]
        record = self.mapping.owner(raw)
        self._owner_records[owner_id] = (raw, record)
        return record

    async def _fetch_related(self, entity: str, by: str, keys: Sequence[str]) -> Sequence[RelatedResult]:
        match entity, by:
            case "person", "party":
                unhurried = self.resilience.unhurried()
                foreseen = expected_related(self.source, "person", "party", keys) if unhurried else []
                return _widen(
                    await self._of_companies("contacts", keys, PERSON_PROPERTIES, self.mapping.person, foreseen)
                )
            case "deal", "party":
                return _widen(await self._of_companies("deals", keys, self._deal_properties, self.mapping.deal))
            case "interaction", "party":
                return await self._interactions_of_companies(keys)
        raise AdapterContractError(f"{self.kind} cannot fetch {entity} by {by}")

    def _listed(self, entity: str) -> tuple[str, Sequence[str]]:
        object_type, properties = SCANNED[entity]
        return object_type, (self._deal_properties if entity == "deal" else properties)

    async def _scan(self, entity: str, cursor: str | None, size: int) -> Page:
        object_type, properties = self._listed(entity)
        params = {"limit": str(max(1, min(size, LIST_LIMIT))), "properties": ",".join(properties)}
        if entity in WITH_COMPANY:
            params["associations"] = "companies"  # listed with each record: no associations read per page
        if cursor:
            params["after"] = cursor
        answer = await self._get(f"/crm/v3/objects/{object_type}", params)
        raws = _items(self.source, answer, "results")
        next_cursor = _next_after(self.source, answer)
        expect(self.source, next_cursor is None or next_cursor != cursor, "a paging cursor that does not move")
        companies: dict[str, list[Associated]] = {}
        if entity in WITH_COMPANY:
            companies = await self._companies_listed(entity, raws)
        return Page(self._page_records(entity, raws, companies, "scan"), next_cursor)

    async def _changes(self, entity: str, since: datetime, cursor: str | None, size: int) -> Page:
        object_type, properties = self._listed(entity)
        position = FeedPosition.decode(self.source, cursor) if cursor else FeedPosition(epoch_ms(since))
        body = search_body(position, object_type, properties, size)
        answer = await self._post(f"/crm/v3/objects/{object_type}/search", body)
        raws = _items(self.source, answer, "results")
        more = _next_after(self.source, answer) is not None
        fresh, following = advance(self.source, position, raws, object_type, more, body["limit"])
        companies: dict[str, list[Associated]] = {}
        if entity in WITH_COMPANY and fresh:
            ids = [str(raw.get("id")) for raw in fresh if isinstance(raw.get("id"), str)]
            companies = await self._associations(object_type, "companies", ids)
        records = self._page_records(entity, fresh, companies, "changes")
        return Page(records, None if following is None else following.encode())

    def _page_records(
        self, entity: str, raws: Sequence[Raw], companies: Mapping[str, list[Associated]], what: str
    ) -> list[Record]:
        records: list[Record] = []
        for raw in raws:
            try:
                company = primary_company(companies.get(str(raw.get("id")), []))
                if entity == "party":
                    records.append(self.mapping.party(raw))
                elif entity == "deal":
                    records.append(self.mapping.deal(raw, company))
                else:
                    records.append(self.mapping.person(raw, company))
            except UpstreamBadResponse as error:
                # A page has no slot for one record's error, and failing the page would stall every scan
                # (identity linking) at this record for good: leave it out, loudly.
                log.warning("%s: %s %s left out a record: %s", self.source, what, entity, error)
        return records

    async def _companies_listed(self, entity: str, listed: Sequence[Raw]) -> dict[str, list[Associated]]:
        """The companies of each contact or deal as its answer lists them; the v4 API for a list cut short."""
        object_type, primary = WITH_COMPANY[entity]
        companies: dict[str, list[Associated]] = {}
        cut: list[str] = []
        for raw in listed:
            record_id = raw.get("id")
            if not isinstance(record_id, str):
                continue  # the mapping reports the record itself
            listings = raw.get("associations") or {}
            expect(self.source, isinstance(listings, Mapping), "associations that are not a JSON object")
            listing = listings.get("companies")
            if listing is None:
                companies[record_id] = []  # HubSpot leaves out a type with nothing associated
            elif _next_after(self.source, listing) is not None:
                cut.append(record_id)
            else:
                companies[record_id] = _listing(self.source, listing, primary)
        if cut:
            companies |= await self._associations(object_type, "companies", cut)
        return companies

    # --- writes (crmgraph/adapters/hubspot/writes.py) ---------------------------------------------

    async def _write(self, op: WriteOp) -> Record:
        where = write_target(self.source, op)
        if not isinstance(where, Target):
            raise WriteRefused(self.source, [where])
        if op.expected_version is not None and op.record_id is not None and self._precondition == "read":
            current = (await self._read(where.object_type, [str(where.object_id)], ["hs_object_id"])).get(
                str(where.object_id)
            )
            if current is not None and stale(op.expected_version, current.get("updatedAt")):
                raise WriteRefused(self.source, [conflict(op, str(current.get("updatedAt")))])
        async with self._wire:
            answer = await send(self._wire_source, self.source, op, where, precondition=self._precondition == "header")
        return self._written(op, where, await self._read_back(where, answer))

    async def _read_back(self, where: Target, answer: Raw) -> Raw:
        """The written record with every property the mapping reads: a write's answer carries only the
        properties written and a few defaults. Should the read fail, the answer is what there is."""
        try:
            found = await self._read(where.object_type, [str(answer["id"])], where.properties)
        except SourceError as error:
            log.warning("%s: reading back %s %s failed: %s", self.source, where.object_type, answer["id"], error)
            return answer
        return found.get(str(answer["id"]), answer)

    def _written(self, op: WriteOp, where: Target, raw: Raw) -> Record:
        # The company is the one the write named (a create's association; an update's record as read).
        party = op.links.get("party")
        match op.entity:
            case "party":
                return self.mapping.party(raw)
            case "person":
                return self.mapping.person(raw, party)
            case "deal":
                return self.mapping.deal(raw, party)
        assert where.engagement is not None
        return self.mapping.interaction(where.engagement, raw, party)

    async def find_written(self, entity: str, idempotency_key: str) -> Record | None:
        # HubSpot has no field for a client's key (Zendesk's external_id): keeping it would need a custom
        # property defined in every account. So a create whose answer was lost cannot be found by its key;
        # the Writer then sends it again (the duplicate risk docs/writes.md states).
        return None

    # --- reads by id -----------------------------------------------------------------------------

    async def _read_with_company(
        self, object_type: str, ids: Sequence[str], properties: Sequence[str], build: Build[R]
    ) -> list[FetchResult]:
        found, companies = await _both(
            self._read(object_type, ids, properties), self._associations(object_type, "companies", ids)
        )
        return _each(ids, found, lambda key, raw: build(raw, primary_company(companies.get(key, []))))

    async def _interactions(self, ids: Sequence[str]) -> list[FetchResult]:
        by_type: dict[EngagementType, list[str]] = {}
        for key in ids:
            parsed = parse_interaction_id(key)
            if parsed is not None:  # an id this adapter never gave out exists nowhere: None, at no cost
                by_type.setdefault(parsed[0], []).append(parsed[1])
        answers = await asyncio.gather(
            *(
                self._read_with_company(engagement.object_type, object_ids, engagement.properties,
                                        partial(self.mapping.interaction, engagement))
                for engagement, object_ids in by_type.items()
            ),
            return_exceptions=True,
        )  # fmt: skip
        results: dict[str, FetchResult] = {}
        for (engagement, object_ids), answer in zip(by_type.items(), answers, strict=True):
            typed: Sequence[FetchResult]
            if isinstance(answer, SourceError):
                typed = [answer] * len(object_ids)  # one engagement type failing fails its keys only
            elif isinstance(answer, BaseException):
                raise answer
            else:
                typed = answer
            results.update(zip((interaction_id(engagement, oid) for oid in object_ids), typed, strict=True))
        return [results.get(key) for key in ids]

    async def _read_owners(self) -> dict[str, Raw]:
        """Every active owner of the account by id: ``GET /crm/v3/owners``, 500 a page (HubSpot's ceiling)."""
        owners: dict[str, Raw] = {}
        after: str | None = None
        while True:
            params = {"limit": str(OWNERS_PAGE)} | ({"after": after} if after else {})
            answer = await self._get("/crm/v3/owners", params)
            for raw in _items(self.source, answer, "results"):
                owner_id = raw.get("id")
                expect(self.source, isinstance(owner_id, str) and owner_id != "", f"an owner without an id: {raw!r}")
                owners[str(owner_id)] = raw
            following = _next_after(self.source, answer)
            if following is None:
                return owners
            expect(self.source, following != after, "a paging cursor that does not move")
            after = following

    # --- reads by company ------------------------------------------------------------------------

    async def _of_companies(
        self,
        object_type: str,
        companies: Sequence[str],
        properties: Sequence[str],
        build: Build[R],
        foreseen: Sequence[str] = (),
    ) -> list[list[R] | SourceError]:
        """The records of ``object_type`` associated with each company, in HubSpot's (id) order.

        The ``foreseen`` records (see :func:`~crmgraph.adapters.sdk.calls.expect_related`) are read beside
        the associations; afterwards only the associated ones not foreseen are.
        """
        raws: dict[str, Raw | SourceError] = {}
        if not foreseen:
            associated = await self._associated_with_companies(object_type, companies)
        else:
            listing, early = await asyncio.gather(
                self._associated_with_companies(object_type, companies),
                self._foreseen(object_type, foreseen, properties),
                return_exceptions=True,
            )
            if isinstance(listing, BaseException):
                raise listing
            if isinstance(early, BaseException) and not isinstance(early, SourceError):
                raise early
            associated = listing
            # A foreseen read that failed (after its own retries) stands for its ids, as the one read would have
            # without the foresight: reading them again would be a retry outside the retry budget.
            raws.update(dict.fromkeys(foreseen, early) if isinstance(early, SourceError) else early)
        known = set(foreseen)
        listed = dict.fromkeys(target.to_id for targets in associated.values() for target in targets)
        missing = [record_id for record_id in listed if record_id not in known]
        if missing:
            raws.update(await self._read_many(object_type, missing, properties))
        return [_related(company, associated[company], raws, build) for company in companies]

    async def _foreseen(self, object_type: str, ids: Sequence[str], properties: Sequence[str]) -> dict[str, Raw]:
        """Foreseen records, read once per request: when the listing beside them fails and the attempt is
        retried, they are not read again (a retry costs what it did without the foresight). A failed read
        raises, and is not kept: the retry reads them again, as it would have without the foresight."""

        async def read() -> dict[str, Raw]:
            found = await self._read_many(object_type, ids, properties)
            failure = next((value for value in found.values() if isinstance(value, SourceError)), None)
            if failure is not None:
                raise failure
            return cast(dict[str, Raw], found)

        return await shared_in_request((self.source, "foreseen", object_type, tuple(ids)), read)

    async def _interactions_of_companies(self, companies: Sequence[str]) -> list[RelatedResult]:
        per_type = await _all(
            self._of_companies(engagement.object_type, companies, engagement.properties,
                               partial(self.mapping.interaction, engagement))
            for engagement in ENGAGEMENT_TYPES.values()
        )  # fmt: skip
        results: list[RelatedResult] = []
        for index in range(len(companies)):
            parts = [answer[index] for answer in per_type]
            failure = next((part for part in parts if isinstance(part, SourceError)), None)
            if failure is not None:
                results.append(failure)  # a timeline missing a kind of interaction would mislead
                continue
            merged = [record for part in parts if not isinstance(part, SourceError) for record in part]
            merged.sort(key=_newest_first)  # as a CRM timeline shows them
            results.append(list[Record](merged))
        return results

    async def _associated_with_companies(
        self, object_type: str, companies: Sequence[str]
    ) -> dict[str, list[Associated]]:
        if _single_company(companies):
            view = await self._company_view(companies[0])
            if view is None:
                return {companies[0]: []}  # no such company: nothing is associated with it
            listed = view.associated.get(object_type)
            if listed is not None:
                return {companies[0]: listed}
        return await self._associations("companies", object_type, companies)

    async def _company_view(self, company_id: str) -> CompanyView | None:
        """The company and what is associated with it, read once per request whichever paths ask."""
        return await shared_in_request((self.source, "company view", company_id), partial(self._read_view, company_id))

    async def _read_view(self, company_id: str) -> CompanyView | None:
        params = {"properties": ",".join(PARTY_PROPERTIES), "associations": ",".join(VIEW_ASSOCIATIONS)}
        raw = await self._get(f"/crm/v3/objects/companies/{company_id}", params, allow_missing=True)
        if raw is None:
            return None
        expect(self.source, isinstance(raw, Mapping) and raw.get("id") == company_id, f"company {company_id}")
        listings = raw.get("associations") or {}
        expect(self.source, isinstance(listings, Mapping), "associations that are not a JSON object")
        associated: dict[str, list[Associated] | None] = {}
        for object_type in VIEW_ASSOCIATIONS:
            listing = listings.get(object_type)
            if listing is None:
                associated[object_type] = []  # HubSpot leaves out a type with nothing associated
                continue
            targets = _listing(self.source, listing)
            # More than the first page: the v4 API reads the whole list (rare; a company's own GET is for 360s).
            associated[object_type] = None if _next_after(self.source, listing) is not None else targets
        return CompanyView(raw, associated)

    # --- the wire --------------------------------------------------------------------------------

    async def _read(self, object_type: str, ids: Sequence[str], properties: Sequence[str]) -> dict[str, Raw]:
        """Up to 100 records by id; an id HubSpot does not know is absent (its 207 ``errors`` list it)."""
        body = {"inputs": [{"id": object_id} for object_id in ids], "properties": list(properties)}
        answer = await self._post(f"/crm/v3/objects/{object_type}/batch/read", body)
        found: dict[str, Raw] = {}
        for raw in _items(self.source, answer, "results"):
            record_id = raw.get("id")
            expect(self.source, isinstance(record_id, str), f"a {object_type} batch/read result without an id")
            found[str(record_id)] = raw
        return found

    async def _read_many(
        self, object_type: str, ids: Sequence[str], properties: Sequence[str]
    ) -> dict[str, Raw | SourceError]:
        """Any number of records by id, 100 a call; a failed call fails the ids it carried, not the others."""
        chunks = [ids[i : i + BATCH_READ_LIMIT] for i in range(0, len(ids), BATCH_READ_LIMIT)]
        answers = await _settled([self._read(object_type, chunk, properties) for chunk in chunks])
        found: dict[str, Raw | SourceError] = {}
        for chunk, answer in zip(chunks, answers, strict=True):
            if isinstance(answer, SourceError):
                found.update(dict.fromkeys(chunk, answer))
            elif isinstance(answer, BaseException):
                raise answer
            else:
                found.update(answer)
        return found

    async def _associations(self, from_type: str, to_type: str, ids: Sequence[str]) -> dict[str, list[Associated]]:
        """The ``to_type`` records associated with each of up to 1,000 ids, every page of them."""
        path = f"/crm/v4/associations/{from_type}/{to_type}/batch/read"
        found: dict[str, list[Associated]] = {object_id: [] for object_id in ids}
        inputs: list[dict[str, str]] = [{"id": object_id} for object_id in found]
        followed: set[tuple[str, str]] = set()
        while inputs:
            answer = await self._post(path, {"inputs": inputs})
            _check_association_errors(self.source, answer)
            inputs = []
            for result in _items(self.source, answer, "results"):
                origin = result.get("from")
                from_id = origin.get("id") if isinstance(origin, dict) else None
                if not isinstance(from_id, str) or from_id not in found:
                    raise _unexpected(self.source, f"associations of {from_id!r}, which were not asked for")
                found[from_id] += [_associated(self.source, target) for target in _items(self.source, result, "to")]
                # HubSpot answers 500 associations an input; the rest come by sending it again with `after`.
                after = _next_after(self.source, result)
                if after is not None:
                    expect(self.source, (from_id, after) not in followed, "a paging cursor that does not move")
                    followed.add((from_id, after))
                    inputs.append({"id": from_id, "after": after})
        return found

    @property
    def _wire_source(self) -> HttpSource:
        if self._http is None:
            raise AdapterContractError(f"{self.source} ({self.kind}) was used before open()")
        return self._http

    async def _get(self, path: str, params: Mapping[str, str] | None = None, *, allow_missing: bool = False) -> Any:
        async with self._wire:
            return await self._wire_source.get_json(path, params=params, allow_missing=allow_missing)

    async def _post(self, path: str, body: object) -> Any:
        async with self._wire:
            return await self._wire_source.post_json(path, body)


# --- helpers ---------------------------------------------------------------------------------------


def _unexpected(source: str, what: str) -> UpstreamBadResponse:
    return UpstreamBadResponse(source, f"unexpected answer: {what}")  # as expect() words it


def _text_setting(source: str, settings: Mapping[str, Any], key: str) -> str:
    value = settings.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"sources.{source}.{key}", f"the hubspot adapter needs a {key} (a non-empty string)")
    return value.strip()


def _choice_setting(source: str, settings: Mapping[str, Any], key: str, choices: tuple[str, ...]) -> str:
    value = settings.get(key, choices[0])
    if value not in choices:
        raise ConfigError(f"sources.{source}.{key}", f"one of {', '.join(choices)}, got {value!r}")
    return str(value)


def _deal_stages_setting(source: str, settings: Mapping[str, Any]) -> list[str]:
    value = settings.get("deal_stages", [])
    valid = isinstance(value, list) and all(
        isinstance(stage, str) and re.fullmatch("[A-Za-z0-9_]+", stage) for stage in value
    )
    if not valid:
        raise ConfigError(
            f"sources.{source}.deal_stages",
            f"a list of deal stage ids (as GET /crm/v3/pipelines/deals names them), got {value!r}",
        )
    return [stage for stage in value if stage not in DEFAULT_PIPELINE_STAGES]


def _currency_setting(source: str, settings: Mapping[str, Any]) -> str | None:
    value = settings.get("currency")
    if value is not None and not (isinstance(value, str) and re.fullmatch("[A-Z]{3}", value)):
        raise ConfigError(f"sources.{source}.currency", f"must be an ISO 4217 code such as EUR, got {value!r}")
    return value


def _seconds_setting(source: str, settings: Mapping[str, Any], key: str, default: float) -> float:
    value = settings.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"sources.{source}.{key}", f"must be a number of seconds >= 0, got {value!r}")
    return float(value)


def _timeout_setting(source: str, settings: Mapping[str, Any]) -> httpx.Timeout:
    value = settings.get("timeout_s")
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"sources.{source}.timeout_s", f"must be a positive number of seconds, got {value!r}")
    return httpx.Timeout(float(value), connect=min(float(value), 3.0))


async def _both(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Both results, or the first failure once both have finished (no call is left running unowned)."""
    a, b = await asyncio.gather(first, second, return_exceptions=True)
    if isinstance(a, BaseException):
        raise a
    if isinstance(b, BaseException):
        raise b
    return a, b


async def _settled(awaitables: list[Awaitable[A]]) -> list[A | BaseException]:
    """Every result or exception, as ``gather(..., return_exceptions=True)`` gives them. One awaitable (the
    usual case: up to 100 ids) is awaited in place: a gather would cost a task and a turn of the loop."""
    if len(awaitables) == 1:
        try:
            return [await awaitables[0]]
        except Exception as exc:
            return [exc]
    return list(await asyncio.gather(*awaitables, return_exceptions=True))


async def _all(awaitables: Iterable[Awaitable[A]]) -> list[A]:
    """Every result, or the first failure once all have finished."""
    answers = await asyncio.gather(*awaitables, return_exceptions=True)
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    return [answer for answer in answers if not isinstance(answer, BaseException)]


def _each(keys: Sequence[str], found: Mapping[str, Raw], build: Callable[[str, Raw], Record]) -> list[FetchResult]:
    """One result per key: the mapped record, None when absent, or the error of a record we cannot read."""
    results: list[FetchResult] = []
    for key in keys:
        raw = found.get(key)
        if raw is None:
            results.append(None)
            continue
        try:
            results.append(build(key, raw))
        except UpstreamBadResponse as error:
            results.append(error)
    return results


def _related(
    company: str, targets: Sequence[Associated], raws: Mapping[str, Raw | SourceError], build: Build[R]
) -> list[R] | SourceError:
    records: list[R] = []
    for target in targets:
        raw = raws.get(target.to_id)
        if isinstance(raw, SourceError):
            return raw  # part of this company's list is unreadable: say so rather than answer half of it
        if raw is None:
            continue  # archived between the two reads: HubSpot no longer shows it either
        try:
            records.append(build(raw, company))
        except UpstreamBadResponse as error:
            return error
    return records


def _widen(results: Sequence[Sequence[Record] | SourceError]) -> list[RelatedResult]:
    return [result if isinstance(result, SourceError) else list(result) for result in results]


def _newest_first(record: InteractionRecord) -> tuple[float, str]:
    return (-record.occurred_at.timestamp(), record.source_id)


def _items(source: str, container: object, key: str) -> list[Raw]:
    """``container[key]``, which must be a list of JSON objects."""
    items = container.get(key) if isinstance(container, dict) else None
    expect(source, isinstance(items, list), f"no {key} list")
    expect(source, all(isinstance(item, dict) for item in items or ()), f"{key} that are not JSON objects")
    return list(items or ())


def _next_after(source: str, container: Raw) -> str | None:
    paging = container.get("paging")
    following = paging.get("next") if isinstance(paging, dict) else None
    after = following.get("after") if isinstance(following, dict) else None
    expect(source, after is None or (isinstance(after, str) and after != ""), f"paging.next.after {after!r}")
    return after


def _associated(source: str, target: Raw) -> Associated:
    to_id = target.get("toObjectId")
    if isinstance(to_id, str) and to_id.isdigit():
        to_id = int(to_id)
    expect(source, type(to_id) is int, f"toObjectId {to_id!r} is not an id")
    kinds = target.get("associationTypes") or []
    expect(source, isinstance(kinds, list), f"associationTypes {kinds!r}")
    return Associated(str(to_id), frozenset(k["typeId"] for k in kinds if isinstance(k, dict) and "typeId" in k))


def _listing(source: str, listing: object, primary: tuple[str, int] | None = None) -> list[Associated]:
    """The records a record's own ``?associations=`` lists for one type, each once in the order listed.

    HubSpot lists an id once per association type (``contact_to_company`` for the primary company, and
    ``contact_to_company_unlabeled``); ``primary`` is the label of the primary type and its type id.
    """
    found: dict[str, set[int]] = {}
    for item in _items(source, listing, "results"):
        to_id, label = item.get("id"), item.get("type")
        expect(source, isinstance(to_id, str) and to_id.isdigit(), f"associated id {to_id!r} is not an id")
        kinds = found.setdefault(str(to_id), set())
        if primary is not None and label == primary[0]:
            kinds.add(primary[1])
    return [Associated(to_id, frozenset(kinds)) for to_id, kinds in found.items()]


def _single_company(ids: Sequence[str]) -> bool:
    """Whether a read is for one company by its HubSpot id: its own GET then serves every path at once.

    With more, the batch endpoints keep a level of the query at one call per path whatever the count.
    """
    return len(ids) == 1 and ids[0].isdigit()


def _check_association_errors(source: str, answer: object) -> None:
    """Inputs without associations (OBJECT_NOT_FOUND) read as empty lists; any other error must not."""
    errors = answer.get("errors", []) if isinstance(answer, Mapping) else []
    expect(source, isinstance(errors, list), "an errors value that is not a list")
    for error in errors:
        category = error.get("category") if isinstance(error, Mapping) else None
        if category != "OBJECT_NOT_FOUND":
            message = error.get("message") if isinstance(error, Mapping) else error
            raise UpstreamBadResponse(source, f"associations read failed ({category}): {message}")
