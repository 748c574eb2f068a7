"""The ``rest`` adapter: an HTTP API described in YAML (docs/rest-sources.md), no Python.

Access paths come from the spec: ``<entity> by id`` for an entity with ``get_many`` (its ``max_batch`` ids a
call) or ``get`` (one id a call, fanned out by the SDK within ``max_concurrency``), and ``<entity> by
<relation>`` per ``related`` entry (``max_batch`` parents a call when its call takes ``{keys}``, else one).
An entity with ``list`` is scannable, one with ``changes`` has a change feed, ``create``/``update`` make it
writable. Settings beside ``spec``/``api``: ``max_concurrency`` and ``resilience`` as for every source.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from crmgraph.adapters.rest import calls
from crmgraph.adapters.rest.auth import prepared
from crmgraph.adapters.rest.checks import load_spec
from crmgraph.adapters.rest.http import RestHttp
from crmgraph.adapters.rest.mapping import Mapper
from crmgraph.adapters.rest.select import search
from crmgraph.adapters.rest.spec import Call, Related
from crmgraph.adapters.rest.writes import send_write
from crmgraph.adapters.sdk.base import AccessPath, Adapter, FetchResult, RelatedResult
from crmgraph.adapters.sdk.writes import WriteOp
from crmgraph.errors import AdapterContractError, ClientError, SourceError, UpstreamBadResponse
from crmgraph.records import Page, Record


def _paths(spec_entities: Mapping[str, Any]) -> tuple[AccessPath, ...]:
    found: list[AccessPath] = []
    for name, entity in spec_entities.items():
        if entity.get_many is not None:
            found.append(AccessPath(name, max_batch=entity.get_many.max_batch))
        elif entity.get is not None:
            found.append(AccessPath(name, max_batch=1))  # no batch form upstream: the SDK fans out
        for by, related in entity.related.items():
            # Many parents a call where the API takes them together; and for a membership listed per parent,
            # many parents too: the adapter lists each parent's members itself and fetches them all in one batch.
            batched = related.mentions("keys") or related.members is not None
            found.append(AccessPath(name, by, max_batch=related.max_batch if batched else 1))
    return tuple(found)


class RestAdapter(Adapter):
    kind = "rest"
    paths = ()  # per instance, from the spec

    def __init__(
        self, source: str, settings: Mapping[str, Any], *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.spec = load_spec(source, settings)
        entities = self.spec.entities
        # The SDK reads the declared paths from the instance: each source serves what its spec describes.
        setattr(self, "paths", _paths(entities))  # noqa: B010 - `paths` is a ClassVar for the other adapters
        super().__init__(source, settings)
        self.mappers = {name: Mapper(source, name, entity) for name, entity in entities.items()}
        self.scannable = frozenset(name for name, entity in entities.items() if entity.list is not None)
        self.change_feeds = frozenset(name for name, entity in entities.items() if entity.changes is not None)
        # A party's fields are those its spec maps (Adapter.holds): a list page asks another source for the rest.
        self.holds = MappingProxyType({"party": frozenset(entities["party"].fields)} if "party" in entities else {})
        self.writable = frozenset(
            (name, action) for name, entity in entities.items() for action in ("create", "update")
            if getattr(entity, action) is not None
        )  # fmt: skip
        self._transport = transport
        self._http: RestHttp | None = None

    async def open(self) -> None:
        flow, headers, query = prepared(self.source, self.spec.auth)
        timeout = self.spec.timeout_s
        self._http = RestHttp(
            self.source, self.spec.base_url, query=query, headers=self.spec.headers | headers, auth=flow,
            timeout=httpx.Timeout(timeout, connect=min(3.0, timeout)), max_connections=self.max_concurrency,
            transport=self._transport,
        )  # fmt: skip

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    @property
    def http(self) -> RestHttp:
        if self._http is None:
            raise AdapterContractError(f"{self.source} ({self.kind}) was used before open()")
        return self._http

    # --- by id --------------------------------------------------------------------------------------

    async def _fetch(self, entity: str, ids: Sequence[str]) -> Sequence[FetchResult]:
        asked = self._holdable(entity, ids)
        if self.spec.entities[entity].get_many is None:
            found = {key: await self._get(entity, key) for key in asked}  # one id: the SDK fans out
        else:
            found = dict(zip(asked, await self._get_many(entity, asked), strict=True)) if asked else {}
        return [found.get(key) for key in ids]

    def _holdable(self, entity: str, ids: Sequence[str]) -> list[str]:
        """The ids the API can hold (``id_pattern``); the others are missing, and cost no call."""
        spec = self.spec.entities.get(entity)
        if spec is None or spec.id_pattern is None:
            return list(ids)
        pattern = re.compile(spec.id_pattern)
        return [key for key in ids if pattern.fullmatch(key)]

    async def _get(self, entity: str, key: str) -> FetchResult:
        call = self.spec.entities[entity].get
        assert call is not None
        values = {"id": key}
        params = {name: calls.filled(str(v), values, in_path=False) for name, v in call.params.items()}
        body, _ = await self.http.call(call.method, calls.filled(call.path, values, in_path=True), params=params,
                                       headers=call.headers or None, allow_missing=True)  # fmt: skip
        raw = search(call.select, body) if body is not None else None
        if raw is None:
            return None
        try:
            record = self.mappers[entity](raw)
        except SourceError as error:
            return error
        # An API that answers another record than the one asked for is not answering this id.
        return record if record.source_id == key else None

    async def _get_many(self, entity: str, ids: Sequence[str]) -> list[FetchResult]:
        call = self.spec.entities[entity].get_many
        assert call is not None
        answer = await calls.one_page(self.http, call, {"ids": call.joiner.join(ids)}, None, len(ids))
        return self._matched(entity, ids, answer.rows)

    def _matched(self, entity: str, ids: Sequence[str], raws: list[Any]) -> list[FetchResult]:
        """Records matched back to the ids asked for by their mapped id; an id without a record is None."""
        mapper = self.mappers[entity]
        found: dict[str, FetchResult] = {}
        unattributed: SourceError | None = None
        for raw in raws:
            try:
                record = mapper(raw)
            except SourceError as error:
                raw_id = mapper.raw_id(raw)
                if raw_id is None:
                    unattributed = error
                else:
                    found[raw_id] = error
                continue
            found[record.source_id] = record
        # A record without an id may be any of the missing ones: "no such record" could be false for each.
        return [found.get(key, unattributed) for key in ids]

    async def _fetch_ids(self, entity: str, ids: list[str]) -> list[FetchResult]:
        """Records by id from inside another call (the second step of a membership): batched or fanned out
        here, within the source's concurrency, since the SDK is already guarding the outer call. Aligned with
        ``ids``; an id the API cannot hold is None."""
        spec = self.spec.entities[entity]
        asked = self._holdable(entity, ids)
        if spec.get_many is not None:
            size = spec.get_many.max_batch
            chunks = [asked[i : i + size] for i in range(0, len(asked), size)]
            answers = await asyncio.gather(*(self._get_many(entity, chunk) for chunk in chunks))
            results = [result for answer in answers for result in answer]
        else:
            limit = asyncio.Semaphore(self.max_concurrency)

            async def one(key: str) -> FetchResult:
                async with limit:
                    return await self._get(entity, key)

            results = list(await asyncio.gather(*(one(key) for key in asked)))
        found = dict(zip(asked, results, strict=True))
        return [found.get(key) for key in ids]

    # --- related ------------------------------------------------------------------------------------

    async def _fetch_related(self, entity: str, by: str, keys: Sequence[str]) -> Sequence[RelatedResult]:
        related = self.spec.entities[entity].related[by]
        # A key the parent's entity cannot hold has no records: answered without a call.
        asked = self._holdable(by, keys)
        if not asked:
            return [[] for _ in keys]
        if related.mentions("keys"):
            found = dict(zip(asked, await self._for_many_parents(entity, related, asked), strict=True))
            return [found.get(key, []) for key in keys]
        if related.members is not None:
            found = dict(zip(asked, await self._members_of_parents(entity, related, asked), strict=True))
            return [found.get(key, []) for key in keys]
        results: list[RelatedResult] = []
        for key in keys:  # one key a call: the SDK fans the keys out, so this loop runs once
            if key not in asked:
                results.append([])
                continue
            try:
                results.append(await self._for_parent(entity, related, key))
            except SourceError as error:
                results.append(error)
        return results

    async def _members_of_parents(self, entity: str, related: Related, keys: list[str]) -> list[RelatedResult]:
        """Each parent's membership listed (one call a parent, within the source's concurrency), then every
        member of them all fetched by id together: a page of leads' campaigns costs one call a lead plus one."""
        member_of = related.members
        assert member_of is not None
        limit = asyncio.Semaphore(self.max_concurrency)

        async def listed(key: str) -> list[str] | SourceError:
            async with limit:
                try:
                    raws = await calls.every_page(self.http, related, {"key": key}, related.max_related,
                                                  allow_missing=True)  # fmt: skip
                except SourceError as error:
                    return error
            found = (search(member_of, raw) for raw in raws)
            return list(dict.fromkeys(str(member) for member in found if member not in (None, "")))

        memberships = await asyncio.gather(*(listed(key) for key in keys))
        wanted = list(dict.fromkeys(m for found in memberships if not isinstance(found, SourceError) for m in found))
        fetched = dict(zip(wanted, await self._fetch_ids(entity, wanted), strict=True)) if wanted else {}
        results: list[RelatedResult] = []
        for found in memberships:
            if isinstance(found, SourceError):
                results.append(found)
                continue
            members = [fetched.get(member) for member in found]
            failure = next((m for m in members if isinstance(m, SourceError)), None)
            # a member deleted since the listing is left out; one that cannot be read fails its parent's list
            results.append(failure or [m for m in members if isinstance(m, Record)])
        return results

    async def _for_parent(self, entity: str, related: Related, key: str) -> list[Record]:
        """One parent's records, every page (a membership never comes here: see _members_of_parents)."""
        raws = await calls.every_page(self.http, related, {"key": key}, related.max_related, allow_missing=True)
        preset = {related.key_field: key} if related.key_field else None
        return [self.mappers[entity](raw, preset) for raw in raws]

    async def _for_many_parents(self, entity: str, related: Related, keys: Sequence[str]) -> list[RelatedResult]:
        raws = await calls.every_page(self.http, related, {"keys": related.joiner.join(keys)}, related.max_related)
        grouped: dict[str, list[Record]] = {key: [] for key in keys}
        failed: dict[str, SourceError] = {}
        field = related.key_field or ""
        for raw in raws:
            try:
                record = self.mappers[entity](raw)
            except SourceError as error:
                parent = search(self.spec.entities[entity].fields[field].path, raw) if field else None
                for key in [str(parent)] if parent is not None else keys:
                    failed[key] = error
                continue
            owner = getattr(record, field, None)
            if owner is not None and str(owner) in grouped:
                grouped[str(owner)].append(record)
        return [failed.get(key, grouped[key]) for key in keys]

    # --- listings -----------------------------------------------------------------------------------

    async def _scan(self, entity: str, cursor: str | None, size: int) -> Page:
        call = self.spec.entities[entity].list
        assert call is not None
        return await self._page(entity, call, {}, cursor, size)

    async def _changes(self, entity: str, since: datetime, cursor: str | None, size: int) -> Page:
        call = self.spec.entities[entity].changes
        assert call is not None
        local = since.astimezone(ZoneInfo(call.timezone))
        fmt = call.since_format
        if fmt in ("epoch_s", "epoch_ms"):
            written = str(int(since.timestamp() * (1000 if fmt == "epoch_ms" else 1)))
        else:
            written = local.isoformat() if fmt == "iso8601" else local.strftime(fmt)
        return await self._page(entity, call, {"since": written}, cursor, size)

    async def search(self, entity: str, query: str, cursor: str | None = None, size: int = 100) -> Page:
        """One page of the records the API's search finds for ``query`` (the entity's ``search`` call)."""
        entity_spec = self.spec.entities.get(entity)
        if entity_spec is None or entity_spec.search is None:
            raise ClientError(f"{self.source} cannot search {entity} records")
        call = entity_spec.search
        return await self.resilience.once(lambda: self._page(entity, call, {"query": query}, cursor, size), self._limit)

    async def _page(self, entity: str, call: Call, values: dict[str, str], cursor: str | None, size: int) -> Page:
        position = _position(self.source, cursor)
        answer = await calls.one_page(self.http, call, values, position, size)
        # Unlike a related list, a page has no per-key slot for a bad record: the page fails as a whole.
        records = [self.mappers[entity](raw) for raw in answer.rows]
        following = answer.next_position
        if following is not None and following == position:
            raise UpstreamBadResponse(self.source, f"{call.path}: a next page that does not move")
        return Page(records, _cursor(following) if following is not None else None)

    # --- writes -------------------------------------------------------------------------------------

    async def _write(self, op: WriteOp) -> Record:
        entity = self.spec.entities[op.entity]
        write = entity.create if op.action == "create" else entity.update
        assert write is not None
        return self.mappers[op.entity](await send_write(self.http, write, self.mappers[op.entity], op))


def _cursor(position: str) -> str:
    return base64.urlsafe_b64encode(position.encode()).decode()


def _position(source: str, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise ClientError(f"{cursor!r} is not a cursor {source} gave out") from None
