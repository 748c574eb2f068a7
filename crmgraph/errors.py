"""The one error tree of crmgraph.

::

    CrmgraphError                    base of everything crmgraph raises on purpose
    ├── ConfigError                  the configuration is wrong: ``path`` names the offending key
    ├── ClientError                  the caller's mistake (bad id, bad cursor, unsupported filter): shown as is
    │   ├── Forbidden                FORBIDDEN: the principal's roles do not allow it
    │   └── DeadlineExceeded         DEADLINE_EXCEEDED: the request's deadline passed while building the answer
    ├── AdapterContractError         an adapter broke the SDK contract (a bug in the adapter): masked
    ├── TriageFileError              a triage model file that cannot be used (``path``; crmgraph.workflows.triage)
    └── SourceError                  a legacy system failed; ``source`` and ``code`` say which and how
        ├── UpstreamUnavailable      UPSTREAM_UNAVAILABLE   refused, reset, 5xx
        ├── UpstreamTimeout          UPSTREAM_TIMEOUT       no answer in time
        ├── UpstreamRateLimited      UPSTREAM_RATE_LIMITED  429; ``retry_after`` seconds if it said
        ├── UpstreamBadResponse      UPSTREAM_BAD_RESPONSE  an answer that cannot be understood
        ├── UpstreamOutcomeUnknown   UPSTREAM_OUTCOME_UNKNOWN  a write sent, its outcome not known
        └── UpstreamRejected         UPSTREAM_REJECTED      4xx: credentials or configuration

A ``SourceError`` is shown to GraphQL clients with ``extensions {code, source, retryable}`` and its
``public_message`` (the source and what happened, never the upstream's own words: a 500's text or a proxy's
HTML page may hold its internals); its ``message`` (what the upstream said, what was asked) goes to the log
with the request id. It nulls only the fields that source backs. Anything not in this tree is unexpected
and is masked.
"""

from __future__ import annotations


class CrmgraphError(Exception):
    """Base of the errors crmgraph raises on purpose."""


class ConfigError(CrmgraphError):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


class ClientError(CrmgraphError):
    """The request is wrong; the message says what to change."""

    code = "BAD_USER_INPUT"

    @property
    def extensions(self) -> dict[str, object]:
        return {"code": self.code}


class Forbidden(ClientError):
    """The principal's roles do not allow what was asked (a field a role may not read, a mutation, ...)."""

    code = "FORBIDDEN"


class DeadlineExceeded(ClientError):
    """The request's deadline (``server.deadline_s``) passed before this part of the answer was built."""

    code = "DEADLINE_EXCEEDED"

    def __init__(self) -> None:
        super().__init__("the request's deadline (server.deadline_s) passed before this part of the answer was "
                         "built; ask for less (smaller pages, fewer nested lists)")  # fmt: skip


class AdapterContractError(CrmgraphError):
    """An adapter answered in a way the SDK contract forbids (wrong number of results, unknown path)."""


class SourceError(CrmgraphError):
    code = "UPSTREAM_ERROR"
    retryable = True
    happened = "failed"  # what a client reads after the source's name

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message  # for the log: may quote the upstream, which a client must not read

    @property
    def public_message(self) -> str:
        """What a GraphQL client reads: which source, and what happened to it, in crmgraph's words only."""
        return f"{self.source} {self.happened}"

    @property
    def extensions(self) -> dict[str, object]:
        """What a GraphQL client sees in ``errors[].extensions`` (graphql-core copies this dict)."""
        return {"code": self.code, "source": self.source, "retryable": self.retryable}


class UpstreamUnavailable(SourceError):
    code = "UPSTREAM_UNAVAILABLE"
    happened = "is unavailable"


class UpstreamUnreachable(UpstreamUnavailable):
    """No connection could be made: nothing was sent (a write can be tried again safely)."""


class UpstreamTimeout(SourceError):
    code = "UPSTREAM_TIMEOUT"
    happened = "did not answer in time"


class UpstreamRateLimited(SourceError):
    code = "UPSTREAM_RATE_LIMITED"
    happened = "is limiting the rate of requests"

    def __init__(self, source: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(source, message)
        self.retry_after = retry_after

    @property
    def extensions(self) -> dict[str, object]:
        return super().extensions | {"retryAfter": self.retry_after}


class UpstreamBadResponse(SourceError):
    code = "UPSTREAM_BAD_RESPONSE"
    happened = "gave an answer that cannot be read"


class UpstreamBudgetExceeded(SourceError):
    """The request had spent its budget of upstream calls (``server.max_upstream_calls``): not asked."""

    code = "UPSTREAM_BUDGET_EXCEEDED"
    retryable = False
    happened = "was not asked: the request spent its budget of upstream calls"


class UpstreamOutcomeUnknown(SourceError):
    """A write was sent and no answer says whether the system applied it (a timeout, a dropped connection,
    a 5xx): it is not sent again blindly; the idempotency record reconciles it."""

    code = "UPSTREAM_OUTCOME_UNKNOWN"
    retryable = False


class UpstreamRejected(SourceError):
    code = "UPSTREAM_REJECTED"
    retryable = False
    happened = "refused the request (its credentials or the source's configuration)"
