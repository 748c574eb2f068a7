"""Canonical records as the analytic store's rows, each filed under its golden customer.

One function per table: the row (or rows) a record becomes. ``customer_id`` is the golden customer's id
as text (``"17"``, the identity store's number), found through :class:`Filing`; NULL while identity
resolution has not filed the record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crmgraph.analytics.convert import Converter
from crmgraph.analytics.settings import ReportsConfig
from crmgraph.records import CampaignRecord, DealRecord, LeadRecord, PartyDayTotal, TicketRecord

Row = dict[str, Any]
SourceRecord = tuple[str, str]


def record_key(source: str, source_id: str) -> str:
    """A row's key: ``source:id``, so that two systems' ids never meet."""
    return f"{source}:{source_id}"


def aware(moment: datetime | None) -> datetime | None:
    """An instant with a zone (a system that gives local times without one is read as UTC)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@dataclass
class Filing:
    """Which golden customer a source record belongs to, as the identity store says."""

    parties: Mapping[SourceRecord, int] = field(default_factory=dict)  # (source, party id) -> customer
    persons: Mapping[SourceRecord, int | None] = field(default_factory=dict)  # (source, person id) -> customer

    def party(self, source: str, party_id: str | None) -> str | None:
        if party_id is None:
            return None
        customer = self.parties.get((source, party_id))
        return None if customer is None else str(customer)

    def person(self, source: str, person_id: str | None) -> str | None:
        if person_id is None:
            return None
        customer = self.persons.get((source, person_id))
        return None if customer is None else str(customer)


def deal_rows(deal: DealRecord, filing: Filing, converter: Converter) -> tuple[Row, list[Row]]:
    """The deal's row and its stage history's rows (the latest entry per stage)."""
    key = record_key(deal.source, deal.source_id)
    row = {
        "deal_key": key,
        "source": deal.source,
        "source_id": deal.source_id,
        "customer_id": filing.party(deal.source, deal.party_id),
        "party_id": deal.party_id,
        "owner_id": deal.owner_id,
        "name": deal.name,
        "stage": deal.stage_label,
        "outcome": deal.stage.value,
        "amount": converter.money(deal.amount),
        "amount_original": deal.amount.amount if deal.amount is not None else None,
        "currency": deal.amount.currency if deal.amount is not None else None,
        "created_at": aware(deal.created_at),
        "close_date": aware(deal.close_date),
        "updated_at": aware(deal.updated_at),
    }
    entered: dict[str, datetime] = {}
    for stage, moment in deal.stage_entered:
        entered[stage] = moment  # a deal back in a stage it left: the last time it entered it
    stages = [{"deal_key": key, "stage": stage, "entered_at": aware(moment)} for stage, moment in entered.items()]
    return row, stages


def ticket_row(ticket: TicketRecord, filing: Filing, reports: ReportsConfig, category: str | None = None) -> Row:
    """``category``: what the triage classifier said the ticket is about (None: no classifier; the system's
    type stands in)."""
    complaint_marks = {mark.lower() for mark in reports.service.complaint_tags}
    tags = [tag for tag in ticket.tags if tag]
    category = category or ticket.kind
    complaint = any(tag.lower() in complaint_marks for tag in tags) or (
        category is not None and category.lower() in complaint_marks
    )
    customer = filing.party(ticket.source, ticket.party_id) or filing.person(ticket.source, ticket.requester_id)
    return {
        "ticket_key": record_key(ticket.source, ticket.source_id),
        "source": ticket.source,
        "source_id": ticket.source_id,
        "customer_id": customer,
        "party_id": ticket.party_id,
        "group_id": ticket.group_id,
        "assignee_id": ticket.assignee_id,
        "priority": ticket.priority.value if ticket.priority is not None else None,
        "kind": ticket.kind,
        "category": category,
        "tags": f",{','.join(tags)}," if tags else "",
        "complaint": complaint,
        "status": ticket.status.value,
        "created_at": aware(ticket.created_at),
        "first_reply_at": aware(ticket.first_reply_at),
        "solved_at": aware(ticket.solved_at),
        "updated_at": aware(ticket.updated_at),
    }


def party_day_row(entity: str, total: PartyDayTotal, filing: Filing, converter: Converter) -> Row:
    return {
        "source": total.source,
        "entity": entity,
        "party_id": total.party_id,
        "day": total.day,
        "currency": total.total.currency,
        "customer_id": filing.party(total.source, total.party_id),
        "count": total.count,
        "total": converter.money(total.total),
        "total_original": total.total.amount,
    }


def campaign_row(campaign: CampaignRecord, converter: Converter) -> Row:
    return {
        "campaign_key": record_key(campaign.source, campaign.source_id),
        "source": campaign.source,
        "source_id": campaign.source_id,
        "name": campaign.name,
        "channel": campaign.channel,
        "cost": converter.money(campaign.cost),
        "starts_at": aware(campaign.starts_at),
        "ends_at": aware(campaign.ends_at),
    }


def lead_customer(lead: LeadRecord, filing: Filing) -> str | None:
    """The lead's customer: its golden person's, else its marketing company's."""
    return filing.person(lead.source, lead.source_id) or filing.party(lead.source, lead.party_id)


def lead_row(lead: LeadRecord, filing: Filing) -> Row:
    return {
        "lead_key": record_key(lead.source, lead.source_id),
        "source": lead.source,
        "source_id": lead.source_id,
        "customer_id": lead_customer(lead, filing),
        "owner_id": lead.owner_id,
        "stage": lead.stage,
        "created_at": aware(lead.created_at),
    }
