"""The HTTP layer's limits, against the facade served by uvicorn on loopback (issue 11's measured cases).

Every case ends in a precise 4xx whose JSON body names the part of the request and the limit, or, for a
connection that never starts a request, in the server closing it. Raw sockets send what no HTTP client
would (a 10,000-field head, a body that stops half-way); no assertion is about elapsed time: a refusal is
observed as the answer arriving (and the connection closing) before the client finished sending.
"""

from __future__ import annotations

import select
import socket
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from crmgraph.config import ConfigErrors, HttpLimitsConfig, parse_config
from tests.conftest import Estate
from tests.facade import Facade, facade_config, serve_facade

MiB = 1024 * 1024
# Short timeouts so that the tests observe them; the defaults are 10 s (head) and 30 s (body).
LIMITS = {"head_timeout_s": 0.5, "body_timeout_s": 0.5, "keep_alive_timeout_s": 1}


@pytest.fixture(scope="module")
def limited(running_estate: Estate, linked_identity: str) -> Iterator[Facade]:
    config = facade_config(
        running_estate.crm_url, running_estate.tickets_url, running_estate.layout.erp_url, linked_identity
    )
    http = HttpLimitsConfig.model_validate(config.server.http.model_dump() | LIMITS)
    config = config.model_copy(update={"server": config.server.model_copy(update={"http": http})})
    with serve_facade(config) as facade:
        yield facade


def _connect(facade: Facade) -> socket.socket:
    url = urlsplit(facade.url)
    sock = socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=20)
    return sock


def _send_until_answered(sock: socket.socket, parts: Iterable[bytes]) -> bool:
    """Send ``parts`` one after the other, stopping as soon as the server answers; True if it answered
    before everything was sent."""
    for part in parts:
        readable, _, _ = select.select([sock], [], [], 0)
        if readable:
            return True
        try:
            sock.sendall(part)
        except (BrokenPipeError, ConnectionResetError):
            return True
    return False


def _read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 answer read until the server closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *fields = head.decode("latin-1").split("\r\n")
    headers = {}
    for field in fields:
        name, _, value = field.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def _error(body: bytes) -> dict[str, Any]:
    answer = orjson.loads(body)
    assert set(answer) == {"errors"}, answer
    (error,) = answer["errors"]
    result: dict[str, Any] = error
    return result


def _chunks(data: bytes, size: int = 16 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


# Bodies


@pytest.mark.parametrize("size", [10 * 1_000_000, 100 * 1_000_000], ids=["10MB", "100MB"])
def test_a_body_past_the_limit_is_refused_from_its_content_length_before_it_is_sent(limited: Facade, size: int) -> None:
    with _connect(limited) as sock:
        sock.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % size
        )  # and not one byte of the body
        status, headers, body = _read_answer(sock)
    assert status == 413
    assert headers["content-type"] == "application/json"
    error = _error(body)
    assert error["extensions"] == {
        "code": "BODY_TOO_LARGE",
        "part": "body",
        "expected": f"at most {MiB} bytes",
        "limit": MiB,
    }
    assert f"Content-Length ({size} bytes)" in error["message"]


