"""One subscription's stream of events, and the fresh request each event is answered in.

A subscription lives as long as its connection, but each event is answered as a request of its own: new
loaders (a record read for an earlier event is not the record now), a new upstream call log and budget,
and the request deadline counted from the event. They are set here around the ``yield``: graphql-core
resolves the payload in the task that iterates this generator, so what is set before the ``yield`` is what
the payload's resolvers see.

A subscriber that falls behind (:class:`~crmgraph.events.SlowSubscriber`) has its connection closed with
:data:`SLOW_SUBSCRIBER` and this stream waits for the transport to cancel it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import TYPE_CHECKING

import strawberry

from crmgraph.adapters.sdk.calls import CallLog, current_call_log
from crmgraph.adapters.sdk.resilience import current_deadline
from crmgraph.cache.read_through import report_peeked_hits
from crmgraph.errors import ClientError
from crmgraph.events import Delivery, SlowSubscriber
from crmgraph.policy.roles import Access
from crmgraph.resolvers.loaders import Loaders

if TYPE_CHECKING:
    from crmgraph.context import RequestContext

    Info = strawberry.Info[RequestContext, None]
else:
    Info = strawberry.Info

SLOW_SUBSCRIBER = 4429  # WebSocket close code: the subscriber fell more than events.queue_size events behind
_closing: set[asyncio.Task[None]] = set()  # close tasks under way (a task nothing references may be collected)


def in_scope(access: Access | None, delivery: Delivery, customer_id: int | None = None) -> bool:
    """Whether the principal may hear of the event: one of its customers (``customer_id`` if given) is in
    the row scope. An event no customer holds is outside every scope."""
    event = delivery.event
    if customer_id is not None and customer_id not in event.customer_ids:
        return False
    if access is None or not access.scoped:
        return True
    return any(
        access.admits({"customer_id": str(customer), **keys})
        for customer, keys in delivery.scope_keys.items()
        if customer_id is None or customer == customer_id
    )


async def deliveries(info: Info, accepts: Callable[[Delivery], bool]) -> AsyncGenerator[Delivery, None]:
    context = info.context
    hub = context.events
    if hub is None:
        raise ClientError("subscriptions are not served here")
    close = context.close_connection

    def overflow() -> None:
        if close is not None:
            task = asyncio.ensure_future(close(SLOW_SUBSCRIBER, "subscriber too slow: events.queue_size exceeded"))
            _closing.add(task)
            task.add_done_callback(_closing.discard)

    subscriber = hub.subscribe(accepts, overflow)
    try:
        while True:
            try:
                delivery = await subscriber.get()
            except SlowSubscriber:
                if close is None:
                    raise ClientError("subscriber too slow: more events waited than events.queue_size") from None
                await asyncio.Future()  # the connection is closing: the transport cancels this operation
            with _event_request(context):
                yield delivery
    finally:
        hub.unsubscribe(subscriber)


@contextlib.contextmanager
def _event_request(context: RequestContext) -> Iterator[None]:
    old = context.loaders
    context.loaders = Loaders(old.adapters, old.cache, old.identity, old.survivorship)
    context.call_log = CallLog(budget=context.call_log.budget)
    if context.audit is not None:
        context.audit.masked_paths.clear()  # extensions.masked of this event's answer only
    log = current_call_log.set(context.call_log)
    deadline = current_deadline.set(time.monotonic() + context.deadline_s if context.deadline_s else None)
    try:
        yield
    finally:
        # Closed from elsewhere (the connection went away), the generator ends in another context: nothing to reset.
        with contextlib.suppress(ValueError):
            current_deadline.reset(deadline)
        with contextlib.suppress(ValueError):
            current_call_log.reset(log)
        report_peeked_hits(context.call_log)
