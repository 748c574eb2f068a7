"""Survivorship: which of a customer's records gives each golden field its value, and by which rule.

The rules of ``identity.survivorship`` are tried in order, per field, until one decides:

``source_priority``  the first source, in the order of ``survivorship.source_priority`` (else of
                     ``sources:``), whose record has a value
``most_recent``      the record changed last (``updated_at``, else ``created_at``); undecided when no
                     record with a value carries a time, or when the newest ones disagree
``most_frequent``    the value most records agree on, compared normalised (case, spacing); undecided on a tie
``non_empty``        any value: the first in the order of ``sources:``

A record without a value (missing, empty or blank) takes no part. When no rule decides (a tie), the
source priority breaks it, and the provenance says ``source_priority``.

A field whose first rule is ``source_priority`` waits only for the sources up to the winning one
(:func:`crmgraph.resolvers.records.survivor`); the other rules need every record, so they wait for every
source of the customer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from crmgraph.identity.settings import SURVIVING_FIELDS, Survivorship
from crmgraph.identity.store import Link, normalize
from crmgraph.records import PartyRecord
from crmgraph.resolvers import records as read
from crmgraph.resolvers.loaders import Loaders

Candidate = tuple[PartyRecord, str]  # a record and its (non-empty) value of the field
Rule = Callable[[list[Candidate], Sequence[str]], Candidate | None]


@dataclass(frozen=True)
class Survived:
    """A golden field's value, the record it comes from, and the rule that chose it."""

    field: str  # the record's attribute: name, tax_id, ...
    value: str
    record: PartyRecord
    rule: str
    link: Link | None = None  # how the record is linked to the customer, when known

    @property
    def changed_at(self) -> datetime | None:
        return self.record.updated_at or self.record.created_at


def priority(sources: Sequence[str], settings: Survivorship) -> list[str]:
    """Sources in order of trust: those ``source_priority`` names first, then the rest in configured order."""
    named = [source for source in dict.fromkeys(settings.source_priority) if source in sources]
    return named + [source for source in sources if source not in named]


_SOURCE_ORDER = ("survivorship source order",)  # its key in a request's Loaders.derived


def source_order(loaders: Loaders) -> tuple[str, ...]:
    """:func:`priority` of the request's sources, worked out once per request: a list page asks it for every
    golden field of every row."""
    found: tuple[str, ...] | None = loaders.derived.get(_SOURCE_ORDER)
    if found is None:
        found = loaders.derived[_SOURCE_ORDER] = tuple(priority(list(loaders.adapters), loaders.survivorship))
    return found


def value_of(record: PartyRecord, field: str) -> str | None:
    value = getattr(record, field)
    return value if isinstance(value, str) and value.strip() else None


def decide(field: str, records: Sequence[PartyRecord], rules: Sequence[str], order: Sequence[str]) -> Survived | None:
    """The surviving value of ``field`` among ``records`` (given in configured source order)."""
    candidates = [(record, value) for record in records if (value := value_of(record, field)) is not None]
    if not candidates:
        return None
    for rule in rules:
        found = RULES[rule](candidates, order)
        if found is not None:
            return Survived(field, found[1], found[0], rule)
    record, value = _in_priority(candidates, order)[0]
    return Survived(field, value, record, "source_priority")


def _in_priority(candidates: list[Candidate], order: Sequence[str]) -> list[Candidate]:
    rank = {source: position for position, source in enumerate(order)}
    return sorted(candidates, key=lambda candidate: rank.get(candidate[0].source, len(rank)))  # stable


def _source_priority(candidates: list[Candidate], order: Sequence[str]) -> Candidate | None:
    return _in_priority(candidates, order)[0]


def _non_empty(candidates: list[Candidate], order: Sequence[str]) -> Candidate | None:
    return candidates[0]


def _stamp(record: PartyRecord) -> datetime | None:
    at = record.updated_at or record.created_at
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)  # a system that gives local times without a zone: read them as UTC
    return at


def _most_recent(candidates: list[Candidate], order: Sequence[str]) -> Candidate | None:
    stamped = [(at, candidate) for candidate in candidates if (at := _stamp(candidate[0])) is not None]
    if not stamped:
        return None
    newest = max(at for at, _ in stamped)
    latest = [candidate for at, candidate in stamped if at == newest]
    if len({normalize(value) for _, value in latest}) > 1:
        return None
    return _in_priority(latest, order)[0]


def _most_frequent(candidates: list[Candidate], order: Sequence[str]) -> Candidate | None:
    counts = Counter(normalize(value) for _, value in candidates)
    (top, most), *rest = counts.most_common()
    if rest and rest[0][1] == most:
        return None
    return _in_priority([candidate for candidate in candidates if normalize(candidate[1]) == top], order)[0]


RULES: dict[str, Rule] = {
    "source_priority": _source_priority,
    "most_recent": _most_recent,
    "most_frequent": _most_frequent,
    "non_empty": _non_empty,
}


async def golden_field(loaders: Loaders, customer_id: int, field: str) -> Survived | None:
    """The surviving value of one field of the customer; raises when none of its systems answered."""
    rules = loaders.survivorship.rules_for(field)
    order = source_order(loaders)
    if rules[0] == "source_priority":
        # It decides whenever any record has a value, and nothing decides when none has: the first source
        # with a value is the answer, and the sources after it need not be waited for.
        party = await read.survivor(loaders, customer_id, lambda p: value_of(p, field) is not None, order, field)
        value = value_of(party, field) if party is not None else None
        return None if party is None or value is None else Survived(field, value, party, "source_priority")
    found, failures = await read.parties(loaders, customer_id)
    if not found and failures:
        raise failures[0]
    return decide(field, found, rules, order)


async def golden_record(loaders: Loaders, customer_id: int) -> list[Survived]:
    """Every golden field that has a value, with its record, rule and link; raises when no system answered."""
    found, failures = await read.parties(loaders, customer_id)
    links = await read.party_links(loaders, customer_id)  # loaded already: the parties' loads needed them
    if not found and failures:
        raise failures[0]
    order = source_order(loaders)
    link_of = {(link.source, link.source_id): link for link in links}
    chosen = []
    for field in SURVIVING_FIELDS:
        survived = decide(field, found, loaders.survivorship.rules_for(field), order)
        if survived is not None:
            chosen.append(replace(survived, link=link_of.get((survived.record.source, survived.record.source_id))))
    return chosen
