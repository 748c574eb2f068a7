"""The adapter SDK: everything a plugin author needs to connect crmgraph to another system.

This is crmgraph's stable public surface for plugins (a test locks ``__all__``). See docs/adapters.md.
"""

from __future__ import annotations

from crmgraph.adapters.sdk.base import AccessPath, Adapter, FetchResult, RelatedResult
from crmgraph.adapters.sdk.budget import RateLimit
from crmgraph.adapters.sdk.calls import CallLog, UpstreamCall, expected_related, shared_in_request, upstream_call
from crmgraph.adapters.sdk.http import HttpSource, expect
from crmgraph.adapters.sdk.registry import ENTRY_POINT_GROUP, InstalledAdapter, adapter_class, installed_adapters
from crmgraph.errors import (
    SourceError,
    UpstreamBadResponse,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "AccessPath",
    "Adapter",
    "CallLog",
    "FetchResult",
    "HttpSource",
    "InstalledAdapter",
    "RateLimit",
    "RelatedResult",
    "SourceError",
    "UpstreamBadResponse",
    "UpstreamCall",
    "UpstreamRateLimited",
    "UpstreamRejected",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "adapter_class",
    "expect",
    "expected_related",
    "installed_adapters",
    "shared_in_request",
    "upstream_call",
]
