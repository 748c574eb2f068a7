"""A per-request batch loader: every key asked for in one turn of the event loop becomes one batch.

It does what strawberry's DataLoader does for crmgraph (batching, one future per key for the whole
request, errors per key) with one difference that matters for latency: the batch's task is created at the
first ``load`` of a batch, so the batch leaves on the loop's next turn. DataLoader first schedules a
callback that then creates the task, one more turn; in a busy moment (a dozen upstream answers arriving
together) a turn of the loop takes a millisecond or more, and every level of dependent reads paid it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
UNKNOWN: Any = object()  # what a loader's ``known`` answers for a key it does not know at once
T = TypeVar("T")
_log = logging.getLogger(__name__)


class BatchLoader(Generic[K, T]):
    """Loads values by key through ``load_fn`` (aligned results; an exception in a slot fails that key)."""

    def __init__(
        self, load_fn: Callable[[list[K]], Awaitable[Sequence[Any]]], known: Callable[[K], Any] | None = None
    ) -> None:
        self._load_fn = load_fn
        # A key's value known at once (a fresh entry in the process's cache), else UNKNOWN: not batched.
        self._known = known
        self._futures: dict[K, asyncio.Future[T]] = {}
        self._waiting: list[K] = []  # keys of the batch not yet sent
        self._running: set[asyncio.Task[None]] = set()  # a task nobody references can be collected mid-way
        self._on_arrival: dict[K, list[Callable[[Any], None]]] = {}

    def load(self, key: K) -> asyncio.Future[T]:
        """The value for ``key``: asked upstream once per loader, whoever asks and however often."""
        future = self._futures.get(key)
        if future is not None and not future.cancelled():
            return future
        loop = asyncio.get_running_loop()
        future = self._futures[key] = loop.create_future()
        if self._known is not None:
            value = self._known(key)
            if value is not UNKNOWN:
                future.set_result(value)
                return future
        if not self._waiting:
            task = loop.create_task(self._send())
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        self._waiting.append(key)
        return future

    def prime(self, key: K, value: T) -> None:
        """Take ``value`` for ``key`` without asking (read by another statement); a key asked already keeps
        its answer."""
        if key not in self._futures:
            future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
            future.set_result(value)
            self._futures[key] = future

    def on_arrival(self, key: K, then: Callable[[Any], None]) -> None:
        """Call ``then`` with ``key``'s value (not with an error) the moment its batch answers.

        It runs before any caller awaiting the key resumes: reads it starts are queued ahead of whatever
        those callers then do. Called at once when the value is already there.
        """
        future = self._futures.get(key)
        if future is not None and future.done():
            if not future.cancelled() and future.exception() is None:
                then(future.result())
            return
        self._on_arrival.setdefault(key, []).append(then)

    async def _send(self) -> None:
        keys, self._waiting = self._waiting, []
        futures = [self._futures[key] for key in keys]
        if all(future.done() for future in futures):
            return  # every caller gave up before the batch left: no call for nobody
        try:
            values = list(await self._load_fn(keys))
            if len(values) != len(keys):
                raise RuntimeError(f"a batch of {len(keys)} keys got {len(values)} results")
        except Exception as exc:  # the whole batch failed: every key gets the error
            for key in keys:
                self._on_arrival.pop(key, None)
            for future in futures:
                if not future.done():
                    future.set_exception(exc)
            return
        except BaseException:
            for key in keys:
                self._on_arrival.pop(key, None)
            for future in futures:
                future.cancel()
            raise
        for key, future, value in zip(keys, futures, values, strict=True):
            for then in self._on_arrival.pop(key, ()):
                # A key whose callers all gave up (a sibling field failed and GraphQL cancelled them) needs
                # nothing more read for it.
                if not isinstance(value, BaseException) and not future.cancelled():
                    _run_quietly(then, value)
        for future, value in zip(futures, values, strict=True):
            if future.done():
                continue
            if isinstance(value, BaseException):
                future.set_exception(value)
            else:
                future.set_result(value)


def _run_quietly(then: Callable[[Any], None], value: Any) -> None:
    # Work started on arrival only gets ahead of the resolvers; a fault in it must not fail the batch.
    try:
        then(value)
    except Exception:
        _log.exception("on-arrival callback %r failed", then)
