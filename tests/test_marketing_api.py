"""The simulated marketing system answers in Mautic's shapes: string totals, records keyed by id, search
commands, where filters, memberships, the activity timeline, and Mautic's 401 and 404 bodies."""

from __future__ import annotations

import sqlite3

import httpx

from tests.conftest import Estate


def _ids(body: dict[str, object], key: str = "contacts") -> list[int]:
    records = body[key]
    assert isinstance(records, dict)
    return [int(k) for k in records]


def test_contacts_page_with_a_string_total_and_records_keyed_by_id_in_order(estate: Estate) -> None:
    with estate.marketing() as client:
        first = client.get("/api/contacts", params={"limit": 5}).json()
        second = client.get("/api/contacts", params={"limit": 5, "start": 5}).json()
        newest = client.get("/api/contacts", params={"limit": 3, "orderBy": "date_modified", "orderByDir": "desc"})
    assert isinstance(first["total"], str) and int(first["total"]) > 10
    assert _ids(first) == [1, 2, 3, 4, 5] and _ids(second) == [6, 7, 8, 9, 10]
    contact = first["contacts"]["1"]
    assert contact["id"] == 1 and set(contact["fields"]) == {"core", "social", "personal", "professional", "all"}
    assert contact["fields"]["all"]["email"] == contact["fields"]["core"]["email"]["value"]
    stamps = [c["dateModified"] for c in newest.json()["contacts"].values()]
    assert stamps == sorted(stamps, reverse=True)


def test_ids_search_returns_many_contacts_in_one_call(estate: Estate) -> None:
    with estate.marketing() as client:
        body = client.get("/api/contacts", params={"search": "ids:7,3,999999,12", "minimal": "true"}).json()
    assert body["total"] == "3" and _ids(body) == [3, 7, 12]
    assert set(body["contacts"]["3"]["fields"]) == {"all"}
    assert estate.stats("marketing")["total"] == 1


def test_email_and_quoted_company_search(estate: Estate) -> None:
    conn = sqlite3.connect(estate.layout.marketing_db)
    email, company = conn.execute(
        "SELECT email, company FROM contacts WHERE email IS NOT NULL AND company LIKE '% %' LIMIT 1"
    ).fetchone()
    conn.close()
    with estate.marketing() as client:
        by_email = client.get("/api/contacts", params={"search": f"email:{email.upper()}"}).json()
        by_company = client.get("/api/contacts", params={"search": f'company:"{company}"'}).json()
    assert all(c["fields"]["all"]["email"].lower() == email.lower() for c in by_email["contacts"].values())
    assert int(by_email["total"]) >= 1
    assert all(c["fields"]["all"]["company"].lower() == company.lower() for c in by_company["contacts"].values())


def test_where_filters_on_date_modified_and_ids(estate: Estate) -> None:
    conn = sqlite3.connect(estate.layout.marketing_db)
    (median,) = conn.execute("SELECT date_modified FROM contacts ORDER BY date_modified LIMIT 1 OFFSET 50").fetchone()
    (expected,) = conn.execute("SELECT count(*) FROM contacts WHERE date_modified >= ?", (median,)).fetchone()
    conn.close()
    since = median[:19].replace("T", " ")  # Mautic's Y-m-d H:i:s
    params = {"where[0][col]": "dateModified", "where[0][expr]": "gte", "where[0][val]": since, "limit": 200}
    with estate.marketing() as client:
        body = client.get("/api/contacts", params=params).json()
        some = client.get(
            "/api/contacts", params={"where[0][col]": "id", "where[0][expr]": "in", "where[0][val]": "2,4,6"}
        ).json()
        wrong = client.get("/api/contacts", params={"where[0][col]": "nope", "where[0][expr]": "eq"})
    assert int(body["total"]) == expected
    assert all(c["dateModified"] >= median for c in body["contacts"].values())
    assert _ids(some) == [2, 4, 6]
    assert wrong.status_code == 400 and wrong.json()["errors"][0]["code"] == 400


def test_unknown_ids_answer_mautics_404_and_bad_credentials_its_401(estate: Estate) -> None:
    with estate.marketing() as client:
        missing = client.get("/api/contacts/987654")
        huge = client.get("/api/companies/99999999999999999999")
    assert missing.status_code == 404
    assert missing.json() == {"errors": [{"code": 404, "message": "Item was not found.", "details": []}]}
    assert huge.status_code == 404
    for auth in (None, ("crmgraph", "wrong")):
        denied = httpx.get(f"{estate.marketing_url}/api/contacts", auth=auth, timeout=10)
        assert denied.status_code == 401
        assert denied.json()["errors"][0] == {
            "code": 401, "message": "API authorization denied.", "details": [], "type": "access_denied"
        }  # fmt: skip


