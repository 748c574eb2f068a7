"""Source ids of seeded records.

Ids that another system refers to (CRM companies and contacts, named in the ERP's ZZCRMID and in
Zendesk's ``external_id``) are a function of the party, so that any one system can be generated
alone (``load-erp``). Everything else is numbered by counters, in generation order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count

CRM_COMPANY_BASE = 4_100_000_000
CRM_CONTACT_BASE = 1_000_000
CONTACT_SLOTS = 64  # more than a party ever has people
CRM_OWNER_BASE = 50_000_001


def crm_company_id(party_index: int, duplicate: bool = False) -> int:
    return CRM_COMPANY_BASE + 2 * party_index + int(duplicate)


def crm_contact_id(party_index: int, person_number: int) -> int:
    return CRM_CONTACT_BASE + party_index * CONTACT_SLOTS + person_number


@dataclass
class Counters:
    """Per-system numbering, continued across parties in generation order."""

    crm_deal: count[int] = field(default_factory=lambda: count(9_000_000_001))
    crm_engagement: count[int] = field(default_factory=lambda: count(20_000_000_001))
    zd_organization: count[int] = field(default_factory=lambda: count(360_000_000_001))
    zd_user: count[int] = field(default_factory=lambda: count(370_000_000_001))
    zd_ticket: count[int] = field(default_factory=lambda: count(1))
    zd_comment: count[int] = field(default_factory=lambda: count(380_000_000_001))
    erp_customer: count[int] = field(default_factory=lambda: count(100_001))
    erp_order: count[int] = field(default_factory=lambda: count(1_000_001))
    erp_invoice: count[int] = field(default_factory=lambda: count(90_000_001))
    erp_payment: count[int] = field(default_factory=lambda: count(1_400_000_001))


def sap_number(value: int) -> str:
    """SAP keeps document numbers as 10 zero-padded characters."""
    return f"{value:010d}"
