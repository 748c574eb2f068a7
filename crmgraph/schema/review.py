"""The review queue: pairs of records the matcher could not decide, for a data steward to accept or reject."""

from __future__ import annotations

import asyncio
from datetime import datetime
from enum import Enum

import strawberry

from crmgraph import records
from crmgraph.identity import stewardship
from crmgraph.identity.store import SourceRecord
from crmgraph.resolvers import identity_reads
from crmgraph.resolvers import records as read
from crmgraph.schema.customer import Customer
from crmgraph.schema.ids import encode_id
from crmgraph.schema.nodes import Contact, Info
from crmgraph.schema.pagination import (
    NUMBER,
    WHOLE,
    Connection,
    Edge,
    PageInfo,
    check_first,
    connection,
    decode_position,
)
from crmgraph.schema.scalars import Node, SourceLink


@strawberry.enum(description="What kind of records a match is about.")
class MatchKind(Enum):
    COMPANY = strawberry.enum_value("company", description="Two records of a company (customer).")
    PERSON = strawberry.enum_value("person", description="Two records of a person (contact).")


@strawberry.enum(description="Why a pair of records waits for a steward instead of being linked or left apart.")
class ReviewReason(Enum):
    SCORE = strawberry.enum_value(
        "score", description="The match probability lies between the review and the link thresholds "
        "(`identity.companies.thresholds`, `identity.persons.thresholds`)."
    )  # fmt: skip
    DISTINCT_KEY = strawberry.enum_value(
        "distinct", description="The records score as a match, but their golden records hold different values "
        "of a field that may have only one (`keptApartBy`, such as the tax id)."
    )  # fmt: skip
    STEWARD_DECISION = strawberry.enum_value(
        "steward", description="The records score as a match, but a steward's earlier decision keeps their "
        "golden records apart."
    )  # fmt: skip
    CONSTRAINT = strawberry.enum_value(
        "constraint", description="The records score as a match, but joining them would break another link's "
        "constraint."
    )  # fmt: skip


@strawberry.type(description="What one comparison said about a pair: how the field's values compare, and the weight.")
class MatchEvidence:
    field: str = strawberry.field(description="The compared field of the records (name, tax_id, domains, ...).")
    grade: str = strawberry.field(
        description="How the values compare: exact, shared (a common value of several), similar >= LEVEL, "
        "different, or missing (one side has none)."
    )
    weight: float = strawberry.field(
        description="What this grade added to the match weight (log2 odds): positive for agreement, negative "
        "for disagreement, 0 when missing. The candidate's weight is their sum plus the prior."
    )
    left: str | None = strawberry.field(description="The left record's value, normalised as compared.")
    right: str | None = strawberry.field(description="The right record's value, normalised as compared.")


@strawberry.type(description="A company as one system holds it, before survivorship chooses among systems.")
class SourceParty:
    name: str
    tax_id: str | None
    domain: str | None
    email: str | None
    phone: str | None
    city: str | None
    country: str | None
    updated_at: datetime | None = strawberry.field(description="When the system last changed the record.")

    @classmethod
    def of(cls, r: records.PartyRecord) -> SourceParty:
        return cls(
            name=r.name, tax_id=r.tax_id, domain=r.domain, email=r.email, phone=r.phone, city=r.city,
            country=r.country, updated_at=r.updated_at or r.created_at,
        )  # fmt: skip


@strawberry.type(description="One side of a review candidate: a record, read live from its system.")
class CandidateRecord:
    kind: strawberry.Private[str]
    key: strawberry.Private[SourceRecord]
    source: SourceLink = strawberry.field(description="The system and the record's id there.")

    @classmethod
    def of(cls, kind: str, key: SourceRecord) -> CandidateRecord:
        return cls(kind=kind, key=key, source=SourceLink(system=key[0], record_id=key[1]))

    @strawberry.field(description="The company record, for a COMPANY candidate; null for a PERSON candidate.")
    async def party(self, info: Info) -> SourceParty | None:
        if self.kind != "company":
            return None
        found = await read.record(info.context.loaders, self.key[0], "party", self.key[1])
        return SourceParty.of(found) if isinstance(found, records.PartyRecord) else None

    @strawberry.field(description="The person record, for a PERSON candidate; null for a COMPANY candidate.")
    async def person(self, info: Info) -> Contact | None:
        if self.kind != "person":
            return None
        found = await read.record(info.context.loaders, self.key[0], "person", self.key[1])
        return Contact.of(found) if isinstance(found, records.PersonRecord) else None

    @strawberry.field(
        description="The customer the record belongs to now; for a person, the customer identity resolution "
        "files the person under."
    )
    async def customer(self, info: Info) -> Customer | None:
        loaders = info.context.loaders
        if self.kind == "company":
            customer_id = await loaders.customer_of_party.load(self.key)
        else:
            links = await loaders.person_links.load(self.key)
            customer_id = next((link.customer_id for link in links if (link.source, link.source_id) == self.key), None)
        return Customer.of(customer_id) if customer_id else None


