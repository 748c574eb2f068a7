"""What every mutation that writes to a system of record shares: the write made once under its idempotency
key (:mod:`crmgraph.writes.perform`), its refusals turned into user errors at the input fields, and the
row scope applied as "no such record"."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crmgraph import records
from crmgraph.adapters.sdk.base import Adapter
from crmgraph.adapters.sdk.writes import WriteOp
from crmgraph.errors import ClientError
from crmgraph.identity.store import Link
from crmgraph.resolvers.scope import customer_in_scope, party_in_scope
from crmgraph.schema.ids import decode_id, decode_number
from crmgraph.schema.nodes import Info
from crmgraph.schema.user_errors import UserError, UserErrorCode
from crmgraph.writes.perform import Writer, Written

KEY_DESCRIPTION = (
    "A key the client makes for this change (a UUID) and sends again when it retries: the change is made once, "
    "and a retry gets the first answer."
)
_PROBLEMS = {
    "IDEMPOTENCY_KEY_REUSED": "this idempotency key was used for a different change; make a new key",
    "IN_PROGRESS": "a request with this idempotency key is still running; ask again shortly",
    "OUTCOME_UNKNOWN": "an earlier attempt with this key may or may not have been applied: check the record",
}


@dataclass
class Outcome:
    """A write's answer before it becomes a payload: the record, or the user errors (then nothing changed)."""

    record: records.Record | None = None
    replayed: bool = False
    errors: list[UserError] = field(default_factory=list)


def refuse(path: list[str] | None, message: str, code: UserErrorCode) -> Outcome:
    return Outcome(errors=[UserError(field=path, message=message, code=code)])


def input_name(canonical: str, renamed: Mapping[str, str] | None = None) -> str:
    """The input field a canonical field arrives in: ``job_title`` in ``jobTitle``, a company in ``customerId``."""
    if renamed and canonical in renamed:
        return renamed[canonical]
    if canonical == "party":
        return "customerId"
    head, *rest = canonical.split("_")
    return head + "".join(part.title() for part in rest)


def text(value: str, name: str, limit: int) -> str:
    """``value`` stripped; a :class:`ClientError` naming the input field when blank or too long."""
    if not value.strip():
        raise ClientError(f"input.{name}: must not be blank")
    if len(value) > limit or "\x00" in value:
        raise ClientError(f"input.{name}: at most {limit} characters and no NUL character")
    return value.strip()


def writer_of(info: Info, entity: str, action: str) -> Adapter | None:
    """The first configured source that can make this change (the system of record of ``entity``)."""
    for adapter in info.context.loaders.adapters.values():
        if (entity, action) in adapter.writable:
            return adapter
    return None


def party_in(links: list[Link], source: str) -> str | None:
    return next((link.source_id for link in links if link.entity == "party" and link.source == source), None)


async def customer_links(info: Info, customer_id: str) -> tuple[int, list[Link]] | Outcome:
    """The customer's links, or NOT_FOUND for one that does not exist or is outside the principal's scope."""
    number = decode_number(customer_id, "Customer", argument="input.customerId")
    loaders, access = info.context.loaders, info.context.access
    links = await loaders.links.load(number)
    if not links or not await customer_in_scope(loaders, access, number):
        return refuse(["input", "customerId"], f"no customer has the id {number}", UserErrorCode.NOT_FOUND)
    if info.context.audit is not None:
        info.context.audit.touched.customers.add(number)
    return number, list(links)


async def existing(
    info: Info, node_id: str, type_name: str, entity: str, argument: str
) -> tuple[Adapter, records.Record] | Outcome:
    """The record a change names, with the adapter that can change it; NOT_FOUND when it does not exist or
    belongs to a customer outside the principal's scope (as if it did not exist)."""
    _, parts = decode_id(node_id, type_name, argument=f"input.{argument}")
    source, source_id = parts[0], ":".join(parts[1:])
    adapter = info.context.loaders.adapters.get(source)
    if adapter is None or (entity, "update") not in adapter.writable:
        return refuse(["input", argument], f"{source} cannot change a {entity}", UserErrorCode.NOT_WRITABLE)
    found = await info.context.loaders.by_id(source, entity).load(source_id)
    if isinstance(found, Exception):
        raise found  # the system failed: a GraphQL error with its code, not "no such record"
    missing = refuse(["input", argument], f"no {type_name.lower()} {node_id}", UserErrorCode.NOT_FOUND)
    if not isinstance(found, records.Record):
        return missing
    party = getattr(found, "party_id", None)
    if not await party_in_scope(info.context.loaders, info.context.access, (source, party or "")):
        return missing
    if info.context.audit is not None and party:
        info.context.audit.touched.parties.add((source, party))
    return adapter, found


def _subject(info: Info) -> str:
    principal = info.context.principal
    return principal.subject if principal is not None else info.context.actor


async def perform(
    info: Info,
    adapter: Adapter,
    op: WriteOp,
    key: str,
    operation: str,
    arguments: Mapping[str, Any],
    renamed: Mapping[str, str] | None = None,
) -> Outcome:
    """``op`` made once under ``key``; refusals as user errors at the input fields they are about."""
    store = info.context.idempotency
    if store is None:
        raise ClientError("writes are not available: the facade has no store for idempotency records")
    written = await Writer(store, info.context.loaders.cache, info.context.events).write(
        adapter, op, subject=_subject(info), key=key, operation=operation, arguments=arguments
    )
    return _outcome(written, renamed)


def _outcome(written: Written, renamed: Mapping[str, str] | None) -> Outcome:
    if written.problem is not None:
        return refuse(["input", "idempotencyKey"], _PROBLEMS[written.problem], UserErrorCode[written.problem])
    if written.refusals:
        errors = [
            UserError(field=["input", input_name(r.field, renamed)] if r.field else None, message=r.message,
                      code=UserErrorCode[r.code])
            for r in written.refusals
        ]  # fmt: skip
        return Outcome(replayed=written.replayed, errors=errors)
    return Outcome(record=written.record, replayed=written.replayed)
