"""The configuration: one YAML file, validated, with ``${ENV}`` interpolation for secrets.

Example (the demo's, ``crmgraph/demo/config.yaml``, is the one to copy)::

    sources:                       # order matters: earlier sources win when records disagree
      crm:     {adapter: hubspot, url: "http://127.0.0.1:8101", token: "${CRM_TOKEN}"}
      tickets: {adapter: zendesk, url: "http://127.0.0.1:8102", email: api@example.com, token: "${ZD_TOKEN}"}
      erp:     {adapter: sql, url: "sqlite:///var/demo/erp.sqlite"}
    cache:    {url: "memory://", ttl_s: {default: 60, order: 30}}
    identity: {url: "sqlite:///var/identity.sqlite"}
    server:   {host: 127.0.0.1, port: 8000}

``${NAME}`` is replaced by the environment variable NAME (an error if unset), ``${NAME:-fallback}`` by
its value or the fallback. Every mistake is reported with the dotted path of the key at fault.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ByteSize, ConfigDict, Field, ValidationError, field_validator, model_validator

from crmgraph.analytics.settings import ReportsConfig
from crmgraph.audit.settings import AuditConfig
from crmgraph.console.settings import ConsoleConfig
from crmgraph.errors import ConfigError
from crmgraph.events.feed_settings import FeedsConfig
from crmgraph.events.settings import EventsConfig
from crmgraph.events.webhook_settings import WebhooksConfig
from crmgraph.identity.settings import IdentityConfig
from crmgraph.interpolation import interpolate
from crmgraph.policy.auth_settings import AuthConfig
from crmgraph.policy.limit_settings import QueryLimits
from crmgraph.policy.rate_limit import RateLimitConfig
from crmgraph.policy.roles import PolicyConfig
from crmgraph.policy.trusted_documents import TrustedDocumentsConfig
from crmgraph.workflows.settings import WorkflowsConfig
from crmgraph.writes.settings import WritesConfig


class ConfigErrors(Exception):
    """Every problem found in a configuration, each with its path.

    ``sources`` holds the ``sources:`` section when it was valid on its own although the file as a whole
    was not, so that each source's adapter settings can still be checked and reported in the same run.
    """

    def __init__(self, problems: list[ConfigError], sources: dict[str, SourceConfig] | None = None) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems
        self.sources = sources


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceConfig(BaseModel):
    """One legacy system. ``adapter`` picks the plugin; every other key is that adapter's setting."""

    model_config = ConfigDict(extra="allow")

    adapter: str = Field(description="Adapter kind, as listed by `crmgraph adapters`.")

    def settings(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class CacheConfig(Strict):
    url: str = Field("memory://", description="memory:// (one process) or redis://host:port/db (shared).")
    # rediss:// (TLS) is refused until the aiocache backend can be given a TLS connection pool.
    ttl_s: dict[str, float] = Field(
        default_factory=lambda: {"default": 60.0},
        description="Seconds a cached record stays fresh, per entity (party, order, ticket, ...), and default.",
    )
    stale_s: dict[str, float] = Field(
        default_factory=lambda: {"default": 3600.0},
        description="Seconds an entry is kept after its TTL, per entity and default: served (and marked "
        "stale) only when its source fails.",
    )
    namespace: str = Field("crmgraph", description="Key prefix, so several deployments can share one Redis.")

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if not (url == "memory://" or url.startswith("redis://")):
            raise ValueError("must be memory:// or a redis:// URL")
        return url

    @field_validator("ttl_s")
    @classmethod
    def _positive(cls, ttls: dict[str, float]) -> dict[str, float]:
        for entity, seconds in ttls.items():
            if seconds < 0:
                raise ValueError(f"{entity}: a TTL cannot be negative")
        return {"default": 60.0} | ttls

    @field_validator("stale_s")
    @classmethod
    def _not_negative(cls, windows: dict[str, float]) -> dict[str, float]:
        for entity, seconds in windows.items():
            if seconds < 0:
                raise ValueError(f"{entity}: a stale window cannot be negative")
        return {"default": 3600.0} | windows

    def ttl_for(self, entity: str) -> float:
        return self.ttl_s.get(entity, self.ttl_s["default"])

    def stale_for(self, entity: str) -> float:
        return self.stale_s.get(entity, self.stale_s["default"])


class HttpLimitsConfig(Strict):
    """What the HTTP server accepts before a request reaches the GraphQL engine (``server.http``).

    Sizes take a number of bytes or a unit (``64KiB``, ``1MiB``). A request past a limit is refused with
    a 4xx answer whose JSON body names the part of the request and the limit (docs/security.md).
    """

    max_body_bytes: Annotated[ByteSize, Field(ge=1024, le=1024**3)] = Field(
        ByteSize(1024**2),
        description="The largest request body (413 beyond it, refused from Content-Length before reading).",
    )
    max_head_bytes: Annotated[ByteSize, Field(ge=1024, le=16 * 1024**2)] = Field(
        ByteSize(64 * 1024),
        description="The largest request head: request line (with a GET query) and headers together (431).",
    )
    max_headers: int = Field(100, ge=1, le=10_000, description="The most header fields in one request (431).")
    head_timeout_s: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="Seconds a connection may take to deliver a request's line and headers, counted from "
        "the connection's opening or the request's first byte: slow or silent connections are closed (408).",
    )
    body_timeout_s: float = Field(
        30.0, gt=0, le=3600, description="Seconds a client may take to deliver a request's whole body (408)."
    )
    keep_alive_timeout_s: int = Field(
        5, ge=1, le=3600, description="Seconds an idle keep-alive connection stays open between requests."
    )
    max_json_depth: int = Field(
        32, ge=2, le=512, description="The deepest nesting of objects and lists in `variables` and `extensions`."
    )