@strawberry.type(
    description="Two records that may be the same company or person, waiting for a data steward: accept "
    "(`reviewCandidateAccept`) joins them, reject (`reviewCandidateReject`) keeps them apart for good."
)
class ReviewCandidate(Node):
    candidate: strawberry.Private[stewardship.ReviewCandidate]
    distinct_fields: strawberry.Private[tuple[str, ...]]
    id: strawberry.ID
    kind: MatchKind
    probability: float = strawberry.field(description="The match probability, 0 to 1.")
    weight: float = strawberry.field(description="The match weight (log2 odds), the sum of `evidence` and the prior.")
    created_at: datetime = strawberry.field(description="When the linking run that found the pair ran.")

    @classmethod
    def of(cls, candidate: stewardship.ReviewCandidate, distinct_fields: tuple[str, ...]) -> ReviewCandidate:
        return cls(
            candidate=candidate, distinct_fields=distinct_fields, id=candidate_id(candidate.id),
            kind=MatchKind(candidate.kind), probability=candidate.probability, weight=candidate.weight,
            created_at=candidate.created_at,
        )  # fmt: skip

    @strawberry.field(description="Why the pair waits for a steward.")
    def reason(self) -> ReviewReason:
        try:
            return ReviewReason(self.candidate.why.split(":", 1)[0])
        except ValueError:
            return ReviewReason.CONSTRAINT

    @strawberry.field(description="For DISTINCT_KEY: the field whose values differ; null otherwise.")
    def kept_apart_by(self) -> str | None:
        why, _, index = self.candidate.why.partition(":")
        if why != "distinct" or not index.isdigit() or int(index) >= len(self.distinct_fields):
            return None
        return self.distinct_fields[int(index)]

    @strawberry.field(description="One record of the pair.")
    def left(self) -> CandidateRecord:
        return CandidateRecord.of(self.candidate.kind, self.candidate.left)

    @strawberry.field(description="The other record of the pair.")
    def right(self) -> CandidateRecord:
        return CandidateRecord.of(self.candidate.kind, self.candidate.right)

    @strawberry.field(description="Every comparison of the pair, in configured order, with the weight it added.")
    def evidence(self) -> list[MatchEvidence]:
        return [
            MatchEvidence(field=str(item.get("field", "")), grade=str(item.get("grade", "")),
                          weight=float(item.get("weight", 0.0)), left=item.get("left"), right=item.get("right"))
            for item in self.candidate.evidence
        ]  # fmt: skip


def candidate_id(number: int) -> strawberry.ID:
    return strawberry.ID(encode_id("ReviewCandidate", str(number)))


def distinct_fields(info: Info, kind: str) -> tuple[str, ...]:
    identity = info.context.identity
    return (identity.companies if kind == "company" else identity.persons).distinct


def _reviews(info: Info) -> bool:
    """Whether the principal sees the review queue: a pair may span customers, so a row scope hides it all."""
    access = info.context.access
    return access is None or not access.scoped


async def review_candidate(info: Info, number: int) -> ReviewCandidate | None:
    if not _reviews(info):
        return None
    found = await info.context.loaders.review_candidate.load(number)
    return None if found is None else ReviewCandidate.of(found, distinct_fields(info, found.kind))


async def review_queue(
    info: Info, kind: MatchKind | None, first: int, after: str | None
) -> Connection[ReviewCandidate]:
    """A page of the open candidates, strongest first."""
    check_first(first, info.context.max_page_size)
    position = decode_position(after, NUMBER, WHOLE) if after else None
    store = info.context.loaders.identity
    wanted = None if kind is None else "company" if kind is MatchKind.COMPANY else "person"
    if not _reviews(info):
        return Connection(edges=[], page_info=PageInfo(has_next_page=False, has_previous_page=position is not None,
                          start_key=None, end_key=None), total_count=0)  # fmt: skip
    (found, has_next), total = await asyncio.gather(
        identity_reads.review_page(
            store, wanted, first, (float(position[0]), int(position[1])) if position is not None else None
        ),
        identity_reads.review_count(store, wanted),
    )
    edges = [Edge(node=ReviewCandidate.of(c, distinct_fields(info, c.kind)), key=(c.weight, c.id)) for c in found]
    return connection(edges, has_next=has_next, has_previous=position is not None, total=total)
