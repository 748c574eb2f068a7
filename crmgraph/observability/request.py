"""What the facade knows about the HTTP request being served: its id and what it cost.

The middleware opens one :class:`RequestRecord` per request and puts it in a context variable, so the
GraphQL extension can fill in the operation, and anything below can read :func:`request_id`.
"""

from __future__ import annotations

import re
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crmgraph.observability.metrics import Metrics

REQUEST_ID_HEADER = "X-Request-Id"
# An incoming id is kept only if it cannot corrupt a log line or a header: short, printable, no spaces.
_SANE_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


@dataclass
class RequestRecord:
    request_id: str
    method: str
    path: str
    metrics: Metrics | None = None
    started: float = field(default_factory=time.perf_counter)
    operation: str | None = None  # the GraphQL operation name, once known
    outcome: str | None = None  # the GraphQL outcome: ok, partial, error
    upstream_calls: int = 0


current_request: ContextVar[RequestRecord | None] = ContextVar("crmgraph_request", default=None)


def request_id() -> str | None:
    """The id of the request being served, if any."""
    record = current_request.get()
    return record.request_id if record is not None else None


def accept_request_id(incoming: str | None) -> str:
    """The caller's id when it is sane, else a new one."""
    if incoming is not None and _SANE_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex
