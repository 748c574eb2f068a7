"""Writes through a described API: the body built from canonical values through the same field map, reversed.

A field read through a plain path (``name``, ``address.city``) is written to that path; a value map is
applied backwards (``WON`` -> ``closedwon``); times are written in the field's format. ``envelope`` nests
the whole body (``{"ticket": {...}}``). The answer's record is selected with ``select`` and mapped like a
read. A 4xx is a refusal: 404 NOT_FOUND, 409 and 412 CONFLICT, any other INVALID, each problem the answer
lists under ``refusals`` naming the canonical field the API's field name maps to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crmgraph.adapters.rest.calls import filled
from crmgraph.adapters.rest.http import RestHttp
from crmgraph.adapters.rest.mapping import Mapper
from crmgraph.adapters.rest.select import search
from crmgraph.adapters.rest.spec import Write
from crmgraph.adapters.sdk.http import expect
from crmgraph.adapters.sdk.writes import Refusal, WriteOp, WriteRefused
from crmgraph.errors import UpstreamRejected


def _put(body: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        body = body.setdefault(part, {})
    body[last] = value


def write_body(write: Write, mapper: Mapper, op: WriteOp) -> dict[str, Any]:
    """The JSON body of ``op``; :class:`WriteRefused` naming a field this API cannot take."""
    fields: dict[str, Any] = {}
    refusals: list[Refusal] = []
    values = dict(op.values) | {write.links[link]: key for link, key in op.links.items() if link in write.links}
    for name, value in values.items():
        try:
            path, written = mapper.written(name, value, write.paths.get(name))
        except ValueError as problem:
            refusals.append(Refusal("INVALID", str(problem), name))
            continue
        _put(fields, path, written)
    if refusals:
        raise WriteRefused(mapper.source, refusals)
    if write.idempotency_field and op.idempotency_key:
        _put(fields, write.idempotency_field, op.idempotency_key)
    body: dict[str, Any] = {**write.body, **fields}
    if write.envelope:
        wrapped: dict[str, Any] = {}
        _put(wrapped, write.envelope, body)
        return wrapped
    return body


async def send_write(http: RestHttp, write: Write, mapper: Mapper, op: WriteOp) -> Any:
    """The raw record the API answers with; :class:`WriteRefused` for a refusal."""
    values = {"id": op.record_id or ""}
    path = filled(write.path, values, in_path=True)
    params = {name: filled(str(v), values, in_path=False) for name, v in write.params.items()}
    status, answer = await http.send(write.method, path, write_body(write, mapper, op), params=params,
                                     headers=write.headers or None)  # fmt: skip
    if status < 400:
        raw = search(write.select, answer)
        expect(http.source, isinstance(raw, Mapping), f"{write.select} of the write's answer is not a record")
        return raw
    raise _refused(http.source, status, answer, write, mapper, op)


def _refused(source: str, status: int, answer: Any, write: Write, mapper: Mapper, op: WriteOp) -> Exception:
    said = _said(answer)
    if status == 404:
        return WriteRefused(source, [Refusal("NOT_FOUND", f"no {op.entity} {op.record_id} in {source}")])
    if status in (409, 412):
        return WriteRefused(source, [Refusal("CONFLICT", f"the {op.entity} changed meanwhile ({said})")])
    if status in (401, 403):
        return UpstreamRejected(source, f"refused the write ({status}): {said}")
    refusals: list[Refusal] = []
    for upstream, problem in _problems(write, answer):
        message = search(write.refusals.message, problem) if write.refusals is not None else problem
        field = _canonical(str(upstream), write, mapper) if upstream not in (None, "") else None
        text = message if isinstance(message, str) else str(message)
        refusals.append(Refusal("INVALID", f"{field}: {text}" if field else text, field))
    return WriteRefused(source, refusals or [Refusal("INVALID", f"refused ({status}): {said}")])


def _canonical(upstream: str, write: Write, mapper: Mapper) -> str:
    """The canonical field an API's field name in a refusal is about: named in ``refusals.names``, written by
    this call at a path through it (``comment`` for ``comment.body``), or read from it."""
    named = write.refusals.names if write.refusals is not None else {}
    if upstream in named:
        return named[upstream]
    for name, path in write.paths.items():
        if upstream in path.split("."):
            return name
    return mapper.upstream_name(upstream)


def _problems(write: Write, answer: Any) -> list[tuple[Any, Any]]:
    """(the API's field name, the problem) for each problem the answer lists: a list of problems, or an object
    keyed by field name whose values are a problem or a list of them (``{"email": ["is taken"]}``)."""
    spec = write.refusals
    found = search(spec.select, answer) if spec is not None else None
    if spec is None or found is None:
        return []
    if isinstance(found, Mapping):
        return [
            (name, item) for name, items in found.items() for item in (items if isinstance(items, list) else [items])
        ]
    items = found if isinstance(found, list) else [found]
    return [(search(spec.field, item) if spec.field else None, item) for item in items]


def _said(answer: Any) -> str:
    if isinstance(answer, Mapping):
        for key in ("message", "description", "error", "detail"):
            if isinstance(answer.get(key), str):
                return str(answer[key])
    return "no reason given"