def test_a_chunked_body_past_the_limit_is_refused_while_it_streams(limited: Facade) -> None:
    chunk = b"x" * 64 * 1024
    framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    with _connect(limited) as sock:
        sock.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        answered_early = _send_until_answered(sock, [framed] * (100 * MiB // len(chunk)))
        status, _, body = _read_answer(sock)
    assert answered_early  # refused long before 100 MB were sent
    assert status == 413
    assert _error(body)["extensions"]["code"] == "BODY_TOO_LARGE"


def test_a_body_that_stops_arriving_is_answered_408(limited: Facade) -> None:
    with _connect(limited) as sock:
        sock.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"query": '
        )
        status, _, body = _read_answer(sock)
    assert status == 408
    error = _error(body)
    assert error["extensions"]["code"] == "BODY_TIMEOUT"
    assert error["extensions"]["part"] == "body"
    assert error["extensions"]["limit"] == 0.5
    assert "10 bytes were received" in error["message"]


# Request heads


def test_a_megabyte_of_headers_is_refused_431(limited: Facade) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Padding: " + b"a" * MiB + b"\r\n\r\n"
    with _connect(limited) as sock:
        _send_until_answered(sock, _chunks(head))  # socket buffers may take it all: no claim on how much
        status, headers, body = _read_answer(sock)
    assert status == 431
    assert headers["connection"] == "close"
    assert _error(body)["extensions"] == {
        "code": "HEADERS_TOO_LARGE",
        "part": "headers",
        "expected": "a request line and headers of at most 65536 bytes",
        "limit": 65536,
    }


def test_ten_thousand_headers_are_refused_431(limited: Facade) -> None:
    fields = b"".join(b"X-Field-%d: v\r\n" % index for index in range(10_000))
    head = b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + fields + b"\r\n"
    with _connect(limited) as sock:
        _send_until_answered(sock, _chunks(head, 4096))
        status, _, body = _read_answer(sock)
    assert status == 431
    assert _error(body)["extensions"] == {
        "code": "TOO_MANY_HEADERS",
        "part": "headers",
        "expected": "at most 100 header fields",
        "limit": 100,
    }


def test_a_request_line_past_the_head_limit_is_refused_414(limited: Facade) -> None:
    with _connect(limited) as sock:
        _send_until_answered(sock, _chunks(b"GET /graphql?query=" + b"a" * MiB + b" HTTP/1.1\r\nHost: t\r\n\r\n"))
        status, _, body = _read_answer(sock)
    assert status == 414
    assert _error(body)["extensions"]["part"] == "url"


# Idle and slow connections


def test_idle_connections_that_send_nothing_are_closed_after_the_head_timeout(limited: Facade) -> None:
    sockets = [_connect(limited) for _ in range(200)]
    try:
        for sock in sockets:
            assert sock.recv(1024) == b""  # closed by the server, without an answer to a request never made
    finally:
        for sock in sockets:
            sock.close()


def test_a_head_sent_slowly_is_answered_408_and_closed(limited: Facade) -> None:
    with _connect(limited) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ")  # and then nothing
        status, _, body = _read_answer(sock)
    assert status == 408
    assert _error(body)["extensions"]["code"] == "HEAD_TIMEOUT"


def test_a_kept_alive_connection_is_closed_after_the_keep_alive_timeout(limited: Facade) -> None:
    with _connect(limited) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ")
        assert sock.recv(1024) == b""  # the server closed the idle connection


def test_a_request_within_the_limits_is_served(limited: Facade) -> None:
    response = httpx.post(f"{limited.url}/graphql", json={"query": "{ __typename }"}, timeout=10)
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


# JSON bodies


def _post(facade: Facade, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{facade.url}/graphql", content=body, headers={"content-type": "application/json", **headers}, timeout=10
    )


def test_a_json_array_body_is_refused_400_as_a_batch(limited: Facade) -> None:
    response = _post(limited, b'[{"query": "{ __typename }"}]')
    assert response.status_code == 400
    error = _error(response.content)
    assert error["message"] == "The request body is an array (batches are not served: send one operation per request)."
    assert error["extensions"]["part"] == "body"
    assert error["extensions"]["expected"].startswith("a JSON object")


def test_a_body_that_is_not_utf8_is_refused_400(limited: Facade) -> None:
    body = b'{"query": "{ __typename }", "variables": {"name": "caf\xe9"}}'
    response = _post(limited, body)
    assert response.status_code == 400
    error = _error(response.content)
    assert error["message"] == f"The request body is not UTF-8 (byte {body.index(0xE9)} is not valid UTF-8)."
    assert error["extensions"] == {"code": "BAD_REQUEST", "part": "body", "expected": "UTF-8 encoded JSON"}


def test_a_body_in_another_charset_is_refused_415(limited: Facade) -> None:
    response = _post(limited, b'{"query": "{ __typename }"}', **{"content-type": "application/json; charset=latin-1"})
    assert response.status_code == 415
    assert _error(response.content)["extensions"]["part"] == "headers.content-type"


def test_variables_nested_past_the_depth_limit_are_refused_400(limited: Facade) -> None:
    nested: Any = "leaf"
    for _ in range(100):
        nested = {"deeper": nested}
    response = _post(limited, orjson.dumps({"query": "{ __typename }", "variables": {"filter": nested}}))
    assert response.status_code == 400
    assert _error(response.content)["extensions"] == {
        "code": "JSON_TOO_DEEP",
        "part": "variables",
        "expected": "objects and lists nested at most 32 levels",
        "limit": 32,
    }


def test_variables_too_deep_to_parse_are_refused_400_not_a_recursion_error(limited: Facade) -> None:
    depth = 100_000
    body = b'{"query": "{ __typename }", "variables": {"v": ' + b"[" * depth + b"]" * depth + b"}}"
    response = _post(limited, body)
    assert response.status_code == 400
    error = _error(response.content)
    assert error["extensions"]["code"] == "JSON_TOO_DEEP"
    assert error["extensions"]["part"] == "body"


def test_a_body_that_is_not_json_is_refused_400_with_its_position(limited: Facade) -> None:
    response = _post(limited, b'{"query": ')
    assert response.status_code == 400
    assert "line 1" in _error(response.content)["message"]


def test_an_empty_body_is_refused_400(limited: Facade) -> None:
    response = _post(limited, b"")
    assert response.status_code == 400
    assert _error(response.content)["message"] == "The request body is empty."


# Configuration


def test_the_limits_have_defaults() -> None:
    limits = HttpLimitsConfig()
    assert (limits.max_body_bytes, limits.max_head_bytes, limits.max_headers) == (MiB, 65536, 100)
    assert (limits.head_timeout_s, limits.body_timeout_s, limits.keep_alive_timeout_s) == (10, 30, 5)


def test_sizes_take_units() -> None:
    config = parse_config(
        "sources: {crm: {adapter: hubspot}}\nserver: {http: {max_body_bytes: 4MiB, max_head_bytes: 16KiB}}"
    )
    assert config.server.http.max_body_bytes == 4 * MiB
    assert config.server.http.max_head_bytes == 16 * 1024


def test_a_bad_limit_is_reported_with_its_path() -> None:
    with pytest.raises(ConfigErrors) as raised:
        parse_config(
            "sources: {crm: {adapter: hubspot}}\n"
            "server: {http: {max_body_bytes: 1 parsec, head_timeout_s: 0, max_headers: 100000, max_bodies: 1}}"
        )
    problems = {problem.path: problem.message for problem in raised.value.problems}
    assert problems == {
        "server.http.max_body_bytes": "could not interpret byte unit: parsec",
        "server.http.head_timeout_s": "Input should be greater than 0",
        "server.http.max_headers": "Input should be less than or equal to 10000",
        "server.http.max_bodies": "Extra inputs are not permitted",
    }
