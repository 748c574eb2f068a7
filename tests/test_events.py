"""The change event's wire form, which cache entries an event names, the bounded fan-out, the config section."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import orjson
import pytest

from crmgraph.adapters.sql import SqlAdapter
from crmgraph.adapters.zendesk import ZendeskAdapter
from crmgraph.cache.read_through import cache_key
from crmgraph.config import ConfigErrors, parse_config
from crmgraph.events import BadEvent, ChangeEvent, ChangeKind, Delivery, Entity, SlowSubscriber
from crmgraph.events.change import decode_batch, encode_batch
from crmgraph.events.fanout import Fanout, Subscriber
from crmgraph.events.invalidation import affected

MOMENT = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)
_WIRE = ('{"v": 1, "id": "x", "system": "crm", "entity": "deal", "recordId": "1", "kind": "updated", '
         '"occurredAt": "2026-12-06T09:30:00+00:00", "receivedAt": "2026-12-06T09:30:00+00:00"}')  # fmt: skip


def _ticket(**overrides: object) -> ChangeEvent:
    fields: dict[str, object] = {"system": "tickets", "entity": Entity.TICKET, "record_id": "4711",
                                 "kind": ChangeKind.UPDATED, "changed": ("status", "assignee"),
                                 "parents": (("party", "360"),), "customer_ids": (7,), "occurred_at": MOMENT,
                                 "received_at": MOMENT}  # fmt: skip
    return ChangeEvent(**fields | overrides)  # type: ignore[arg-type]


def test_an_event_survives_the_wire_unchanged_alone_and_in_a_batch() -> None:
    event, deleted = _ticket(), _ticket(kind=ChangeKind.DELETED, changed=())
    assert ChangeEvent.from_wire(orjson.loads(event.to_json())) == event
    assert decode_batch(encode_batch([event, deleted])) == [event, deleted]
    assert decode_batch(event.to_json()) == [event]
    assert event.id != deleted.id  # each event its own id, to de-duplicate by


@pytest.mark.parametrize(
    "message",
    ["not json", '{"v": 99}', '{"v": 1, "id": "x"}', _WIRE.replace('"deal"', '"planet"'),
     _WIRE.replace('09:30:00+00:00", "rec', '09:30:00", "rec'), _WIRE.replace('"1"', '""')],
    ids=["not JSON", "another version", "fields missing", "unknown entity", "a time without a zone", "an empty id"],
)  # fmt: skip
def test_a_message_that_is_not_a_change_event_is_refused(message: str) -> None:
    assert decode_batch(_WIRE)[0].record_id == "1"
    with pytest.raises(BadEvent):
        decode_batch(message)


def test_a_ticket_change_names_the_ticket_its_organizations_list_and_its_comments() -> None:
    zendesk = ZendeskAdapter("tickets", {"url": "http://127.0.0.1:9", "email": "a@b.test", "token": "t"})
    assert affected(_ticket(), zendesk) == [
        ("tickets", "ticket", "id", "4711"),
        ("tickets", "ticket", "party", "360"),
        ("tickets", "comment", "ticket", "4711"),
    ]


def test_an_order_change_names_the_joined_lists_of_its_party_and_its_own_children() -> None:
    erp = SqlAdapter("erp", {"url": "sqlite://"})
    order = ChangeEvent("erp", Entity.ORDER, "0001000003", parents=(("party", "0000100001"),))
    entries = affected(order, erp)
    assert ("erp", "order", "id", "0001000003") in entries
    assert ("erp", "order", "party", "0000100001") in entries
    assert ("erp", "order_line", "order.party", "0000100001") in entries  # the lines read with a customer's orders
    assert ("erp", "order_line", "order", "0001000003") in entries
    assert ("erp", "invoice", "order", "0001000003") in entries
    assert cache_key(*entries[0]).startswith("erp:order:id:0001000003:v")


def test_an_event_of_an_unconfigured_system_names_only_its_own_keys() -> None:
    assert affected(_ticket(system="elsewhere"), None) == [
        ("elsewhere", "ticket", "id", "4711"),
        ("elsewhere", "ticket", "party", "360"),
    ]


def test_a_subscriber_gets_what_it_accepts_and_is_dropped_one_event_past_its_queue() -> None:
    async def scenario() -> None:
        fanout, dropped = Fanout(), []
        picky = Subscriber(lambda d: d.event.kind is ChangeKind.CREATED, 2)
        slow = Subscriber(lambda d: True, 2, on_overflow=lambda: dropped.append(True))
        fanout.add(picky)
        fanout.add(slow)
        fanout.dispatch([Delivery(_ticket()), Delivery(_ticket(kind=ChangeKind.CREATED))])
        assert (await picky.get()).event.kind is ChangeKind.CREATED
        fanout.dispatch([Delivery(_ticket())])  # a third waiting event for a queue of two
        assert dropped == [True] and slow.overflowed and slow.high_water == 2
        assert fanout.subscribers == {picky} and fanout.dropped == 1
        with pytest.raises(SlowSubscriber):
            await slow.get()  # what waited was freed: the overflow is all that is left

    asyncio.run(scenario())


def test_the_events_section_is_validated_with_the_path_of_each_mistake() -> None:
    base = "sources: {crm: {adapter: hubspot, url: 'http://x', token: t}}\n"
    config = parse_config(base + "events: {url: 'redis://127.0.0.1:6379/0', channel: prod-events, queue_size: 64}")
    assert (config.events.channel, config.events.queue_size) == ("prod-events", 64)
    assert parse_config(base).events.url == "memory://"
    with pytest.raises(ConfigErrors) as refused:
        parse_config(base + "events: {url: 'nats://127.0.0.1:4222', queue_size: 0, colour: blue}")
    assert {problem.path for problem in refused.value.problems} == {"events.url", "events.queue_size", "events.colour"}
