"""Row scope: which customers the principal may know of, decided once per customer per request.

A customer outside the scope is answered exactly as one that does not exist (null, an empty page, a
count without it, ``NOT_FOUND`` in a steward mutation), so that a scope does not leak what it hides.
Records other than customers (a contact, an order, a ticket, ...) are in scope when the customer their
party belongs to is; a record no customer holds is outside every scope.

The scope is tested on the values identity resolution keeps for each customer at link time (every
owner and country its records name): the same values the customer list is filtered by in the store, so
that a list, its ``totalCount`` and ``node(id)`` always agree.
"""

from __future__ import annotations

from crmgraph.identity.store import SourceRecord
from crmgraph.policy.roles import Access
from crmgraph.resolvers.loaders import Loaders


async def customer_in_scope(loaders: Loaders, access: Access | None, customer_id: int) -> bool:
    if access is None or not access.scoped:
        return True
    keys = await loaders.scope_keys.load(customer_id)
    return access.admits({"customer_id": str(customer_id), **keys})


async def party_in_scope(loaders: Loaders, access: Access | None, party: SourceRecord | None) -> bool:
    """Whether the record of ``party`` (a source record of a company) belongs to a customer in scope."""
    if access is None or not access.scoped:
        return True
    if party is None or party[1] is None:
        return False
    customer_id = await loaders.customer_of_party.load(party)
    return customer_id is not None and await customer_in_scope(loaders, access, customer_id)
