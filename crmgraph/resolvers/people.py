"""A customer's people, one per golden person: the records identity resolution found to be one person.

The people are those the customer's records list in each system that can list them (CRM contacts of the
company, ERP contact persons of the debtor), and the records of its golden persons (the ``person`` links
that :meth:`~crmgraph.identity.store.IdentityStore.links_of` returns with the customer's own) in systems
that cannot (the ticket system's users), read by id in the same level as the lists. Records of one golden
person become one person, so a person known only to the ticket system is one too; a record without a
person link stays a person of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crmgraph.identity.store import Link, SourceRecord
from crmgraph.records import PersonRecord
from crmgraph.resolvers import records as read
from crmgraph.resolvers.loaders import Loaders


@dataclass(frozen=True)
class GoldenPerson:
    """One person: the record that speaks for it (first source in precedence order) and all its links."""

    primary: PersonRecord
    records: list[PersonRecord]  # the person's records read for the customer, primary first
    links: list[Link]  # every record identity resolution linked to the person, in precedence order


def group(loaders: Loaders, people: Sequence[PersonRecord], links: Sequence[Link]) -> list[GoldenPerson]:
    """``people`` grouped by the golden person their ``links`` name; unlinked records on their own."""
    person_links = read.in_precedence(loaders, [link for link in links if link.entity == "person"])
    person_of: dict[SourceRecord, int] = {}
    links_of: dict[int, list[Link]] = {}
    for link in person_links:
        if link.person_id is not None:
            person_of[(link.source, link.source_id)] = link.person_id
            links_of.setdefault(link.person_id, []).append(link)
    rank = {source: position for position, source in enumerate(loaders.adapters)}
    ordered = sorted(people, key=lambda p: (rank.get(p.source, len(rank)), p.source_id))
    groups: dict[int | SourceRecord, list[PersonRecord]] = {}
    for person in ordered:
        key = (person.source, person.source_id)
        groups.setdefault(person_of.get(key, key), []).append(person)
    return [
        GoldenPerson(records[0], records, links_of.get(golden, []) if isinstance(golden, int) else [])
        for golden, records in groups.items()
    ]


async def golden_people(loaders: Loaders, customer_id: int) -> list[GoldenPerson]:
    """The customer's people, one per golden person; a failing system fails the list (with its error)."""
    links = await loaders.links.load(customer_id)
    by_id = read.unlisted_loads(loaders, links, "person")
    read.prefetch(by_id)  # they leave with the lists; a list that fails first leaves them to the request
    listed = await read.of_customer(loaders, customer_id, "person")
    linked = [record for load in by_id if (record := await load) is not None]
    people = read.of_type([*listed, *linked], PersonRecord)
    return group(loaders, people, links)
