"""The one error tree of crmgraph.

::

    CrmgraphError                    base of everything crmgraph raises on purpose
    ├── ConfigError                  the configuration is wrong: ``path`` names the offending key
    ├── ClientError                  the caller's mistake (bad id, bad cursor, unsupported filter): shown as is
    ├── AdapterContractError         an adapter broke the SDK contract (a bug in the adapter): masked
    └── SourceError                  a legacy system failed; ``source`` and ``code`` say which and how
        ├── UpstreamUnavailable      UPSTREAM_UNAVAILABLE   refused, reset, 5xx
        ├── UpstreamTimeout          UPSTREAM_TIMEOUT       no answer in time
        ├── UpstreamRateLimited      UPSTREAM_RATE_LIMITED  429; ``retry_after`` seconds if it said
        ├── UpstreamBadResponse      UPSTREAM_BAD_RESPONSE  an answer that cannot be understood
        └── UpstreamRejected         UPSTREAM_REJECTED      4xx: credentials or configuration

A ``SourceError`` is shown to GraphQL clients with ``extensions {code, source, retryable}``; it nulls
only the fields that source backs. Anything not in this tree is unexpected and is masked.
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


class AdapterContractError(CrmgraphError):
    """An adapter answered in a way the SDK contract forbids (wrong number of results, unknown path)."""


class SourceError(CrmgraphError):
    code = "UPSTREAM_ERROR"
    retryable = True

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message

    @property
    def extensions(self) -> dict[str, object]:
        """What a GraphQL client sees in ``errors[].extensions`` (graphql-core copies this dict)."""
        return {"code": self.code, "source": self.source, "retryable": self.retryable}


class UpstreamUnavailable(SourceError):
    code = "UPSTREAM_UNAVAILABLE"


class UpstreamTimeout(SourceError):
    code = "UPSTREAM_TIMEOUT"


class UpstreamRateLimited(SourceError):
    code = "UPSTREAM_RATE_LIMITED"

    def __init__(self, source: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(source, message)
        self.retry_after = retry_after

    @property
    def extensions(self) -> dict[str, object]:
        return super().extensions | {"retryAfter": self.retry_after}


class UpstreamBadResponse(SourceError):
    code = "UPSTREAM_BAD_RESPONSE"


class UpstreamRejected(SourceError):
    code = "UPSTREAM_REJECTED"
    retryable = False
