"""Webhook signatures, checked the way each product documents them, with the age of the signature bounded.

- HubSpot, signature v3: ``X-HubSpot-Signature-v3`` is base64(HMAC-SHA256(secret, method + uri + body +
  timestamp)) with ``X-HubSpot-Request-Timestamp`` in epoch milliseconds; HubSpot tells receivers to refuse
  a timestamp older than five minutes.
- Zendesk: ``X-Zendesk-Webhook-Signature`` is base64(HMAC-SHA256(secret, timestamp + body)) with
  ``X-Zendesk-Webhook-Signature-Timestamp`` in ISO 8601.
- Mautic: ``Webhook-Signature`` is base64(HMAC-SHA256(secret, body)); the body's ``timestamp`` (ISO 8601)
  is when it was sent, and is covered by the signature.

A signature too old (or too far in the future) is refused as stale even when it is right: a captured
delivery cannot be replayed later. Within the window, replays are caught by the delivery's id
(:mod:`crmgraph.events.deliveries`). Signatures are compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime

import orjson

MAX_AGE_S = 300.0  # HubSpot's five minutes, for both


class BadSignature(Exception):
    """Why a delivery was refused: missing, malformed, stale or wrong."""


def _hmac_b64(secret: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if not value:
        raise BadSignature(f"no {name} header: an unsigned delivery")
    return value


def _fresh(sent: datetime, now: datetime, max_age_s: float) -> None:
    age = (now - sent).total_seconds()
    if abs(age) > max_age_s:
        raise BadSignature(f"the signature's timestamp is {age:.0f} s old; at most {max_age_s:.0f} s is accepted")


def check_hubspot(
    secret: str, method: str, url: str, body: bytes, headers: Mapping[str, str], now: datetime | None = None,
    max_age_s: float = MAX_AGE_S,
) -> None:  # fmt: skip
    signature = _header(headers, "x-hubspot-signature-v3")
    stamp = _header(headers, "x-hubspot-request-timestamp")
    try:
        sent = datetime.fromtimestamp(int(stamp) / 1000, UTC)
    except (ValueError, OverflowError, OSError):
        raise BadSignature(f"X-HubSpot-Request-Timestamp is not epoch milliseconds: {stamp[:40]!r}") from None
    _fresh(sent, now or datetime.now(UTC), max_age_s)
    expected = _hmac_b64(secret, method.encode() + url.encode() + body + stamp.encode())
    if not hmac.compare_digest(expected, signature):
        raise BadSignature("X-HubSpot-Signature-v3 does not match the body (wrong secret, or changed on the way)")


def check_zendesk(
    secret: str, body: bytes, headers: Mapping[str, str], now: datetime | None = None, max_age_s: float = MAX_AGE_S
) -> None:
    signature = _header(headers, "x-zendesk-webhook-signature")
    stamp = _header(headers, "x-zendesk-webhook-signature-timestamp")
    try:
        sent = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        raise BadSignature(f"X-Zendesk-Webhook-Signature-Timestamp is not ISO 8601: {stamp[:40]!r}") from None
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=UTC)
    _fresh(sent, now or datetime.now(UTC), max_age_s)
    if not hmac.compare_digest(_hmac_b64(secret, stamp.encode() + body), signature):
        raise BadSignature("X-Zendesk-Webhook-Signature does not match the body (wrong secret, or changed on the way)")


def check_mautic(
    secret: str, body: bytes, headers: Mapping[str, str], now: datetime | None = None, max_age_s: float = MAX_AGE_S
) -> None:
    signature = _header(headers, "webhook-signature")
    if not hmac.compare_digest(_hmac_b64(secret, body), signature):
        raise BadSignature("Webhook-Signature does not match the body (wrong secret, or changed on the way)")
    try:
        stamp = orjson.loads(body).get("timestamp")
        sent = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except (orjson.JSONDecodeError, AttributeError, ValueError):
        raise BadSignature("the body's timestamp is missing or not ISO 8601: a Mautic delivery carries one") from None
    _fresh(sent if sent.tzinfo else sent.replace(tzinfo=UTC), now or datetime.now(UTC), max_age_s)
