"""An adapter's ``holds`` names every field its records can have a value in.

A page's reads skip a system for a golden field or an owner it does not declare (the next system is asked),
so a field an adapter fills but leaves out of ``holds`` would go missing from list pages. Each adapter's
richest record is mapped here and compared with what it declares.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from crmgraph.adapters.hubspot import HubSpotAdapter
from crmgraph.adapters.hubspot.mapping import PARTY_PROPERTIES, HubSpotMapping
from crmgraph.adapters.rest import RestAdapter
from crmgraph.adapters.sdk.base import Adapter
from crmgraph.adapters.sql import SqlAdapter
from crmgraph.adapters.sql.mapping import DEFAULT_MAPPING_DATA
from crmgraph.adapters.zendesk import ZendeskAdapter
from crmgraph.adapters.zendesk.mapping import ZendeskMapping
from crmgraph.demo.layout import EstateLayout
from crmgraph.records import PartyRecord, Record

UNFILLED: tuple[Any, ...] = (None, (), "")


def filled(record: Record) -> set[str]:
    """The record's fields that have a value, besides its source and id."""
    return {
        field.name
        for field in dataclasses.fields(record)
        if field.name not in ("source", "source_id") and getattr(record, field.name) not in UNFILLED
    }


def test_a_hubspot_company_with_every_property_fills_exactly_what_the_adapter_declares() -> None:
    properties = {name: f"value of {name}" for name in PARTY_PROPERTIES}
    properties |= {"country": "Germany", "email": "info@acme.example", "hs_tags": "a;b"}  # the last two unread
    stamps = {"createdAt": "2024-01-02T03:04:05Z", "updatedAt": "2024-02-03T04:05:06Z"}
    raw = {"id": "7", "properties": properties, **stamps}
    record = HubSpotMapping("crm").party(raw)
    adapter = HubSpotAdapter("crm", {"url": "http://127.0.0.1:9", "token": "t"})
    assert filled(record) == adapter.holds["party"]
    assert adapter.may_hold("party", "owner_id") and not adapter.may_hold("party", "email")


def test_a_zendesk_organization_with_every_field_fills_exactly_what_the_adapter_declares() -> None:
    raw = {
        "id": 5, "name": "Acme", "domain_names": ["acme.example"], "details": "Hauptstr. 1", "notes": "a note",
        "tags": ["vip"], "external_id": "17", "group_id": 3, "shared_tickets": False,
        "organization_fields": {"tax_id": "DE123"}, "created_at": "2024-01-02T03:04:05Z",
        "updated_at": "2024-02-03T04:05:06Z",
    }  # fmt: skip
    record = ZendeskMapping("tickets", "crm").party(raw)
    adapter = ZendeskAdapter("tickets", {"url": "http://127.0.0.1:9", "email": "a@b.example", "token": "t"})
    assert filled(record) == adapter.holds["party"]
    assert not adapter.may_hold("party", "owner_id") and not adapter.may_hold("party", "tax_id")


def test_the_sql_adapter_holds_the_fields_its_mapping_names_a_column_for(estate_layout: EstateLayout) -> None:
    url = f"sqlite:///{estate_layout.erp_db}"
    adapter = SqlAdapter("erp", {"url": url})

    async def every_party() -> list[Record]:
        await adapter.open()
        try:
            records: list[Record] = []
            cursor: str | None = None
            while True:
                page = await adapter.scan("party", cursor, 500)
                records += page.records
                if page.next_cursor is None:
                    return records
                cursor = page.next_cursor
        finally:
            await adapter.close()

    parties = asyncio.run(every_party())
    assert len(parties) > 100 and all(isinstance(party, PartyRecord) for party in parties)
    seen = set().union(*(filled(party) for party in parties))
    assert seen == adapter.holds["party"], seen ^ adapter.holds["party"]
    assert not adapter.may_hold("party", "owner_id")
    # A mapping that names an owner column holds the owner.
    mapping = {**DEFAULT_MAPPING_DATA, "party": {**DEFAULT_MAPPING_DATA["party"]}}
    mapping["party"]["fields"] = {**mapping["party"]["fields"], "owner_id": "ZZOWNER"}
    assert SqlAdapter("erp", {"url": url, "mapping": mapping}).may_hold("party", "owner_id")


def test_an_adapter_that_declares_nothing_may_hold_any_field() -> None:
    assert Adapter.holds == {}
    assert SqlAdapter("erp", {"url": "sqlite://"}).may_hold("person", "owner_id")


def test_a_rest_source_holds_the_party_fields_its_spec_maps() -> None:
    spec = {
        "base_url": "http://127.0.0.1:9",
        "entities": {"party": {"get": {"path": "/accounts/{id}"}, "fields": {"name": {"path": "title"},
                                                                              "domain": {"path": "web"}}}},
    }  # fmt: skip
    adapter = RestAdapter("accounts", {"api": spec})
    assert adapter.holds["party"] == {"name", "domain"}
    assert adapter.may_hold("party", "domain") and not adapter.may_hold("party", "owner_id")
