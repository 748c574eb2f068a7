"""The HTTP classifier hook against a real little server on 127.0.0.1: batches split and kept in order,
every failure a typed upstream error of source ``triage``."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from crmgraph.errors import (
    SourceError,
    UpstreamBadResponse,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
    UpstreamUnreachable,
)
from crmgraph.workflows.triage.http import HttpClassifier
from crmgraph.workflows.triage.settings import TriageEndpoint
from crmgraph.workflows.triage.verdict import Triage


@dataclass
class Behaviour:
    """What the server does with the next requests, and what it was sent."""

    status: int = 200
    answer: Any = None  # None: a verdict per ticket, derived from its subject
    raw: bytes | None = None
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    received: list[tuple[dict[str, str], Any]] = field(default_factory=list)


def _handler(behaviour: Behaviour) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            behaviour.received.append((dict(self.headers), body))
            time.sleep(behaviour.delay_s)
            if behaviour.raw is not None:
                payload = behaviour.raw
            elif behaviour.answer is not None:
                payload = json.dumps(behaviour.answer).encode()
            else:
                verdicts = [
                    {"severity": "high", "category": t["subject"], "tags": ["llm"], "confidence": 0.7}
                    for t in body["tickets"]
                ]
                payload = json.dumps(verdicts).encode()
            self.send_response(behaviour.status)
            for name, value in behaviour.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def server() -> Iterator[tuple[str, Behaviour]]:
    behaviour = Behaviour()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(behaviour))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/classify", behaviour
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _classify(endpoint: TriageEndpoint, tickets: list[tuple[str, str]]) -> list[Triage]:
    async def run() -> list[Triage]:
        classifier = HttpClassifier(endpoint)
        try:
            return await classifier.classify(tickets)
        finally:
            await classifier.aclose()

    return asyncio.run(run())


def test_a_large_batch_is_split_and_answered_in_order(server: tuple[str, Behaviour]) -> None:
    url, behaviour = server
    endpoint = TriageEndpoint(url=url, max_batch=100, headers={"Authorization": "Bearer s3cret"})
    tickets = [(f"category-{n}", f"text {n}") for n in range(250)]
    verdicts = _classify(endpoint, tickets)
    assert [v.category for v in verdicts] == [subject for subject, _ in tickets]
    assert verdicts[0] == Triage("high", "category-0", ("llm",), 0.7, "http:127.0.0.1")
    assert [len(body["tickets"]) for _, body in behaviour.received] == [100, 100, 50]
    assert behaviour.received[0][1]["tickets"][1] == {"subject": "category-1", "text": "text 1"}
    assert all(headers["Authorization"] == "Bearer s3cret" for headers, _ in behaviour.received)


def test_an_empty_batch_asks_nothing(server: tuple[str, Behaviour]) -> None:
    url, behaviour = server
    assert _classify(TriageEndpoint(url=url), []) == []
    assert behaviour.received == []


@pytest.mark.parametrize(
    ("change", "error", "says"),
    [
        ({"status": 500}, UpstreamUnavailable, "500"),
        ({"status": 503}, UpstreamUnavailable, "503"),
        ({"status": 401}, UpstreamRejected, "401"),
        ({"status": 429, "headers": {"Retry-After": "7"}}, UpstreamRateLimited, "429"),
        ({"raw": b"<html>proxy error</html>"}, UpstreamBadResponse, "not JSON"),
        ({"answer": {"severity": "low"}}, UpstreamBadResponse, "wanted a list of 2 verdicts, got dict"),
        ({"answer": [{"severity": "low", "category": "billing"}]}, UpstreamBadResponse, "got 1 items"),
        ({"answer": [{"severity": "low"}, {"severity": "low"}]}, UpstreamBadResponse, "verdict 0"),
        ({"answer": [{"severity": "low", "category": "x", "tags": "vip"}] * 2}, UpstreamBadResponse, "tags"),
        ({"answer": [{"severity": 3, "category": "x"}] * 2}, UpstreamBadResponse, "non-empty strings"),
    ],
)
def test_failures_are_typed_upstream_errors(
    server: tuple[str, Behaviour], change: dict[str, Any], error: type[SourceError], says: str
) -> None:
    url, behaviour = server
    for name, value in change.items():
        setattr(behaviour, name, value)
    with pytest.raises(error, match=says) as caught:
        _classify(TriageEndpoint(url=url), [("a", "b"), ("c", "d")])
    assert caught.value.source == "triage"
    if isinstance(caught.value, UpstreamRateLimited):
        assert caught.value.retry_after == 7.0


def test_a_slow_endpoint_times_out(server: tuple[str, Behaviour]) -> None:
    url, behaviour = server
    behaviour.delay_s = 1.0
    with pytest.raises(UpstreamTimeout, match=r"within 0\.2 s"):
        _classify(TriageEndpoint(url=url, timeout_s=0.2), [("a", "b")])


def test_an_endpoint_nobody_listens_on_is_unreachable() -> None:
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = closed.server_address[1]
    closed.server_close()
    with pytest.raises(UpstreamUnreachable, match="cannot connect"):
        _classify(TriageEndpoint(url=f"http://127.0.0.1:{port}/classify"), [("a", "b")])