def test_companies_and_campaigns_in_mautics_shape(estate: Estate) -> None:
    with estate.marketing() as client:
        companies = client.get("/api/companies", params={"search": "ids:1,2"}).json()
        campaigns = client.get("/api/campaigns", params={"limit": 100}).json()
        one = client.get("/api/campaigns/1").json()["campaign"]
    assert companies["total"] == "2" and _ids(companies, "companies") == [1, 2]
    fields = companies["companies"]["1"]["fields"]["all"]
    assert {"companyname", "companywebsite", "companycountry", "companyindustry", "companyzipcode"} <= set(fields)
    assert fields["companycountry"] in {"China", "United States", "United Kingdom", "Germany", "France",
                                        "Singapore", "Japan"}  # fmt: skip
    assert int(campaigns["total"]) == 20 + 150 // 50
    channels = {c["category"]["title"] for c in campaigns["campaigns"].values()}
    assert channels == {"Email", "Webinar", "Trade show", "Paid search", "Social", "Content"}
    assert one["budget"]["currency"] == "EUR" and float(one["budget"]["amount"]) > 0
    assert one["publishUp"] < one["publishDown"]


def test_campaign_members_page_and_each_member_knows_its_campaign(estate: Estate) -> None:
    with estate.marketing() as client:
        everyone = client.get("/api/campaigns/1/contacts", params={"limit": 200}).json()
        first = client.get("/api/campaigns/1/contacts", params={"limit": 2}).json()
        rest = client.get("/api/campaigns/1/contacts", params={"limit": 200, "start": 2}).json()
        lead = everyone["contacts"][0]["lead_id"]
        memberships = client.get(f"/api/contacts/{lead}/campaigns").json()
        segments = client.get(f"/api/contacts/{lead}/segments").json()
        companies = client.get(f"/api/contacts/{lead}/companies").json()
    assert isinstance(everyone["total"], str) and int(everyone["total"]) == len(everyone["contacts"]) > 2
    assert first["contacts"] + rest["contacts"] == everyone["contacts"]
    assert set(everyone["contacts"][0]) >= {
        "campaign_id",
        "lead_id",
        "date_added",
        "manually_removed",
        "manually_added",
    }
    assert "1" in memberships["campaigns"] and memberships["total"] == len(memberships["campaigns"])
    assert segments["total"] == len(segments["lists"])
    assert companies["total"] == len(companies["companies"])


def test_activity_of_a_contact_and_of_everyone_between_dates(estate: Estate) -> None:
    with estate.marketing() as client:
        mine = client.get("/api/contacts/1/activity", params={"limit": 100}).json()
        contact = client.get("/api/contacts/1").json()["contact"]
        window = {"filters[dateFrom]": "2026-01-01 00:00:00", "filters[dateTo]": "2026-03-31 23:59:59", "limit": 50}
        everyone = client.get("/api/contacts/activity", params=window).json()
        read_only = client.get(
            "/api/contacts/activity", params={"filters[includeEvents][]": "email.read", "limit": 10}
        ).json()
    assert 2 <= mine["total"] <= 15 and {e["contactId"] for e in mine["events"]} == {"1"}
    gained = sum(e["details"]["log"]["delta"] for e in mine["events"] if e["event"] == "point.gained")
    assert gained == contact["points"]
    assert max(e["timestamp"] for e in mine["events"]) == contact["lastActive"]
    assert everyone["total"] > 0 and everyone["maxPages"] >= 1
    assert all("2026-01-01" <= e["timestamp"] < "2026-04-01" for e in everyone["events"])
    assert {e["event"] for e in read_only["events"]} == {"email.read"}


def test_owners_are_the_crms_owners_by_email(estate: Estate) -> None:
    with estate.marketing() as client:
        users = client.get("/api/users", params={"limit": 100}).json()["users"]
    with estate.crm() as crm:
        owners = crm.get("/crm/v3/owners", params={"limit": 100}).json()["results"]
    assert {u["email"] for u in users.values()} == {o["email"] for o in owners}
