"""Change events: the canonical envelope, the bus between instances, cache invalidation, subscriptions' feed.

What producers (webhooks, change feeds, mutations, ``crmgraph events publish``) call::

    from crmgraph.events import ChangeEvent, ChangeKind, Entity
    await hub.publish([ChangeEvent("tickets", Entity.TICKET, "4711", ChangeKind.UPDATED,
                                   changed=("status",), parents=(("party", "360"),))])

``hub`` is the app's :class:`EventHub` (``Runtime.events``). See docs/realtime.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from crmgraph.events.change import BadEvent, ChangeEvent, ChangeKind, Entity
from crmgraph.events.settings import EventsConfig

if TYPE_CHECKING:
    from crmgraph.events.bus import EventBus, LocalBus
    from crmgraph.events.fanout import Delivery, SlowSubscriber, Subscriber
    from crmgraph.events.hub import EventHub, open_bus
    from crmgraph.events.redis_bus import RedisBus

# The hub and the buses pull in the identity store and Redis: imported when first asked for, so that the
# configuration (which reads the events' settings) and the command line start without them.
_LAZY = {
    "EventBus": "bus", "LocalBus": "bus", "Delivery": "fanout", "SlowSubscriber": "fanout",
    "Subscriber": "fanout", "EventHub": "hub", "open_bus": "hub", "RedisBus": "redis_bus",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"crmgraph.events.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BadEvent",
    "ChangeEvent",
    "ChangeKind",
    "Delivery",
    "Entity",
    "EventBus",
    "EventHub",
    "EventsConfig",
    "LocalBus",
    "RedisBus",
    "SlowSubscriber",
    "Subscriber",
    "open_bus",
]
