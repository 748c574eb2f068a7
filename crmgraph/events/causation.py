"""Which automation rule runs caused the changes being made now: the chain a write's change event carries.

A rule's action runs through the graph's own mutations; the runner sets :data:`CAUSE` to the chain of the
run (the chain of the event it acts on, plus itself) around them, and :class:`~crmgraph.writes.perform.Writer`
stamps it on the change event of every write made meanwhile. A rule that hears that event sees how it came
about: a chain too long, or one that already holds the same rule acting on the same record, is a loop
(:mod:`crmgraph.workflows.rules.loops`). A context variable, because the chain must cross the GraphQL
execution without every resolver handing it on; asyncio copies it into the tasks a resolver starts.
"""

from __future__ import annotations

from contextvars import ContextVar

CAUSE: ContextVar[tuple[str, ...]] = ContextVar("crmgraph_rule_cause", default=())


def current_chain() -> tuple[str, ...]:
    """The chain of the rule run making the current change; empty outside one (a person's change)."""
    return CAUSE.get()
