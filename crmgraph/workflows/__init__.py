"""Collaboration workflows: lead distribution, ticket triage and routing, automation rules.

They consume the canonical change events (:mod:`crmgraph.events`) and act only through the graph's own
mutations, so every action is permissioned, audited and written to the system of record like a person's.
"""
