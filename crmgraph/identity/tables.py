"""The identity store's tables: ids, links, match keys and decisions; never a system's business data.

``crmgraph_customers`` / ``crmgraph_persons``  golden ids (a person belongs to a customer)
``crmgraph_links`` / ``crmgraph_person_links``  which source record belongs to which golden id, how it was
                                                linked (self, xref, model, steward) and how confidently
``crmgraph_aliases``       ids absorbed by a merge, and the id that absorbed them (``node(id)`` follows)
``crmgraph_match_keys``    normalised names, domains, tax ids, e-mails: what ``customers(search:)`` finds
``crmgraph_decisions``     steward decisions (who, when, why) and ``crmgraph_decision_pairs``, the pairs of
                           records each one keeps together or apart, which every later run obeys
``crmgraph_review``        pairs waiting for a steward, with the evidence that scored them
``crmgraph_models``        the estimated match model per kind, reused by incremental runs
``crmgraph_profiles``      each record's normalised match fields, so an incremental run compares a changed
                           record with the others without reading every system again
``crmgraph_watermarks``    per source and entity, how far the last run read changes
``crmgraph_links_generation``  one row counting changes to the links and scope keys (SQLite: kept by
                           triggers, so that a facade may keep links in memory; see ``remembered_links``)
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

customers = Table(
    "crmgraph_customers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
links = Table(
    "crmgraph_links",
    metadata,
    Column("customer_id", Integer, ForeignKey("crmgraph_customers.id"), nullable=False),
    Column("source", String(64), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("source_id", String(128), nullable=False),
    Column("rule", String(64), nullable=False),  # self | xref | model | steward
    Column("confidence", Float, nullable=False),
    Column("linked_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("source", "entity", "source_id"),
    Index("crmgraph_links_customer", "customer_id"),
)
match_keys = Table(
    "crmgraph_match_keys",
    metadata,
    Column("customer_id", Integer, ForeignKey("crmgraph_customers.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # search: name | domain | tax_id | email; scope: owner_id | country
    Column("value", String(255), nullable=False),
    Index("crmgraph_match_keys_value", "kind", "value"),
    Index("crmgraph_match_keys_customer", "customer_id"),
)
persons = Table(
    "crmgraph_persons",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("customer_id", Integer, nullable=True),  # the golden customer the person works for, if known
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("crmgraph_persons_customer", "customer_id"),
)
person_links = Table(
    "crmgraph_person_links",
    metadata,
    Column("person_id", Integer, ForeignKey("crmgraph_persons.id"), nullable=False),
    Column("source", String(64), nullable=False),
    Column("source_id", String(128), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("linked_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("source", "source_id"),
    Index("crmgraph_person_links_person", "person_id"),
)
aliases = Table(
    "crmgraph_aliases",
    metadata,
    Column("kind", String(16), nullable=False),  # customer | person
    Column("old_id", Integer, nullable=False),
    Column("survivor_id", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("kind", "old_id"),
)
decisions = Table(
    "crmgraph_decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # company | person
    Column("action", String(32), nullable=False),  # link | unlink | merge | split | accept | reject
    Column("actor", String(255), nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("detail", Text, nullable=False),  # JSON: the ids the steward named
)
decision_pairs = Table(
    "crmgraph_decision_pairs",
    metadata,
    Column("decision_id", Integer, ForeignKey("crmgraph_decisions.id"), nullable=False),
    Column("together", Boolean, nullable=False),
    Column("left_source", String(64), nullable=False),
    Column("left_id", String(128), nullable=False),
    Column("right_source", String(64), nullable=False),
    Column("right_id", String(128), nullable=False),
    Index("crmgraph_decision_pairs_decision", "decision_id"),
)
review = Table(
    "crmgraph_review",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("left_source", String(64), nullable=False),
    Column("left_id", String(128), nullable=False),
    Column("right_source", String(64), nullable=False),
    Column("right_id", String(128), nullable=False),
    Column("probability", Float, nullable=False),
    Column("weight", Float, nullable=False),
    Column("why", String(64), nullable=False),  # score: between the thresholds; distinct:<field>: kept apart
    Column("evidence", Text, nullable=False),  # JSON: per comparison, grade, weight and both values
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("kind", "left_source", "left_id", "right_source", "right_id", name="crmgraph_review_pair"),
    Index("crmgraph_review_weight", "kind", "weight"),
)
models = Table(
    "crmgraph_models",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("params", Text, nullable=False),
    Column("fitted_at", DateTime(timezone=True), nullable=False),
)
profiles = Table(
    "crmgraph_profiles",
    metadata,
    Column("kind", String(16), nullable=False),
    Column("source", String(64), nullable=False),
    Column("source_id", String(128), nullable=False),
    Column("fields", Text, nullable=False),  # JSON: normalised match fields, xrefs, the parent record
    PrimaryKeyConstraint("kind", "source", "source_id"),
)
watermarks = Table(
    "crmgraph_watermarks",
    metadata,
    Column("source", String(64), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("value", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("source", "entity"),
)
links_generation = Table(
    "crmgraph_links_generation",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # always 1
    Column("generation", Integer, nullable=False),
)

__all__ = [
    "aliases", "customers", "decision_pairs", "decisions", "links", "links_generation", "match_keys", "metadata",
    "models", "person_links", "persons", "profiles", "review", "watermarks",
]  # fmt: skip
