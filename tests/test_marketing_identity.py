"""Identity resolution over leads: a lead is a person record, and where its marketing system files it under no
company, the company name it gave (and its e-mail domain) still tie it to its customer."""

from __future__ import annotations

from crmgraph.identity.engine import resolve
from crmgraph.identity.linker import _person_customers
from crmgraph.identity.profiles import COMPANY_TEXT, person_profile
from crmgraph.identity.settings import IdentityConfig
from crmgraph.records import LeadRecord, PartyRecord, PersonRecord

PARTIES = {
    ("crm", "1"): PartyRecord("crm", "1", "Acme Tooling GmbH", domain="acme-tooling.example", country="DE"),
    ("crm", "2"): PartyRecord("crm", "2", "Northwind Logistics Ltd", domain="northwind.example", country="GB"),
    ("erp", "9"): PartyRecord("erp", "9", "Northwind Logistics Limited", country="GB"),
}
PERSONS = {
    ("crm", "11"): PersonRecord("crm", "11", "Jane Roe", email="jane.roe@acme-tooling.example", party_id="1"),
    ("crm", "21"): PersonRecord("crm", "21", "Sam Hill", email="sam.hill@northwind.example", party_id="2"),
    # A lead filed under no company, writing from a mail provider: only the company name it gave tells.
    ("mkt", "L1"): LeadRecord("mkt", "L1", "Bob Brown", email="bob.brown.77@gmail.com", company="ACME Tooling GmbH"),
    # A lead filed under no company, writing from the company's domain.
    ("mkt", "L2"): LeadRecord("mkt", "L2", "Carla Diaz", email="carla.diaz@northwind.example"),
    # The same person as the CRM contact: linked to it as a person.
    ("mkt", "L3"): LeadRecord("mkt", "L3", "Jane Roe", email="jane.roe@acme-tooling.example"),
    # A prospect: nothing ties it to anybody.
    ("mkt", "L4"): LeadRecord("mkt", "L4", "Pat Nobody", email="pat@mailbox.example", company="Nowhere Ventures"),
    # Not a lead (a ticket-system user without an organization, at a mail provider): left as before.
    ("tickets", "5"): PersonRecord("tickets", "5", "Olga Free", email="olga.free@gmail.com"),
}


def test_only_a_leads_profile_carries_the_company_text() -> None:
    assert COMPANY_TEXT not in person_profile(PERSONS[("crm", "11")]).values
    assert COMPANY_TEXT not in person_profile(PERSONS[("tickets", "5")]).values
    assert person_profile(PERSONS[("mkt", "L1")]).values[COMPANY_TEXT] == "acme tooling"


def test_leads_without_a_company_reach_their_customer_by_company_name_or_domain() -> None:
    resolution = resolve(PARTIES, PERSONS, IdentityConfig())
    company_label = resolution.customer_of()
    acme, northwind = company_label[("crm", "1")], company_label[("crm", "2")]
    assert company_label[("erp", "9")] == northwind
    person_label = resolution.person_of()
    golden = {label: label for label in set(company_label.values())}
    customers = _person_customers(resolution, company_label, golden)
    customer_of = {key: customers[person_label[key]] for key in PERSONS}
    assert customer_of[("mkt", "L1")] == acme, "by the company name the lead gave"
    assert customer_of[("mkt", "L2")] == northwind, "by the lead's e-mail domain"
    assert person_label[("mkt", "L3")] == person_label[("crm", "11")], "one person with the CRM contact"
    assert customer_of[("mkt", "L3")] == acme
    assert customer_of[("mkt", "L4")] is None, "a prospect belongs to no customer"
    assert customer_of[("tickets", "5")] is None, "a non-lead filed under nothing is left as it was"
