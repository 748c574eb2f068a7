"""Loops between rules: a chain of rule runs that comes back to where it started, or never ends.

Every change a rule's action makes carries the chain of runs that caused it (:mod:`crmgraph.events.causation`):
``rule|system:entity:id`` for each run, outermost first. A rule hearing such a change is stopped, and its run
recorded ``LOOP_STOPPED``, when the chain already holds that rule acting on that same record (it would go
round again), or when the chain is ``max_depth`` runs long (a loop through ever new records, or a cascade
nobody meant).
"""

from __future__ import annotations

from crmgraph.events.change import ChangeEvent


def link(rule: str, event: ChangeEvent) -> str:
    """This run, as the chain of the changes it causes names it."""
    return f"{rule}|{event.system}:{event.entity.value}:{event.record_id}"


def loop_reason(rule: str, event: ChangeEvent, max_depth: int) -> str | None:
    """Why running ``rule`` on ``event`` would be a loop; None when it would not."""
    chain = " -> ".join(event.chain)
    if link(rule, event) in event.chain:
        return f"{rule} already acted on {event.system} {event.entity.value} {event.record_id} in this chain: {chain}"
    if len(event.chain) >= max_depth:
        return f"the change comes from a chain of {len(event.chain)} rule runs (max_depth {max_depth}): {chain}"
    return None