class OperatorsConfig(Strict):
    """Who may read ``/metrics`` and ``/readyz``'s details (``server.operators``); others get ``/readyz``'s
    status alone and a 403 from ``/metrics``."""

    addresses: list[str] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128"],
        description="Client addresses (CIDR blocks) of scrapers and probes; loopback by default.",
    )
    roles: list[str] = Field(default_factory=list, description="Roles whose principals may read them from any address.")

    @field_validator("addresses")
    @classmethod
    def _cidr(cls, blocks: list[str]) -> list[str]:
        for block in blocks:
            try:
                ipaddress.ip_network(block, strict=False)
            except ValueError as exc:
                raise ValueError(f"{block!r} is not an address or CIDR block ({exc})") from None
        return blocks


class ServerConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    production: bool = Field(
        False,
        description="Production mode: introspection, GraphiQL and field suggestions off, only trusted "
        "documents (except for roles that may explore), CSRF protection on (docs/security.md).",
    )
    graphiql: bool = Field(True, description="Serve GraphiQL to browsers at /graphql (always off in production).")
    csrf: bool | None = Field(
        None,
        description="Refuse simple requests (GET, form and text/plain POSTs) without a preflight header; "
        "null: on in production mode, off otherwise.",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins (scheme://host[:port]) whose pages may call the facade from a browser; none by default.",
    )
    operators: OperatorsConfig = Field(
        default_factory=OperatorsConfig, description="Who may read /metrics and /readyz's details."
    )
    max_page_size: int = Field(100, ge=1, le=1000, description="The cap on `first` for every connection.")
    deadline_s: float = Field(
        10.0, gt=0, le=600, description="A request's whole time budget: no upstream call waits beyond it."
    )
    max_upstream_calls: int | None = Field(
        1000,
        ge=1,
        le=1_000_000,
        description="Upstream round trips one request may make; past it a source answers "
        "UPSTREAM_BUDGET_EXCEEDED for the rest (null: no limit).",
    )
    http: HttpLimitsConfig = Field(
        default_factory=HttpLimitsConfig, description="Limits on requests and connections (docs/security.md)."
    )


class TracingConfig(Strict):
    """OpenTelemetry tracing: off unless an exporter is named."""

    exporter: Literal["none", "otlp", "console"] = Field(
        "none", description="none (default), otlp (OTLP over HTTP to `endpoint`), or console (stdout)."
    )
    endpoint: str = Field(
        "http://127.0.0.1:4318/v1/traces", description="The OTLP/HTTP traces URL of a collector or backend."
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Headers sent with every export, such as an API key (use ${ENV})."
    )
    service_name: str = Field("crmgraph", min_length=1, description="service.name of the spans.")
    sample_ratio: float = Field(
        1.0, ge=0, le=1, description="Share of traces started here that are kept; a caller's decision wins."
    )


class Config(Strict):
    sources: dict[str, SourceConfig] = Field(min_length=1)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    tracing: TracingConfig = Field(default_factory=TracingConfig)
    limits: QueryLimits = Field(
        default_factory=QueryLimits, description="What one GraphQL document may cost (docs/security.md)."
    )
    auth: AuthConfig = Field(
        default_factory=AuthConfig, description="How a request proves who it is: JWTs, API keys (docs/security.md)."
    )
    policy: PolicyConfig = Field(default_factory=PolicyConfig, description="What each role may see and do.")
    webhooks: WebhooksConfig = Field(
        default_factory=WebhooksConfig, description="Change notifications the systems of record deliver (signed)."
    )
    feeds: FeedsConfig = Field(
        default_factory=FeedsConfig, description="Change feeds polled for change events (systems without webhooks)."
    )
    audit: AuditConfig = Field(
        default_factory=AuditConfig, description="The audit trail: personal-data reads, mutations, denials."
    )
    rate_limit: RateLimitConfig = Field(
        default_factory=RateLimitConfig, description="A token bucket per principal (docs/security.md)."
    )
    events: EventsConfig = Field(
        default_factory=EventsConfig, description="The event bus and subscriptions (docs/realtime.md)."
    )
    trusted_documents: TrustedDocumentsConfig = Field(
        default_factory=TrustedDocumentsConfig, description="The manifest of persisted documents."
    )
    writes: WritesConfig = Field(
        default_factory=WritesConfig, description="Which system owns each golden field (docs/writes.md)."
    )
    workflows: WorkflowsConfig = Field(
        default_factory=WorkflowsConfig,
        description="Lead distribution, ticket triage and routing, automation rules (docs/workflows.md).",
    )
    reports: ReportsConfig = Field(
        default_factory=ReportsConfig,
        description="Reports and the analytic store that serves them (docs/reports.md).",
    )
    console: ConsoleConfig = Field(
        default_factory=ConsoleConfig, description="The console at / and its demo sign-in (docs/console.md)."
    )

    @field_validator("sources")
    @classmethod
    def _names(cls, sources: dict[str, SourceConfig]) -> dict[str, SourceConfig]:
        for name in sources:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ValueError(f"source name {name!r}: use lower-case letters, digits and _")
        return sources

    @model_validator(mode="after")
    def _owners_are_sources(self) -> Config:
        for name, source in self.writes.owners.items():
            if source not in self.sources:
                raise ValueError(f"writes.owners.{name}: {source!r} is not a configured source")
        return self

    @model_validator(mode="after")
    def _no_demo_sign_in_in_production(self) -> Config:
        if self.console.demo_sign_in and self.server.production:
            raise ValueError("console.demo_sign_in: the demo's role tokens are never issued in production mode")
        return self


def _path(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location)


def parse_config(
    text: str, *, environ: dict[str, str] | None = None, origin: str = "config", base_dir: Path | None = None
) -> Config:
    """Validate a configuration; raise :class:`ConfigErrors` listing every problem found.

    A source's ``spec`` (a file its adapter reads, such as a ``rest`` source's API description) is resolved
    against ``base_dir``, the configuration file's directory, so that it may be written relative to it.
    """
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{origin}:{mark.line + 1}:{mark.column + 1}" if mark is not None else origin
        raise ConfigErrors([ConfigError("", f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})")]) from exc
    if not isinstance(raw, dict):
        raise ConfigErrors([ConfigError("", f"{origin}: expected a mapping with a `sources` key at the top")])
    problems: list[ConfigError] = []
    resolved = interpolate(raw, "", problems, dict(os.environ) if environ is None else environ)
    _resolve_spec_files(resolved, base_dir)
    try:
        config = Config.model_validate(resolved)
    except ValidationError as exc:
        problems += [ConfigError(_path(err["loc"]), err["msg"]) for err in exc.errors(include_url=False)]
        sources = _sources_alone(resolved)
        problems += _identity_problems(_section_alone(IdentityConfig, resolved.get("identity", {})), sources)
        raise ConfigErrors(problems, sources) from exc
    problems += _identity_problems(config.identity, config.sources)
    if problems:
        raise ConfigErrors(problems, config.sources)
    return config


def _resolve_spec_files(resolved: dict[str, Any], base_dir: Path | None) -> None:
    sources = resolved.get("sources")
    for source in sources.values() if isinstance(sources, dict) else ():
        spec = source.get("spec") if isinstance(source, dict) else None
        if isinstance(spec, str) and spec and not Path(spec).is_absolute():
            source["spec"] = str((base_dir or Path.cwd()) / spec)


def _section_alone(model: type[IdentityConfig], data: object) -> IdentityConfig | None:
    try:
        return model.model_validate(data)
    except ValidationError:
        return None


def _identity_problems(identity: IdentityConfig | None, sources: dict[str, SourceConfig] | None) -> list[ConfigError]:
    """Rules naming fields the records do not have, survivorship naming sources that are not configured:
    checked once the section's shape is valid."""
    if identity is None:
        return []
    problems = [ConfigError(path, problem) for path, problem in identity.field_problems()]
    if sources is not None:
        for position, name in enumerate(identity.survivorship.source_priority):
            if name not in sources:
                problems.append(
                    ConfigError(
                        f"identity.survivorship.source_priority.{position}",
                        f"no source is named {name!r}; sources: {', '.join(sources)}",
                    )
                )
    return problems


def _sources_alone(resolved: dict[str, Any]) -> dict[str, SourceConfig] | None:
    try:
        return Config.model_validate({"sources": resolved.get("sources")}).sources
    except ValidationError:
        return None


def load_config(path: Path, *, environ: dict[str, str] | None = None) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigErrors([ConfigError("", f"cannot read {path}: {exc.strerror}")]) from exc
    return parse_config(text, environ=environ, origin=str(path), base_dir=path.resolve().parent)
