"""The adapter SDK contract: what an adapter declares, what it implements, and what crmgraph does for it.

An adapter is a class that reaches one legacy system. It **declares** the access paths it serves
(:class:`AccessPath`: which entity, reached by which key, how many keys one upstream call may carry)
and **implements** the protected batch methods:

- :meth:`Adapter._fetch` ``(entity, ids)``: one result per id, in order: the record, ``None`` if the
  system has no such record, or a :class:`~crmgraph.errors.SourceError` for that id alone;
- :meth:`Adapter._fetch_related` ``(entity, by, keys)``: one list of records per key (orders of customers,
  comments of tickets), or a :class:`~crmgraph.errors.SourceError` for that key;
- :meth:`Adapter._scan` ``(entity, cursor, size)``: one page of every record of an entity, stable order;
- :meth:`Adapter._changes` ``(entity, since, cursor, size)`` (optional): one page of the records of an entity
  changed or created at or after ``since``, read from the system's own change feed (a search on the
  last-modified time, an incremental export, a change column). An adapter that can do it for an entity
  names the entity in ``change_feeds``; one that cannot leaves it out, and a caller reads the entity whole
  with :meth:`scan` instead (``crmgraph link --changed`` does, and says so in its report);
- :meth:`Adapter._aggregate_daily` ``(entity, parties)`` (optional): the source's own ``GROUP BY`` of an entity's
  documents (orders, invoices) into one :class:`~crmgraph.records.PartyDayTotal` per party, day and currency,
  for reports that need totals rather than rows; entities named in ``aggregatable``.

crmgraph owns the public methods (:meth:`fetch`, :meth:`fetch_related`, :meth:`scan`, :meth:`changes`,
:meth:`aggregate_daily`): they remove
duplicate keys, cut the keys into batches of the declared size, run the batches with bounded concurrency
(a path whose ``max_batch`` is 1 has no batch form upstream and is fanned out), check the answer's
alignment, and turn an exception into a per-key error so one bad batch never fails the others. They
also apply the source's resilience policies (``sources.<name>.resilience``, see
:class:`~crmgraph.adapters.sdk.resilience.ResiliencePolicy`): per-call timeout within the request deadline,
retries of the keys that failed in a retryable way, circuit breaker, client-side rate limit and the pause
a 429 asks for. An adapter never retries, caches or times itself: those are written once, above it.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar

from crmgraph.adapters.sdk.breaker import CircuitBreaker
from crmgraph.adapters.sdk.budget import NO_LIMIT_BUDGET, FairBudget, RateLimit, Slots
from crmgraph.adapters.sdk.calls import operation
from crmgraph.adapters.sdk.resilience import (
    CircuitOpen,
    DeadlineExceeded,
    Resilience,
    ResiliencePolicy,
    SourcePaused,
    counts_as_failure,
)
from crmgraph.adapters.sdk.writes import WriteOp
from crmgraph.errors import (
    AdapterContractError,
    ClientError,
    ConfigError,
    SourceError,
    UpstreamBadResponse,
    UpstreamOutcomeUnknown,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
    UpstreamUnreachable,
)
from crmgraph.records import Page, PartyDayTotal, Record

T = TypeVar("T")
FetchResult = Record | None | SourceError
RelatedResult = list[Record] | SourceError


@dataclass(frozen=True)
class AccessPath:
    """One way an entity can be reached: by its own ``id``, or by a related key (``by="party"``)."""

    entity: str
    by: str = "id"
    max_batch: int = 100  # keys per upstream call; 1 means the system has no batch form for this path
    # A path that answers at most this many records per key: a list one longer says there were more and it
    # was cut (the ``sql`` adapter's joined reads, which a caller uses only when they are complete).
    row_limit: int | None = None
    # The adapter answers the path from a list of every record it reads whole and keeps (HubSpot's owners):
    # its calls do not grow with the keys asked, and a batch of keys may cost no call at all.
    kept_whole: bool = False
    # The adapter can read only each key's newest records (``fetch_related``'s ``newest``): orders of a page of
    # customers when the page shows five of each.
    newest_first: bool = False

    @property
    def batched(self) -> bool:
        return self.max_batch > 1


class Adapter(ABC):
    """Base class of every adapter. Subclasses set ``kind`` and ``paths`` and implement the ``_`` methods."""

    kind: ClassVar[str]  # the name used in configuration: ``adapter: hubspot``
    paths: ClassVar[tuple[AccessPath, ...]]
    # Entities :meth:`scan` can page through: declared on the class; an adapter whose configuration decides
    # what it holds narrows it per instance (the ``sql`` adapter, to what its mapping maps).
    scannable: frozenset[str] = frozenset()
    # Entities :meth:`changes` can read by change time (mostly among ``scannable``; a feed of an entity too
    # large to list whole, as the ERP's orders, is fine): declared like it.
    change_feeds: frozenset[str] = frozenset()
    # Entities :meth:`aggregate_daily` can total by party and day in the source itself (a SQL GROUP BY).
    aggregatable: frozenset[str] = frozenset()
    # The record fields each entity's records can have a value in, by entity, where the adapter knows (what its
    # mapping fills: a ticket system's organizations have no owner, nor a tax id). A page's reads then skip this
    # source for a golden field or an owner it never holds (see :meth:`may_hold`). An entity not named here may
    # hold any field: an adapter that declares nothing is always asked.
    holds: Mapping[str, frozenset[str]] = MappingProxyType({})
    # (entity, "create" | "update") pairs :meth:`write` accepts; an adapter without writes leaves it empty.
    writable: frozenset[tuple[str, str]] = frozenset()
    # The upstream's documented quota (HubSpot: 100 requests per 10 s), which the source's ``rate_limit``
    # setting replaces; None when the kind documents none. It sizes the concurrency budget (see budget.py).
    rate_limit: ClassVar[RateLimit | None] = None
    # Upstream calls in flight at once for this source: from the rate limit (a quarter of one window's
    # quota, 4..64), else 8; the source's ``max_concurrency`` setting overrides it. Shared fairly between
    # the requests in flight (FairBudget).
    max_concurrency: int = NO_LIMIT_BUDGET

    def __init__(self, source: str, settings: Mapping[str, Any]) -> None:
        self.source = source
        self.settings = settings
        self.quota = RateLimit.from_settings(source, settings, type(self).rate_limit)
        derived = self.quota.budget() if self.quota is not None else self.max_concurrency
        configured = settings.get("max_concurrency", derived)
        if isinstance(configured, bool) or not isinstance(configured, int) or configured < 1:
            raise ConfigError(f"sources.{source}.max_concurrency", f"must be a whole number >= 1, got {configured!r}")
        self.max_concurrency = configured
        self._limit: Slots = FairBudget(self.max_concurrency)
        self.resilience = Resilience(source, ResiliencePolicy.from_settings(source, settings))
        self._paths = {(path.entity, path.by): path for path in self.paths}

    # --- lifecycle -------------------------------------------------------------------------------

    async def open(self) -> None:  # noqa: B027 - an optional hook: many adapters need no set-up
        """Open connections (HTTP client, engine). Called once before the first request."""

    async def close(self) -> None:  # noqa: B027 - an optional hook, like open()
        """Release what :meth:`open` acquired."""

    # --- the public methods (crmgraph's) -------------------------------------------------------------

    def path(self, entity: str, by: str = "id") -> AccessPath:
        try:
            return self._paths[(entity, by)]
        except KeyError:
            raise AdapterContractError(f"{self.source} ({self.kind}) cannot reach {entity} by {by}") from None

    def serves(self, entity: str, by: str = "id") -> bool:
        return (entity, by) in self._paths

    def served(self) -> Iterable[tuple[str, str]]:
        """Every ``(entity, by)`` this adapter serves (:meth:`serves` answers True for each)."""
        return self._paths.keys()

    def may_hold(self, entity: str, field: str) -> bool:
        """Whether this source's ``entity`` records can have a value in ``field`` (a record attribute:
        ``owner_id``, ``tax_id``); True unless :attr:`holds` says otherwise."""
        fields = self.holds.get(entity)
        return fields is None or field in fields

    @property
    def breaker(self) -> CircuitBreaker:
        """This source's circuit breaker: ``breaker.state`` and ``breaker.snapshot()`` for readiness and metrics."""
        return self.resilience.breaker

    async def fetch(self, entity: str, ids: Sequence[str]) -> list[FetchResult]:
        """Records by id, aligned with ``ids``."""
        path = self.path(entity)
        return await self._batched(
            path, ids, lambda chunk: self._fetch(entity, chunk), f"fetch {entity}", fallback=None
        )

    async def fetch_related(
        self, entity: str, by: str, keys: Sequence[str], newest: int | None = None
    ) -> list[RelatedResult]:
        """Records related to each key (``fetch_related("order", "party", customer_ids)``), aligned.

        ``newest`` is a hint: only each key's ``newest`` latest records are needed (by the entity's own time:
        an order's ``placed_at``). A path declared ``newest_first`` may then answer fewer, never fewer than
        those (ties at the cut included); any other answers every record. Either way the caller sorts and
        cuts."""
        path = self.path(entity, by)
        if newest is not None and path.newest_first:
            return await self._batched(
                path, keys, lambda chunk: self._fetch_related_newest(entity, by, chunk, newest),
                f"fetch_related {entity} by {by}, newest {newest}", fallback=[],
            )  # fmt: skip
        return await self._batched(
            path, keys, lambda chunk: self._fetch_related(entity, by, chunk), f"fetch_related {entity} by {by}",
            fallback=[],
        )  # fmt: skip

    async def scan(self, entity: str, cursor: str | None = None, size: int = 100) -> Page:
        """One page of every record of ``entity``, in a stable order (for linking and exports)."""
        if entity not in self.scannable:
            raise ClientError(f"{self.source} cannot list every {entity}")
        with operation(f"scan {entity}", size):
            return await self.resilience.once(lambda: self._scan(entity, cursor, size), self._limit)

    async def changes(self, entity: str, since: datetime, cursor: str | None = None, size: int = 100) -> Page:
        """One page of the records of ``entity`` changed or created at or after ``since`` (an aware instant).

        The feed is complete: no record changed at or after ``since`` is missing once the last page (the one
        without a ``next_cursor``) has been read, whatever changes meanwhile. It may give more: a record
        changed a little before ``since`` (a feed that counts in whole seconds or days) or a record twice
        (it changed again while the feed was read); callers keep the last copy of each. Each record's
        ``updated_at`` is the change time the feed went by, where the system says it.
        """
        if entity not in self.change_feeds:
            raise ClientError(f"{self.source} cannot read the {entity} records changed since a moment")
        if since.tzinfo is None:
            raise ClientError(f"since must be an aware instant (with a time zone), not {since.isoformat()}")
        with operation(f"changes {entity}", size):
            return await self.resilience.once(lambda: self._changes(entity, since, cursor, size), self._limit)

    async def aggregate_daily(self, entity: str, parties: Sequence[str] | None = None) -> list[PartyDayTotal]:
        """The source's own totals of ``entity``: one row per party, day and currency (count and sum), over every
        record the source counts (cancelled documents left out), or over those of ``parties`` only.

        What a day and a total are is the adapter's to say (the ``sql`` adapter: an order's ``placed_at`` date and
        ``total``, an invoice's ``issued_at`` date and ``net``). Rows come sorted by party, day and currency.
        """
        if entity not in self.aggregatable:
            raise ClientError(f"{self.source} cannot total {entity} by party and day")
        wanted = None if parties is None else list(dict.fromkeys(parties))
        if wanted == []:
            return []
        with operation(f"aggregate {entity}", 0 if wanted is None else len(wanted)):
            return await self.resilience.once(lambda: self._aggregate_daily(entity, wanted), self._limit)

    async def write(self, op: WriteOp) -> Record:
        """Create or update one record in the system of record; the record as the system now holds it.

        Raises :class:`~crmgraph.adapters.sdk.writes.WriteRefused` when the system refused it as asked. A write is
        sent once: after a timeout, a dropped connection or a 5xx the system may have applied it, so the error
        is :class:`~crmgraph.errors.UpstreamOutcomeUnknown` (a caller reconciles with :meth:`find_written`),
        while a refusal decided before anything was sent (circuit open, paused, no connection) keeps its code.
        """
        if (op.entity, op.action) not in self.writable:
            raise ClientError(f"{self.source} cannot {op.action} a {op.entity}")
        with operation(f"{op.action} {op.entity}", 1):
            try:
                return await self.resilience.protect(lambda: self._write(op), self._limit)
            except (CircuitOpen, SourcePaused, DeadlineExceeded, UpstreamUnreachable, UpstreamRateLimited):
                raise  # nothing reached the system (a 429 is answered before the write is applied)
            except (UpstreamTimeout, UpstreamUnavailable, UpstreamBadResponse) as error:
                raise UpstreamOutcomeUnknown(
                    self.source,
                    f"{op.action} {op.entity}: sent, but no answer says whether it was applied ({error.code})",
                ) from error

    async def find_written(self, entity: str, idempotency_key: str) -> Record | None:
        """The record a write with ``idempotency_key`` made, if the system keeps the key; None if it has none
        (or cannot say). Used to settle a write whose outcome was unknown."""
        return None

    # --- the protected methods (the adapter's) -------------------------------------------------------

    @abstractmethod
    async def _fetch(self, entity: str, ids: Sequence[str]) -> Sequence[FetchResult]:
        """At most ``max_batch`` distinct ids; return one result per id, in order."""

    async def _fetch_related(self, entity: str, by: str, keys: Sequence[str]) -> Sequence[RelatedResult]:
        """At most ``max_batch`` distinct keys; return one list per key, in order."""
        raise AdapterContractError(f"{self.kind} declares {entity} by {by} but does not implement it")

    async def _fetch_related_newest(
        self, entity: str, by: str, keys: Sequence[str], newest: int
    ) -> Sequence[RelatedResult]:
        """Like :meth:`_fetch_related`, for a ``newest_first`` path: each key's list may leave out all but its
        ``newest`` latest records (keep every record tied with the last one kept)."""
        return await self._fetch_related(entity, by, keys)

    async def _scan(self, entity: str, cursor: str | None, size: int) -> Page:
        raise AdapterContractError(f"{self.kind} declares {entity} scannable but does not implement it")

    async def _aggregate_daily(self, entity: str, parties: Sequence[str] | None) -> list[PartyDayTotal]:
        """Totals by party, day and currency, of every party (``parties`` None) or of these distinct ones (any
        number: split them as the source needs), sorted by party, day and currency."""
        raise AdapterContractError(f"{self.kind} declares {entity} aggregatable but does not implement it")

    async def _write(self, op: WriteOp) -> Record:
        """Send one write; the record the system answers with, or :class:`WriteRefused`."""
        raise AdapterContractError(f"{self.kind} declares {op.action} {op.entity} but does not implement it")

    async def _changes(self, entity: str, since: datetime, cursor: str | None, size: int) -> Page:
        """At most about ``size`` records changed at or after ``since``, oldest change first where the system
        can sort so, and the cursor of the next page (None after the last). ``cursor`` is one this method gave."""
        raise AdapterContractError(f"{self.kind} declares a change feed of {entity} but does not implement it")

    # --- machinery ---------------------------------------------------------------------------------

    async def _batched(
        self,
        path: AccessPath,
        keys: Sequence[str],
        call: Any,
        name: str,
        fallback: Any,
    ) -> list[Any]:
        unique = list(dict.fromkeys(keys))
        chunks = [unique[i : i + path.max_batch] for i in range(0, len(unique), path.max_batch)]
        if len(chunks) == 1:
            # The usual case awaited in place: a task per chunk would cost the call a turn of the event loop.
            answers = [await self._one_batch(chunks[0], call, name)]
        else:
            answers = await asyncio.gather(*(self._one_batch(chunk, call, name) for chunk in chunks))
        by_key: dict[str, Any] = {}
        for chunk, answer in zip(chunks, answers, strict=True):
            by_key.update(zip(chunk, answer, strict=True))
        return [by_key.get(key, fallback) for key in keys]

    async def _one_batch(self, chunk: list[str], call: Any, name: str) -> list[Any]:
        with operation(name, len(chunk)):
            return await self.resilience.batch(chunk, lambda keys: self._attempt(keys, call, name))

    async def _attempt(self, keys: list[str], call: Any, name: str) -> list[Any]:
        """One guarded upstream call for ``keys``: aligned results, every failure in its keys' slots."""
        try:
            answer = list(await self.resilience.protect(lambda: call(keys), self._limit, failed=_all_failed))
        except SourceError as error:
            return [error] * len(keys)
        except AdapterContractError:
            raise
        except Exception as exc:  # a bug or an unforeseen upstream answer: fail these keys only
            failure = UpstreamBadResponse(self.source, f"{name} failed: {exc.__class__.__name__}")
            failure.__cause__ = exc
            return [failure] * len(keys)
        if len(answer) != len(keys):
            raise AdapterContractError(
                f"{self.kind}.{name} returned {len(answer)} results for {len(keys)} keys; they must align"
            )
        return answer


def _all_failed(answer: Iterable[Any]) -> bool:
    """An answer whose every slot says the system is unwell counts as a failed call for the breaker."""
    results = list(answer)
    return bool(results) and all(counts_as_failure(result) for result in results)
