"""How a REST source signs its calls: none, a bearer token, basic auth, an API key, OAuth2 client credentials.

OAuth2 (client credentials grant, RFC 6749 section 4.4) is an ``httpx.Auth`` flow: the token is asked for
before the first call, asked for again ``refresh_margin_s`` before it expires, and once more when a call is
answered 401 (the token was revoked or the clocks disagree), after which that call is sent again once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Mapping
from typing import Annotated, Any, Literal

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field

from crmgraph.errors import UpstreamBadResponse, UpstreamRejected


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoAuth(_Strict):
    type: Literal["none"] = "none"


class BearerAuth(_Strict):
    type: Literal["bearer"]
    token: str = Field(min_length=1)


class BasicAuth(_Strict):
    type: Literal["basic"]
    username: str = Field(min_length=1)
    password: str


class ApiKeyAuth(_Strict):
    type: Literal["api_key"]
    name: str = Field(min_length=1)  # the header or query parameter
    value: str = Field(min_length=1)
    where: Literal["header", "query"] = Field("header", alias="in")


class OAuth2Auth(_Strict):
    type: Literal["oauth2"]
    token_url: str = Field(pattern=r"^https?://")
    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1)
    scope: str | None = None
    refresh_margin_s: float = Field(30.0, ge=0)  # asked again this long before the token expires


AuthSpec = Annotated[NoAuth | BearerAuth | BasicAuth | ApiKeyAuth | OAuth2Auth, Field(discriminator="type")]


class ClientCredentials(httpx.Auth):
    """The OAuth2 client-credentials flow of one source; one token shared by its concurrent calls."""

    def __init__(self, source: str, spec: OAuth2Auth) -> None:
        self.source = source
        self.spec = spec
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    def _token_request(self) -> httpx.Request:
        form = {"grant_type": "client_credentials", "client_id": self.spec.client_id}
        form |= {"client_secret": self.spec.client_secret} | ({"scope": self.spec.scope} if self.spec.scope else {})
        return httpx.Request("POST", self.spec.token_url, data=form, headers={"Accept": "application/json"})

    def _store(self, response: httpx.Response) -> None:
        if response.status_code >= 400:
            raise UpstreamRejected(self.source, f"the token endpoint refused the credentials ({response.status_code})")
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            body = None
        token = body.get("access_token") if isinstance(body, Mapping) else None
        if not isinstance(token, str) or not token:
            raise UpstreamBadResponse(self.source, "the token endpoint answered without an access_token")
        lifetime = body.get("expires_in") if isinstance(body, Mapping) else None
        seconds = float(str(lifetime)) if isinstance(lifetime, int | float) or str(lifetime).isdigit() else 3600.0
        self._token = token
        self._expires_at = time.monotonic() + seconds - self.spec.refresh_margin_s

    def _fresh(self) -> bool:
        return self._token is not None and time.monotonic() < self._expires_at

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if not self._fresh():
            async with self._lock:
                if not self._fresh():  # another call may have renewed it while this one waited
                    self._store((yield self._token_request()))
        sent_with = self._token
        request.headers["Authorization"] = f"Bearer {sent_with}"
        response = yield request
        if response.status_code != 401:
            return
        async with self._lock:
            if self._token == sent_with:  # not renewed meanwhile by another call's 401
                self._store((yield self._token_request()))
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


def prepared(source: str, spec: NoAuth | BearerAuth | BasicAuth | ApiKeyAuth | OAuth2Auth) -> tuple[
    httpx.Auth | None, dict[str, str], dict[str, Any]
]:  # fmt: skip
    """The auth flow, the headers and the query parameters every call of the source carries."""
    if isinstance(spec, BearerAuth):
        return None, {"Authorization": f"Bearer {spec.token}"}, {}
    if isinstance(spec, BasicAuth):
        return httpx.BasicAuth(spec.username, spec.password), {}, {}
    if isinstance(spec, ApiKeyAuth):
        return (None, {spec.name: spec.value}, {}) if spec.where == "header" else (None, {}, {spec.name: spec.value})
    if isinstance(spec, OAuth2Auth):
        return ClientCredentials(source, spec), {}, {}
    return None, {}, {}
