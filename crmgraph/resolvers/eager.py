"""Coroutines run to their end at once when nothing they await has to wait.

A resolver whose loads are already read (a list page reads its rows' records before GraphQL walks them)
would still return a coroutine, and graphql-core would make an asyncio Task of it. :func:`run_eagerly`
starts the coroutine in the call: when it finishes without suspending (every future it awaited was done)
its value comes back as a plain value; when it suspends, a :class:`Suspended` that carries on from where it
stopped, handing the future it waits for to the event loop exactly as awaiting the coroutine would have.
Nothing changes about what the coroutine does, only that its first step runs in the caller's call.
:func:`gathered` is ``asyncio.gather`` with the same shortcut.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine, Generator, Sequence
from typing import Any


class Suspended:
    """The rest of a coroutine that suspended at its first step: awaiting it resumes the coroutine."""

    __slots__ = ("_coroutine", "_waiting_on")

    def __init__(self, coroutine: Coroutine[Any, Any, Any], waiting_on: Any) -> None:
        self._coroutine = coroutine
        self._waiting_on = waiting_on  # what the coroutine yielded: the future it waits for (or None)

    def __await__(self) -> Generator[Any, Any, Any]:
        coroutine = self._coroutine
        waiting_on = self._waiting_on
        if getattr(waiting_on, "_asyncio_future_blocking", None) is False:
            waiting_on._asyncio_future_blocking = True  # see run_eagerly: handed on as a future yields itself
        while True:
            # Hand the awaited future up to the task that awaits us, as ``await`` would, and pass what the
            # task sends or throws back down into the coroutine.
            try:
                sent = yield waiting_on
            except GeneratorExit:
                coroutine.close()
                raise
            except BaseException as error:  # cancellation or an error thrown in by the task
                try:
                    waiting_on = coroutine.throw(error)
                except StopIteration as done:
                    return done.value
                continue
            try:
                waiting_on = coroutine.send(sent)
            except StopIteration as done:
                return done.value


def run_eagerly(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """``coroutine``'s value when it completes without suspending, else a :class:`Suspended` to await."""
    try:
        waiting_on = coroutine.send(None)
    except StopIteration as done:
        return done.value
    if getattr(waiting_on, "_asyncio_future_blocking", None):
        # A future that yields itself to its awaiter raises this flag, and the task that takes it lowers it.
        # Until a task awaits the Suspended, nobody has taken it: lowered here, so that the next coroutine to
        # await the same future (a load two fields share) does not find it raised ("await wasn't used with
        # future"); raised again when the Suspended hands it to its task.
        waiting_on._asyncio_future_blocking = False
    return Suspended(coroutine, waiting_on)


async def gathered(awaitables: Sequence[Awaitable[Any]], return_exceptions: bool = False) -> list[Any]:
    """``asyncio.gather`` that does not suspend when nothing it is given has to wait.

    ``asyncio.gather`` always costs a turn of the event loop, even over futures that are done (it learns
    of them through callbacks the loop runs). A resolver gathering loads its list page has already read
    would suspend for nothing, and an eager resolver (:func:`run_eagerly`) would become a task. Here done
    futures are read at once and coroutines run eagerly; only what still waits is gathered. Results keep
    the given order; without ``return_exceptions`` the first failure in that order is raised, once every
    awaitable has had its chance to run, as ``asyncio.gather`` lets them.
    """
    results: list[Any] = []
    waiting: dict[int, Awaitable[Any]] = {}
    for index, awaitable in enumerate(awaitables):
        if isinstance(awaitable, asyncio.Future):
            if awaitable.done():
                results.append(_outcome(awaitable))
                continue
        elif asyncio.iscoroutine(awaitable):
            try:
                value = run_eagerly(awaitable)
            except Exception as error:
                results.append(error)
                continue
            if not isinstance(value, Suspended):
                results.append(value)
                continue
            awaitable = value
        waiting[index] = awaitable
        results.append(None)
    if waiting:
        late = await asyncio.gather(*waiting.values(), return_exceptions=True)
        for index, value in zip(waiting, late, strict=True):
            results[index] = value
    if not return_exceptions:
        for value in results:
            if isinstance(value, BaseException):
                raise value
    return results


def _outcome(future: asyncio.Future[Any]) -> Any:
    if future.cancelled():
        return asyncio.CancelledError()
    return future.exception() or future.result()
