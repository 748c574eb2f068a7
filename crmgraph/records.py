"""Canonical records: what adapters produce and the schema reads. Nothing else crosses the boundary.

Every record names where it came from (``source``, the configured source name such as ``crm``, and
``source_id``, the id there). References to other records of the same source are source ids
(``party_id``), resolved to objects by the schema through loaders. Field names are the domain's, never
a legacy system's: an adapter maps ``NAME1`` or ``dealname`` to ``name`` and so on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str  # ISO 4217


class DealStage(StrEnum):
    OPEN = "OPEN"
    WON = "WON"
    LOST = "LOST"


class OrderStatus(StrEnum):
    OPEN = "OPEN"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


class TicketStatus(StrEnum):
    NEW = "NEW"
    OPEN = "OPEN"
    PENDING = "PENDING"
    ON_HOLD = "ON_HOLD"
    SOLVED = "SOLVED"
    CLOSED = "CLOSED"


class TicketPriority(StrEnum):
    LOW = "LOW"
    NORMAL = "NORMAL"
    HIGH = "HIGH"
    URGENT = "URGENT"


class InteractionKind(StrEnum):
    CALL = "CALL"
    EMAIL = "EMAIL"
    MEETING = "MEETING"
    NOTE = "NOTE"


class TouchKind(StrEnum):
    """What a marketing touch was: how a lead met a campaign's content."""

    EMAIL_SENT = "EMAIL_SENT"
    EMAIL_OPENED = "EMAIL_OPENED"
    EMAIL_CLICKED = "EMAIL_CLICKED"
    FORM_SUBMITTED = "FORM_SUBMITTED"
    PAGE_VISITED = "PAGE_VISITED"
    CAMPAIGN_JOINED = "CAMPAIGN_JOINED"
    POINTS_CHANGED = "POINTS_CHANGED"


@dataclass(frozen=True, slots=True)
class Record:
    source: str
    source_id: str


@dataclass(frozen=True, slots=True)
class PartyRecord(Record):
    """A customer organisation as one system knows it (CRM company, ERP debtor, ticket organization)."""

    name: str
    tax_id: str | None = None
    domain: str | None = None
    email: str | None = None
    phone: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2 where the source says so
    city: str | None = None
    # The street line (street and house number), or the whole address where a system keeps only free text.
    address: str | None = None
    postal_code: str | None = None
    industry: str | None = None
    lifecycle_stage: str | None = None
    owner_id: str | None = None
    tags: tuple[str, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # Explicit cross-references this record carries: other source name -> id there.
    xrefs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class PersonRecord(Record):
    """A person at a customer (CRM contact, ticket end user)."""

    name: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    job_title: str | None = None
    party_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None  # the last change the system recorded (what change feeds go by)
    xrefs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class LeadRecord(PersonRecord):
    """A person a marketing system knows (a marketing-automation contact): a person with the marketing facts.

    A lead is a person record, so identity resolution links it to the CRM contact and the customer it
    belongs to like any other; ``party_id`` is the marketing system's own company of the lead, if any.
    """

    company: str | None = None  # the company name as the lead gave it (free text)
    country: str | None = None  # ISO 3166-1 alpha-2 where the source says so
    points: int = 0  # lead score
    stage: str | None = None  # the marketing funnel stage ("Lead", "MQL", "SQL", ...)
    owner_id: str | None = None
    last_active_at: datetime | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CampaignRecord(Record):
    """A marketing campaign: what it cost and when it ran (its leads are reached through relations)."""

    name: str
    channel: str | None = None  # email, webinar, trade_show, paid_search, social, ...
    description: str | None = None
    active: bool = True
    cost: Money | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SegmentRecord(Record):
    """A named list of leads in a marketing system (a segment, a static or dynamic list)."""

    name: str
    alias: str | None = None
    description: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TouchRecord(Record):
    """One marketing engagement of a lead: an e-mail sent, opened or clicked, a form submitted, a page visit."""

    person_id: str  # the lead's id in the same source
    kind: TouchKind
    occurred_at: datetime
    campaign_id: str | None = None
    title: str | None = None  # the e-mail's subject, the form's or page's name
    detail: str | None = None  # the link clicked, the page's address, the points' reason


@dataclass(frozen=True, slots=True)
class OwnerRecord(Record):
    name: str
    email: str | None = None


@dataclass(frozen=True, slots=True)
class DealRecord(Record):
    name: str
    stage: DealStage
    stage_label: str
    amount: Money | None
    pipeline: str | None
    close_date: datetime | None
    owner_id: str | None
    party_id: str | None
    created_at: datetime | None
    updated_at: datetime | None = None  # the last change the system recorded (a deal's version)
    # When the deal entered each pipeline stage it has been in, as (stage id as in ``stage_label``, moment),
    # oldest first: what the sales funnel's conversion and velocity are measured from. Empty where the
    # system keeps no stage history (or the adapter was not asked for it).
    stage_entered: tuple[tuple[str, datetime], ...] = ()


@dataclass(frozen=True, slots=True)
class InteractionRecord(Record):
    """A CRM engagement: call, e-mail, meeting or note."""

    kind: InteractionKind
    occurred_at: datetime
    title: str | None
    body: str | None
    direction: str | None
    party_id: str | None


@dataclass(frozen=True, slots=True)
class OrderLineRecord(Record):
    order_id: str
    position: int
    sku: str
    description: str
    quantity: Decimal
    unit: str
    unit_price: Money
    amount: Money


@dataclass(frozen=True, slots=True)
class OrderRecord(Record):
    number: str
    party_id: str
    placed_at: datetime
    status: OrderStatus
    total: Money
    customer_reference: str | None = None
    requested_delivery: date | None = None
    updated_at: datetime | None = None  # the last change, where the system stamps one (the change feed's time)


@dataclass(frozen=True, slots=True)
class PaymentRecord(Record):
    invoice_id: str
    paid_at: datetime
    amount: Money


@dataclass(frozen=True, slots=True)
class InvoiceRecord(Record):
    number: str
    party_id: str
    order_id: str | None
    issued_at: datetime
    net: Money
    tax: Money
    gross: Money
    payment_terms: str | None = None


@dataclass(frozen=True, slots=True)
class TicketRecord(Record):
    subject: str
    description: str
    status: TicketStatus
    priority: TicketPriority | None
    party_id: str | None
    requester_id: str | None
    assignee_id: str | None
    channel: str | None
    tags: tuple[str, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None
    group_id: str | None = None  # the team (Zendesk group) working it
    kind: str | None = None  # the system's own type of request (Zendesk: problem, incident, question, task)
    # Service metrics, where the system measures them (Zendesk's ticket metric sets): the first public
    # reply by an agent, and the moment the ticket was (last) solved.
    first_reply_at: datetime | None = None
    solved_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CommentRecord(Record):
    ticket_id: str
    author_id: str | None
    body: str
    public: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a source's listing: stable order, an opaque cursor for the next page."""

    records: list[Record] = field(default_factory=list)
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class PartyDayTotal:
    """An aggregate a source computed itself (a SQL ``GROUP BY``): one party's records of one day, in one
    currency. What reports read instead of every order or invoice row (:meth:`Adapter.aggregate_daily`)."""

    source: str
    party_id: str
    day: date
    count: int
    total: Money
