"""The golden customers' report fields in bulk: every customer's records, survivorship applied per field.

The same rules the graph applies to one customer (:mod:`crmgraph.resolvers.survivorship`), applied to
every customer from one scan of each source's parties: what the reports filter by (country, owner,
industry, lifecycle stage) is what ``Customer`` answers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from crmgraph.analytics.rows import Row, SourceRecord, aware
from crmgraph.identity.settings import Survivorship
from crmgraph.records import PartyRecord
from crmgraph.resolvers.survivorship import decide, priority

REPORTED_FIELDS = ("name", "country", "industry", "lifecycle_stage")


def customer_rows(
    customer_ids: Iterable[int],
    parties: Mapping[SourceRecord, PartyRecord],
    party_customers: Mapping[SourceRecord, int],
    sources: Sequence[str],
    survivorship: Survivorship,
) -> list[Row]:
    """One row per golden customer; ``parties`` in configured source order (precedence)."""
    records: defaultdict[int, list[PartyRecord]] = defaultdict(list)
    for key, party in parties.items():
        customer = party_customers.get(key)
        if customer is not None:
            records[customer].append(party)
    order = priority(list(sources), survivorship)
    return [customer_row(c, records.get(c, []), sources, order, survivorship) for c in customer_ids]


def customer_row(
    customer: int, records: Sequence[PartyRecord], sources: Sequence[str], order: Sequence[str],
    survivorship: Survivorship,
) -> Row:  # fmt: skip
    row: Row = {"customer_id": str(customer)}
    for name in REPORTED_FIELDS:
        survived = decide(name, records, survivorship.rules_for(name), order)
        row[name] = survived.value if survived is not None else None
    if row["name"] is None:
        row["name"] = f"Customer {customer}"
    if row["country"] is not None:
        row["country"] = str(row["country"]).upper()[:2]
    # The owner as ``Customer.owner`` finds it: the first record, in configured source order, that has one.
    rank = {source: position for position, source in enumerate(sources)}
    owned = sorted((r for r in records if r.owner_id), key=lambda r: rank.get(r.source, len(rank)))
    row["owner_id"] = owned[0].owner_id if owned else None
    created = [moment for r in records if (moment := aware(r.created_at)) is not None]
    row["created_at"] = min(created) if created else None
    return row
