"""The schema: its SDL is a reviewed snapshot, and it follows the house design rules."""

from __future__ import annotations

from pathlib import Path

from graphql import GraphQLNonNull, GraphQLObjectType

from crmgraph.schema import build_schema

SNAPSHOT = Path(__file__).parent.parent / "schema.graphql"


def test_the_schema_matches_the_reviewed_snapshot() -> None:
    current = build_schema().as_str() + "\n"
    assert current == SNAPSHOT.read_text(), (
        "The schema changed. If that is deliberate, run `crmgraph schema > schema.graphql` and commit the diff."
    )


def test_every_entity_is_a_node_with_an_id() -> None:
    schema = build_schema()._schema
    node = schema.get_type("Node")
    for name in ("Customer", "Contact", "Owner", "Deal", "Interaction", "Order", "Invoice", "Ticket"):
        entity = schema.get_type(name)
        assert isinstance(entity, GraphQLObjectType)
        assert node in entity.interfaces, f"{name} should implement Node"


def test_fields_backed_by_a_legacy_system_are_nullable_on_the_customer() -> None:
    customer = build_schema()._schema.get_type("Customer")
    assert isinstance(customer, GraphQLObjectType)
    for name in ("name", "contacts", "deals", "orders", "invoices", "tickets", "timeline", "lifetimeRevenue",
                 "outstandingBalance", "openTicketCount", "lastOrderDate"):  # fmt: skip
        assert not isinstance(customer.fields[name].type, GraphQLNonNull), f"Customer.{name} must be nullable"
