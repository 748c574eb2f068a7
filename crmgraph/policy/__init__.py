"""What a request may do: who asks (principals), what each role may read (roles, masking), and what one
GraphQL document may cost (query limits: :mod:`~crmgraph.policy.limits`)."""

from __future__ import annotations

from crmgraph.policy.cost import LimitExceeded, measure_operation
from crmgraph.policy.limit_settings import QueryLimits
from crmgraph.policy.limits import QueryLimiter

__all__ = ["LimitExceeded", "QueryLimiter", "QueryLimits", "measure_operation"]
