"""How the imitated products sign and shape their webhook requests.

- HubSpot (signature v3): ``X-HubSpot-Signature-v3`` is the base64 HMAC-SHA256, keyed with the app's client
  secret, of ``method + uri + body + timestamp``, where the timestamp is the value of
  ``X-HubSpot-Request-Timestamp`` (milliseconds since the epoch) and the uri the full URL called. The body is
  a JSON array of up to 100 events.
- Zendesk: ``X-Zendesk-Webhook-Signature`` is the base64 HMAC-SHA256, keyed with the webhook's signing
  secret, of ``timestamp + body``, where the timestamp is ``X-Zendesk-Webhook-Signature-Timestamp``
  (ISO 8601, whole seconds, UTC). One event per request.

- Mautic: ``Webhook-Signature`` is the base64 HMAC-SHA256, keyed with the webhook's secret, of the body. The
  body groups the events by type (``{"mautic.lead_post_save_new": [{"contact": ..., "timestamp": ...}],
  "timestamp": ...}``), up to 10 events a request (Mautic's queued mode sends them in batches).

Receivers reject a stale timestamp (HubSpot documents five minutes), so a retry is signed afresh.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from datetime import UTC, datetime

import orjson

from crmgraph.demo.webhooks import Event, Subscription, Wire

HUBSPOT_BATCH = 100  # events per request, as HubSpot sends them


def _hmac_b64(secret: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def hubspot_headers(secret: str, method: str, url: str, body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time() * 1000))
    signed = method.encode() + url.encode() + body + timestamp.encode()
    return {"X-HubSpot-Signature-v3": _hmac_b64(secret, signed), "X-HubSpot-Request-Timestamp": timestamp}


def hubspot_body(events: list[Event], subscription: Subscription, attempt: int) -> bytes:
    # subscriptionId and attemptNumber belong to the delivery, not to the change: filled in per request.
    return orjson.dumps(
        [{**event.payload, "subscriptionId": subscription.id, "attemptNumber": attempt - 1} for event in events]
    )


def zendesk_headers(secret: str, method: str, url: str, body: bytes) -> dict[str, str]:
    timestamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "X-Zendesk-Webhook-Signature": _hmac_b64(secret, timestamp.encode() + body),
        "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
        "X-Zendesk-Webhook-Invocation-Id": str(uuid.uuid4()),
        "User-Agent": "Zendesk Webhook",
    }


def zendesk_body(events: list[Event], subscription: Subscription, attempt: int) -> bytes:
    (event,) = events
    return orjson.dumps(event.payload)


HUBSPOT_WIRE = Wire(HUBSPOT_BATCH, hubspot_body, hubspot_headers)
ZENDESK_WIRE = Wire(1, zendesk_body, zendesk_headers)


MAUTIC_BATCH = 10


def mautic_headers(secret: str, method: str, url: str, body: bytes) -> dict[str, str]:
    return {"Webhook-Signature": _hmac_b64(secret, body)}


def mautic_body(events: list[Event], subscription: Subscription, attempt: int) -> bytes:
    by_kind: dict[str, list[dict[str, object]]] = {}
    for event in events:
        by_kind.setdefault(event.kind, []).append(event.payload)
    return orjson.dumps({**by_kind, "timestamp": datetime.now(UTC).isoformat(timespec="seconds")})


MAUTIC_WIRE = Wire(MAUTIC_BATCH, mautic_body, mautic_headers)
