"""Change events: the canonical envelope, the bus between instances, cache invalidation, subscriptions' feed.

What producers (webhooks, change feeds, mutations, ``crmgraph events publish``) call::

    from crmgraph.events import ChangeEvent, ChangeKind, Entity
    await hub.publish([ChangeEvent("tickets", Entity.TICKET, "4711", ChangeKind.UPDATED,
                                   changed=("status",), parents=(("party", "360"),))])

``hub`` is the app's :class:`EventHub` (``Runtime.events``). See docs/realtime.md.
"""

from __future__ import annotations

from crmgraph.events.bus import EventBus, LocalBus
from crmgraph.events.change import BadEvent, ChangeEvent, ChangeKind, Entity
from crmgraph.events.fanout import Delivery, SlowSubscriber, Subscriber
from crmgraph.events.hub import EventHub, open_bus
from crmgraph.events.redis_bus import RedisBus
from crmgraph.events.settings import EventsConfig

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
