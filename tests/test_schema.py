"""The schema: its SDL is a reviewed snapshot, and it follows the house design rules."""

from __future__ import annotations

from pathlib import Path

from graphql import GraphQLInputObjectType, GraphQLList, GraphQLNonNull, GraphQLObjectType

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
    for name in (
        "Customer",
        "Contact",
        "Owner",
        "Deal",
        "Interaction",
        "Order",
        "Invoice",
        "Ticket",
        "ReviewCandidate",
    ):
        entity = schema.get_type(name)
        assert isinstance(entity, GraphQLObjectType)
        assert node in entity.interfaces, f"{name} should implement Node"


def test_fields_backed_by_a_legacy_system_are_nullable_on_the_customer() -> None:
    customer = build_schema()._schema.get_type("Customer")
    assert isinstance(customer, GraphQLObjectType)
    for name in ("name", "contacts", "deals", "orders", "invoices", "tickets", "timeline", "lifetimeRevenue",
                 "outstandingBalance", "openTicketCount", "lastOrderDate"):  # fmt: skip
        assert not isinstance(customer.fields[name].type, GraphQLNonNull), f"Customer.{name} must be nullable"


def test_every_mutation_takes_one_input_and_returns_a_payload_with_user_errors() -> None:
    schema = build_schema()._schema
    assert schema.mutation_type is not None
    user_error = schema.get_type("UserError")
    for name, field in schema.mutation_type.fields.items():
        prefixes = ("customer", "reviewCandidate", "ticket", "contact", "deal", "interaction", "salesOrder", "lead")
        assert name.startswith(prefixes), f"{name}: object first, then the action"
        assert list(field.args) == ["input"], f"{name} takes one input object"
        argument = field.args["input"].type
        assert isinstance(argument, GraphQLNonNull) and isinstance(argument.of_type, GraphQLInputObjectType)
        payload = field.type
        assert isinstance(payload, GraphQLNonNull) and isinstance(payload.of_type, GraphQLObjectType)
        assert payload.of_type.name == f"{name[0].upper()}{name[1:]}Payload"
        errors = payload.of_type.fields["userErrors"].type
        assert isinstance(errors, GraphQLNonNull) and isinstance(errors.of_type, GraphQLList)
        assert isinstance(errors.of_type.of_type, GraphQLNonNull) and errors.of_type.of_type.of_type is user_error
        steward = name.startswith(("customer", "reviewCandidate")) and name != "customerUpdate"
        if steward:  # steward decisions keep who made them
            assert field.description and "X-Crmgraph-Actor" in field.description, f"{name} says who is recorded"
