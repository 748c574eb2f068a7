"""Building links: every source record of a customer belongs to exactly one golden customer.

In this version links come from explicit cross-references only (an ERP column naming the CRM id, a ticket
organization's ``external_id``): records joined by them are one customer, and a record no reference
reaches is a customer of its own. Runs are repeatable: a record keeps its customer id from one run to
the next; customers that a new reference joins are merged into the older id.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from crmgraph.adapters.base import Adapter
from crmgraph.identity.store import IdentityStore, Link, SourceRecord, normalize
from crmgraph.records import PartyRecord

Progress = Callable[[str, int], None]  # (source, records scanned so far)
PAGE_SIZE = 100


@dataclass
class LinkReport:
    scanned: Counter[str] = field(default_factory=Counter)
    customers: int = 0
    new_customers: int = 0
    merged_customers: int = 0
    records_linked_by_xref: int = 0
    dangling_xrefs: int = 0  # references to records that no source returned
    links_written: int = 0


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[SourceRecord, SourceRecord] = {}

    def add(self, node: SourceRecord) -> None:
        self.parent.setdefault(node, node)

    def find(self, node: SourceRecord) -> SourceRecord:
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:  # path compression keeps later finds flat
            self.parent[node], node = root, self.parent[node]
        return root

    def union(self, a: SourceRecord, b: SourceRecord) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[max(root_a, root_b)] = min(root_a, root_b)


def match_keys_of(record: PartyRecord) -> set[tuple[str, str]]:
    """Normalised values a customer can be searched (and later matched) by."""
    keys = {("name", normalize(record.name))}
    if record.domain:
        keys.add(("domain", normalize(record.domain).removeprefix("www.")))
    if record.tax_id:
        keys.add(("tax_id", "".join(ch for ch in record.tax_id.upper() if ch.isalnum())))
    if record.email:
        keys.add(("email", normalize(record.email)))
    return keys


async def _scan_parties(
    adapters: Mapping[str, Adapter], report: LinkReport, progress: Progress | None
) -> dict[SourceRecord, PartyRecord]:
    found: dict[SourceRecord, PartyRecord] = {}
    for name, adapter in adapters.items():
        if "party" not in adapter.scannable:
            continue
        cursor: str | None = None
        while True:
            page = await adapter.scan("party", cursor, PAGE_SIZE)
            for record in page.records:
                if isinstance(record, PartyRecord):
                    found[(name, record.source_id)] = record
                    report.scanned[name] += 1
            if progress is not None:
                progress(name, report.scanned[name])
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    return found


async def link_parties(
    store: IdentityStore, adapters: Mapping[str, Adapter], progress: Progress | None = None
) -> LinkReport:
    """Scan every source that can list its parties, join them by cross-reference, write the links.

    A source that fails while being scanned aborts the run before anything is written.
    """
    report = LinkReport()
    records = await _scan_parties(adapters, report, progress)
    groups = _UnionFind()
    for node in records:
        groups.add(node)
    for node, record in records.items():
        for target in record.xrefs:
            if target in records:
                groups.union(node, target)
            else:
                report.dangling_xrefs += 1

    components: dict[SourceRecord, list[SourceRecord]] = {}
    for node in records:
        components.setdefault(groups.find(node), []).append(node)

    current = store.current_links("party")
    next_id = store.next_customer_id()
    new_customers: list[int] = []
    retired: set[int] = set()
    assignments: list[Link] = []
    keys: dict[int, set[tuple[str, str]]] = {}
    for members in components.values():
        known = sorted({current[node] for node in members if node in current})
        if known:
            customer_id = known[0]
            retired.update(known[1:])
            report.merged_customers += len(known) - 1
        else:
            customer_id, next_id = next_id, next_id + 1
            new_customers.append(customer_id)
        rule = "xref" if len(members) > 1 else "self"
        if rule == "xref":
            report.records_linked_by_xref += len(members)
        keys[customer_id] = set().union(*(match_keys_of(records[node]) for node in members))
        for source, source_id in members:
            if current.get((source, source_id)) != customer_id:
                assignments.append(Link(customer_id, source, "party", source_id, rule, 1.0))
    store.apply("party", new_customers, assignments, keys, retired - set(keys))
    report.customers = len(components)
    report.new_customers = len(new_customers)
    report.links_written = len(assignments)
    return report
