"""The events' Prometheus metrics, read from the hub at scrape time (nothing to keep in sync on the hot path).

=============================================  ==============================================================
``crmgraph_events_received_total``             change events this instance heard on the bus
``crmgraph_event_subscribers``                 subscriptions open on this instance
``crmgraph_event_subscribers_dropped_total``   subscriptions dropped for falling ``events.queue_size`` behind
=============================================  ==============================================================
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from crmgraph.events.hub import EventHub


class EventsCollector(Collector):
    def __init__(self, hub: EventHub) -> None:
        self.hub = hub

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily("crmgraph_events_received", "Change events heard on the bus",
                                  value=self.hub.received)  # fmt: skip
        yield GaugeMetricFamily("crmgraph_event_subscribers", "Subscriptions open on this instance",
                                value=len(self.hub.fanout.subscribers))  # fmt: skip
        yield CounterMetricFamily("crmgraph_event_subscribers_dropped", "Subscriptions dropped for falling behind",
                                  value=self.hub.fanout.dropped)  # fmt: skip
