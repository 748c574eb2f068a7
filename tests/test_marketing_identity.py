"""Identity resolution over leads: a lead is a person record, and where its marketing system files it under no
company, the company name it gave (and its e-mail domain) still tie it to its customer."""

from __future__ import annotations

from crmgraph.identity.engine import resolve
from crmgraph.identity.evaluate import evaluate, read_truth
from crmgraph.identity.filing import read_person_parties, score_filing
from crmgraph.identity.linker import _person_customers
from crmgraph.identity.profiles import COMPANY_TEXT, person_profile
from crmgraph.identity.settings import IdentityConfig
from crmgraph.identity.store import IdentityStore
from crmgraph.records import LeadRecord, PartyRecord, PersonRecord
from tests.marketing_source import MarketingEstate

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


def test_the_seeds_leads_link_to_their_crm_contacts_and_customers_as_the_ground_truth_says(
    marketing_estate: MarketingEstate,
) -> None:
    """What `crmgraph identity evaluate` prints for the estate linked over all four systems, checked against
    the acceptance bar: leads to CRM contacts (pairs of person records) and leads to customers (filing)."""
    truth = read_truth(marketing_estate.estate.layout.ground_truth)
    store = IdentityStore(marketing_estate.identity_url)
    companies, persons = store.golden_of_records()
    filed = store.customers_of_person_records()
    store.close()
    to_contacts = evaluate("persons", persons, truth["persons"]).score("crm~marketing")
    assert to_contacts.true > 50
    assert to_contacts.precision >= 0.995 and to_contacts.recall >= 0.98, to_contacts
    parties = read_person_parties(marketing_estate.estate.layout.ground_truth)
    scores = {s.scope: s for s in score_filing(filed, companies, truth["companies"], parties)}
    to_customers = scores["people in marketing"]
    assert to_customers.true > 100
    assert to_customers.precision >= 0.995 and to_customers.recall >= 0.98, to_customers
    assert scores["all people"].precision >= 0.995, "filing leads did not spoil the other systems' people"


def test_filing_scores_count_people_under_the_customer_that_holds_their_party() -> None:
    company_truth = {("crm", "1"): "P1", ("erp", "7"): "P1", ("crm", "2"): "P2"}
    company_customers = {("crm", "1"): 100, ("erp", "7"): 100, ("crm", "2"): 200}
    person_parties = {("mkt", "a"): "P1", ("mkt", "b"): "P2", ("mkt", "c"): "P3", ("mkt", "d"): "", ("crm", "e"): "P2"}
    filed = {("mkt", "a"): 100, ("mkt", "b"): 100, ("mkt", "c"): None, ("mkt", "d"): 200, ("crm", "e"): 200}
    scores = {s.scope: s for s in score_filing(filed, company_customers, company_truth, person_parties)}
    leads = scores["people in mkt"]
    # a: right; b: under P1's customer, wrong; c: P3 is nobody's customer, not filed; d: works for nobody, filed
    assert (leads.predicted, leads.true, leads.correct) == (3, 2, 1)
    assert (scores["all people"].predicted, scores["all people"].correct) == (4, 2)
