"""What one request did that the audit trail records, gathered while it runs and written once at its end.

A resolver notes each read of a personal-data field here (a set insert, never a write to the store); at
the end of the operation the notes become at most three events: the fields read in clear, those read
masked, and those denied. Records are noted by their party (source, id) and resolved to their golden
customers once, at the end, in one batched look-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crmgraph.identity.store import SourceRecord


@dataclass
class FieldReads:
    fields: set[str] = field(default_factory=set)
    customers: set[int] = field(default_factory=set)
    parties: set[SourceRecord] = field(default_factory=set)

    def note(self, key: str, customer: int | None, party: SourceRecord | None) -> None:
        self.fields.add(key)
        if customer is not None:
            self.customers.add(customer)
        elif party is not None:
            self.parties.add(party)

    def __bool__(self) -> bool:
        return bool(self.fields)


@dataclass
class RequestAudit:
    clear: FieldReads = field(default_factory=FieldReads)
    masked: FieldReads = field(default_factory=FieldReads)
    denied: FieldReads = field(default_factory=FieldReads)
    masked_paths: list[list[str | int]] = field(default_factory=list)  # extensions.masked of the answer
    # Customers a mutation named (its input), and records it named by party.
    touched: FieldReads = field(default_factory=FieldReads)
