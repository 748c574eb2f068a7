"""Who may read the operator endpoints' details (``/metrics``, ``/readyz``'s per-source report).

Metrics and readiness details name the systems behind the facade, their errors and paths: for the
addresses the operators' scrapers and probes come from (``server.operators.addresses``, CIDR blocks,
loopback by default), or for a principal with one of ``server.operators.roles`` (its credentials sent as
to ``/graphql``). Anyone else gets ``/readyz``'s status alone (still 200 or 503, which is all a load
balancer needs) and a 403 from ``/metrics``. ``/healthz`` says only that the process is alive, and is open.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.requests import Request

from crmgraph.policy.authenticate import Authenticator
from crmgraph.policy.principal import Unauthenticated

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class OperatorAccess:
    def __init__(self, addresses: Iterable[str], roles: Iterable[str], authenticator: Authenticator | None) -> None:
        self.networks: tuple[Network, ...] = tuple(ipaddress.ip_network(block, strict=False) for block in addresses)
        self.roles = frozenset(roles)
        self.authenticator = authenticator

    def allowed(self, request: Request) -> bool:
        return self._from_allowed_address(request) or self._has_operator_role(request)

    def _from_allowed_address(self, request: Request) -> bool:
        if request.client is None or not self.networks:
            return False
        try:
            address = ipaddress.ip_address(request.client.host)
        except ValueError:  # a unix socket's path, a test client's name
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)

    def _has_operator_role(self, request: Request) -> bool:
        if not self.roles or self.authenticator is None:
            return False
        headers = request.headers
        if not (headers.get("authorization") or headers.get("x-api-key")):
            return False  # an anonymous role never makes an operator
        try:
            principal = self.authenticator.principal(headers)
        except Unauthenticated:
            return False
        return principal.has_role(*self.roles)
