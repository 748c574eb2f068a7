"""The HTTP hook: a deployment's own classifier (a language model, a hosted service) behind an endpoint,
offered through the same :class:`TicketClassifier` interface as the trained model.

The contract: ``POST url`` with ``{"tickets": [{"subject": ..., "text": ...}, ...]}``; the answer is 200
with a JSON array holding one ``{"severity", "category", "tags", "confidence"}`` per ticket, in order
(``tags`` and ``confidence`` may be left out). Batches larger than ``max_batch`` are split. Failures are
the upstream errors of :mod:`crmgraph.errors`, with ``source`` ``triage``.
"""

from __future__ import annotations

from typing import Any

import httpx

from crmgraph.errors import (
    UpstreamBadResponse,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
    UpstreamUnreachable,
)
from crmgraph.workflows.triage.settings import TriageEndpoint
from crmgraph.workflows.triage.verdict import Triage

SOURCE = "triage"


class HttpClassifier:
    def __init__(self, endpoint: TriageEndpoint, client: httpx.AsyncClient | None = None) -> None:
        self.endpoint = endpoint
        self._client = client or httpx.AsyncClient(timeout=endpoint.timeout_s, headers=endpoint.headers)
        self.name = f"http:{httpx.URL(endpoint.url).host}"

    async def aclose(self) -> None:
        await self._client.aclose()

    async def classify(self, tickets: list[tuple[str, str]]) -> list[Triage]:
        verdicts: list[Triage] = []
        size = self.endpoint.max_batch
        for start in range(0, len(tickets), size):
            verdicts.extend(await self._batch(tickets[start : start + size]))
        return verdicts

    async def _batch(self, tickets: list[tuple[str, str]]) -> list[Triage]:
        body = {"tickets": [{"subject": subject, "text": text} for subject, text in tickets]}
        url = self.endpoint.url
        try:
            response = await self._client.post(url, json=body)
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(SOURCE, f"POST {url}: no answer within {self.endpoint.timeout_s} s") from exc
        except httpx.ConnectError as exc:
            raise UpstreamUnreachable(SOURCE, f"POST {url}: cannot connect ({exc})") from exc
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(SOURCE, f"POST {url}: {type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if status == 429:
            raise UpstreamRateLimited(SOURCE, f"POST {url}: 429", _retry_after(response.headers.get("Retry-After")))
        if status >= 500:
            raise UpstreamUnavailable(SOURCE, f"POST {url}: {status} {response.text[:200]}")
        if status >= 400:
            raise UpstreamRejected(SOURCE, f"POST {url}: {status} {response.text[:200]}")
        try:
            answer = response.json()
        except ValueError as exc:
            raise UpstreamBadResponse(SOURCE, f"POST {url}: the answer is not JSON") from exc
        if not isinstance(answer, list) or len(answer) != len(tickets):
            got = f"{len(answer)} items" if isinstance(answer, list) else type(answer).__name__
            raise UpstreamBadResponse(SOURCE, f"POST {url}: wanted a list of {len(tickets)} verdicts, got {got}")
        return [self._verdict(url, n, item) for n, item in enumerate(answer)]

    def _verdict(self, url: str, n: int, item: Any) -> Triage:
        try:
            severity, category = item["severity"], item["category"]
            tags = item.get("tags") or []
            confidence = float(item.get("confidence", 1.0))
            if not (isinstance(severity, str) and isinstance(category, str) and severity and category):
                raise TypeError("severity and category must be non-empty strings")
            if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
                raise TypeError("tags must be a list of strings")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UpstreamBadResponse(SOURCE, f"POST {url}: verdict {n} cannot be read ({exc})") from exc
        return Triage(severity, category, tuple(tags), confidence, self.name)


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
