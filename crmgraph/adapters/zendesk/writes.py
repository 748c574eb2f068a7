"""Writes to Zendesk Support v2: tickets opened, changed and answered.

    create ticket   POST /api/v2/tickets.json           {"ticket": {subject, comment: {body}, ...}}
    update ticket   PUT  /api/v2/tickets/{id}.json      {"ticket": {status, assignee_id, comment, ...}}
    find by key     GET  /api/v2/tickets.json?external_id=

A comment is added by an update carrying ``comment: {body, public}``, as Zendesk does it. An update that
names the version it read is sent with ``safe_update: true`` and ``updated_stamp``: Zendesk refuses it
with 409 when the ticket changed since. The idempotency key goes into the ticket's ``external_id``, so
a create whose answer was lost is found again by it (:func:`find_by_key`).

Canonical values (what the graph's mutations pass): ``subject``, ``description`` (the first comment),
``status``, ``priority``, ``tags``, ``assignee_id``, ``group_id``, ``requester_id``,
``comment`` (``{"body", "public"}``);
``links["party"]`` is the organization.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crmgraph.adapters.sdk.http import HttpSource, expect
from crmgraph.adapters.sdk.writes import Refusal, WriteOp, WriteRefused
from crmgraph.adapters.zendesk.mapping import TICKET_PRIORITIES, TICKET_STATUSES
from crmgraph.errors import UpstreamRejected

API = "/api/v2"
# Zendesk's field names where they differ from the canonical ones (in 422 details, too).
_FIELDS = {"organization_id": "party", "organization": "party", "assignee": "assignee_id",
           "requester": "requester_id"}  # fmt: skip
_PLAIN = ("subject", "status", "priority", "tags", "assignee_id", "requester_id", "group_id", "type")


# Canonical statuses and priorities (crmgraph.records) as Zendesk spells them.
_STATUS = {canonical: word for word, canonical in TICKET_STATUSES.items()}
_PRIORITY = {canonical: word for word, canonical in TICKET_PRIORITIES.items()}


def ticket_body(op: WriteOp) -> dict[str, Any]:
    values = op.values
    ticket: dict[str, Any] = {name: values[name] for name in _PLAIN if name in values}
    if ticket.get("status") is not None:
        ticket["status"] = _STATUS[ticket["status"]]
    if ticket.get("priority") is not None:
        ticket["priority"] = _PRIORITY[ticket["priority"]]
    for name in ("assignee_id", "requester_id", "group_id"):
        if ticket.get(name) is not None:
            ticket[name] = int(ticket[name]) if str(ticket[name]).isdigit() else ticket[name]
    if op.action == "create":
        ticket["comment"] = {"body": values.get("description", ""), "public": True}
        if "party" in op.links:
            party = op.links["party"]
            ticket["organization_id"] = int(party) if party.isdigit() else party
        if op.idempotency_key:
            ticket["external_id"] = op.idempotency_key
    elif isinstance(values.get("comment"), Mapping):
        comment = values["comment"]
        ticket["comment"] = {"body": comment.get("body", ""), "public": bool(comment.get("public", True))}
    if op.action == "update" and op.expected_version is not None:
        ticket |= {"safe_update": True, "updated_stamp": op.expected_version}
    return {"ticket": ticket}


async def send_ticket(http: HttpSource, source: str, op: WriteOp) -> Any:
    """The raw ticket Zendesk answers with; :class:`WriteRefused` for a refusal."""
    if op.action == "create":
        status, body = await http.send_json("POST", f"{API}/tickets.json", ticket_body(op))
    else:
        status, body = await http.send_json("PUT", f"{API}/tickets/{op.record_id}.json", ticket_body(op))
    if status < 400:
        expect(source, isinstance(body, Mapping) and isinstance(body.get("ticket"), Mapping), "a ticket")
        return body["ticket"]
    raise _refused(source, status, body, op)


def _refused(source: str, status: int, body: Any, op: WriteOp) -> Exception:
    said = body if isinstance(body, Mapping) else {}
    description = str(said.get("description") or said.get("error") or status)
    if status == 409:
        return WriteRefused(source, [Refusal("CONFLICT", f"the ticket changed since version {op.expected_version} "
                                             f"was read; read it again ({description})")])  # fmt: skip
    if status == 404:
        return WriteRefused(source, [Refusal("NOT_FOUND", f"no ticket {op.record_id} in {source}")])
    if status == 422:
        refusals: list[Refusal] = []
        details = said.get("details")
        for name, problems in details.items() if isinstance(details, Mapping) else ():
            for problem in problems if isinstance(problems, list) else [problems]:
                text = problem.get("description") if isinstance(problem, Mapping) else str(problem)
                refusals.append(Refusal("INVALID", str(text), _FIELDS.get(name, name)))
        return WriteRefused(source, refusals or [Refusal("INVALID", description)])
    return UpstreamRejected(source, f"refused the write ({status}): {description}")


async def find_by_key(http: HttpSource, key: str) -> Any | None:
    """The raw ticket whose ``external_id`` is ``key``, if one is."""
    body = await http.get_json(f"{API}/tickets.json", params={"external_id": key})
    tickets = body.get("tickets") if isinstance(body, Mapping) else None
    return tickets[0] if isinstance(tickets, list) and tickets else None
