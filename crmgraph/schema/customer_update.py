"""customerUpdate: a customer's golden fields, each written to the one system that owns it.

The owners are configuration (``writes.owners``, :mod:`crmgraph.writes.settings`): crmgraph never writes one
value to several systems. A field nobody owns, or owned by a system whose adapter cannot change a customer's
record, or by one where the customer has no record, is refused (``NOT_WRITABLE``) before anything is
written. The fields go to each owner in one write; a customer whose fields have two owners gets two writes,
each under its own key derived from the client's, so a retry replays the one made and makes the other.
"""

from __future__ import annotations

from typing import Any

from crmgraph.adapters.sdk.writes import WriteOp
from crmgraph.schema.crm_mutation_types import CustomerUpdateInput
from crmgraph.schema.customer import Customer
from crmgraph.schema.nodes import Info
from crmgraph.schema.user_errors import UserError, UserErrorCode
from crmgraph.schema.writing import Outcome, customer_links, input_name, party_in, perform, refuse, text
from crmgraph.writes.settings import GOLDEN_FIELDS

FIELD_LIMIT = 500


def _given(input: CustomerUpdateInput) -> dict[str, str]:
    """The golden fields given, by their graph names (an empty string clears one)."""
    given: dict[str, str] = {}
    for name in GOLDEN_FIELDS:
        value = getattr(input, _attribute(name))
        if value is not None:
            given[name] = text(value, name, FIELD_LIMIT) if value.strip() else ""
    return given


def _attribute(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)  # taxId -> tax_id


async def update_customer(info: Info, input: CustomerUpdateInput) -> tuple[int | None, Outcome]:
    found = await customer_links(info, input.customer_id)
    if isinstance(found, Outcome):
        return None, found
    customer_id, links = found
    given = _given(input)
    if not given:
        return None, refuse(["input"], f"name at least one of {', '.join(GOLDEN_FIELDS)}", UserErrorCode.BLANK)
    by_owner: dict[str, dict[str, str]] = {}
    errors: list[UserError] = []
    adapters = info.context.loaders.adapters
    for name, value in given.items():
        owner = info.context.writes.owner(name)
        adapter = adapters.get(owner) if owner else None
        if owner is None:
            said = f"no system owns {name}: it cannot be changed through the graph (writes.owners)"
        elif adapter is None or ("party", "update") not in adapter.writable:
            said = f"{name} is owned by {owner}, which crmgraph cannot write customers to"
        elif party_in(links, owner) is None:
            said = f"the customer has no record in {owner}, which owns {name}; link one first"
        else:
            by_owner.setdefault(owner, {})[_attribute(name)] = value
            continue
        errors.append(UserError(field=["input", name], message=said, code=UserErrorCode.NOT_WRITABLE))
    if errors:
        return None, Outcome(errors=errors)  # nothing is written when any field cannot be
    replayed = True
    for owner, values in by_owner.items():
        party = str(party_in(links, owner))
        op = WriteOp("party", "update", values, record_id=party, expected_version=input.version,
                     links={"party": party})  # fmt: skip
        key = input.idempotency_key if len(by_owner) == 1 else f"{input.idempotency_key}:{owner}"
        arguments: dict[str, Any] = {"customer": customer_id, "version": input.version, **values}
        renamed = {canonical: input_name(canonical) for canonical in values}
        outcome = await perform(info, adapters[owner], op, key, "customerUpdate", arguments, renamed)
        if outcome.errors:
            return None, outcome
        replayed = replayed and outcome.replayed
    return customer_id, Outcome(replayed=replayed)


async def customer_update(info: Info, input: CustomerUpdateInput) -> tuple[Customer | None, Outcome]:
    customer_id, outcome = await update_customer(info, input)
    return (Customer.of(customer_id) if customer_id is not None else None), outcome
