"""Reading a GraphQL-over-HTTP request (a POST body or GET parameters) into strawberry's request data.

Every way a request can be malformed is refused here with its own message, before GraphQL parses the
document: a body that is not UTF-8 or not JSON, a JSON value other than an object (an array would be a
batch, which crmgraph does not serve), parameters of the wrong type, and ``variables`` or ``extensions``
nested deeper than ``max_json_depth`` (walked without recursion: the check must not be the thing that
overflows the stack).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from strawberry.http import GraphQLRequestData

from crmgraph.web.problems import HttpRefusal

_PARSER_DEPTH = 1024  # orjson's own limit: deeper bodies do not parse at all
_SHAPE = 'a JSON object such as {"query": "{ __typename }", "variables": {}}'


def _bad(message: str, *, part: str, expected: str, code: str = "BAD_REQUEST", limit: int | None = None) -> HttpRefusal:
    return HttpRefusal(400, code, message, part=part, expected=expected, limit=limit)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(type(value), "a number")


def _depth_exceeds(value: object, limit: int) -> bool:
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _decode_body(body: bytes) -> object:
    if not body.strip():
        raise _bad("The request body is empty.", part="body", expected=_SHAPE)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as decode_error:
            raise _bad(
                f"The request body is not UTF-8 (byte {decode_error.start} is not valid UTF-8).",
                part="body",
                expected="UTF-8 encoded JSON",
            ) from None
        if "depth" in exc.msg or "recursion" in exc.msg.lower():
            raise _bad(
                f"The request body's JSON is nested more than {_PARSER_DEPTH} levels deep.",
                part="body",
                expected=_SHAPE,
                code="JSON_TOO_DEEP",
                limit=_PARSER_DEPTH,
            ) from None
        raise _bad(
            f"The request body is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).",
            part="body",
            expected=_SHAPE,
        ) from None


def _parse_json_parameter(raw: str, name: str) -> object:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _bad(
            f"The `{name}` parameter is not JSON: {exc.msg}.", part=name, expected="a URL-encoded JSON object"
        ) from None


async def _parameters(request: Request) -> dict[str, Any]:
    if request.method == "GET":
        params: dict[str, Any] = dict(request.query_params)
        for name in ("variables", "extensions"):
            if params.get(name):
                params[name] = _parse_json_parameter(params[name], name)
            else:
                params.pop(name, None)
        return params
    content_type = request.headers.get("content-type")
    media, *options = (part.strip().lower() for part in (content_type or "").split(";"))
    if media != "application/json":
        raise HttpRefusal(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            f"A POST body must be application/json; Content-Type is {content_type!r}."
            if content_type
            else "A POST body must be application/json; the Content-Type header is missing.",
            part="headers.content-type",
            expected="application/json",
        )
    for option in options:
        name, _, value = option.partition("=")
        if name.strip() == "charset" and value.strip().strip('"') not in ("utf-8", "utf8"):
            raise HttpRefusal(
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                f"A POST body must be UTF-8; Content-Type names charset {value.strip()!r}.",
                part="headers.content-type",
                expected="application/json; charset=utf-8",
            )
    parsed = _decode_body(await request.body())
    if not isinstance(parsed, dict):
        batch = " (batches are not served: send one operation per request)" if isinstance(parsed, list) else ""
        raise _bad(f"The request body is {_json_type(parsed)}{batch}.", part="body", expected=_SHAPE)
    return parsed


async def read_graphql_request(request: Request, max_json_depth: int) -> tuple[GraphQLRequestData, object]:
    """The request's parameters, and its ``documentId`` (None when absent). ``query`` may be missing here:
    a request may name a trusted document instead (:mod:`crmgraph.web.persisted` decides)."""
    params = await _parameters(request)
    query = params.get("query")
    if not isinstance(query, str | None):
        raise _bad(f"`query` is {_json_type(query)}.", part="query", expected="a GraphQL document as a string")
    operation_name = params.get("operationName")
    if not isinstance(operation_name, str | None):
        raise _bad(
            f"`operationName` is {_json_type(operation_name)}.",
            part="operationName",
            expected="a string or null",
        )
    checked: dict[str, dict[str, Any] | None] = {}
    for name in ("variables", "extensions"):
        value = params.get(name)
        if not isinstance(value, dict | None):
            raise _bad(f"`{name}` is {_json_type(value)}.", part=name, expected="an object or null")
        if value is not None and _depth_exceeds(value, max_json_depth):
            raise _bad(
                f"`{name}` is nested more than {max_json_depth} levels deep (server.http.max_json_depth).",
                part=name,
                expected=f"objects and lists nested at most {max_json_depth} levels",
                code="JSON_TOO_DEEP",
                limit=max_json_depth,
            )
        checked[name] = value
    data = GraphQLRequestData(
        query=query,
        variables=checked["variables"],
        operation_name=operation_name,
        extensions=checked["extensions"],
    )
    return data, params.get("documentId")
