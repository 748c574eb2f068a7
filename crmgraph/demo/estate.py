"""Run the simulated CRM, ticket system and marketing system as real HTTP servers on loopback.

The CRM listens on ``port_base + 1``, the ticket system on ``port_base + 2`` and the marketing automation
system (Mautic) on ``port_base + 3``; a ``port_base`` of 0
lets the OS pick free ports, which tests use (the chosen ports are written to the ready file).
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from crmgraph.demo.crm_api import build_crm_api, crm_error
from crmgraph.demo.instruments import instrument
from crmgraph.demo.layout import EstateCredentials, EstateLayout
from crmgraph.demo.marketing_api import build_marketing_api, marketing_error
from crmgraph.demo.ticket_api import build_ticket_api, ticket_error
from crmgraph.demo.webhook_wires import HUBSPOT_WIRE, MAUTIC_WIRE, ZENDESK_WIRE
from crmgraph.demo.webhooks import WebhookHub
from crmgraph.demo.wire import Server


@dataclass(frozen=True)
class RunningEstate:
    crm_url: str
    tickets_url: str
    erp_url: str
    marketing_url: str

    def as_json(self) -> dict[str, str]:
        return {"crm": self.crm_url, "tickets": self.tickets_url, "erp": self.erp_url, "marketing": self.marketing_url}


def _port(port_base: int, offset: int) -> int:
    return 0 if port_base == 0 else port_base + offset


async def serve_estate(
    layout: EstateLayout,
    *,
    host: str = "127.0.0.1",
    port_base: int = 8100,
    credentials: EstateCredentials | None = None,
    ready_file: Path | None = None,
    on_ready: Callable[[RunningEstate], None] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM (or cancellation)."""
    credentials = credentials or EstateCredentials()
    crm_hooks, ticket_hooks = WebhookHub(HUBSPOT_WIRE), WebhookHub(ZENDESK_WIRE)
    marketing_hooks = WebhookHub(MAUTIC_WIRE)
    crm = Server(
        instrument(build_crm_api(layout.crm_db, credentials.crm_token, crm_hooks), "crm", crm_error, crm_hooks),
        host,
        _port(port_base, 1),
    )
    tickets = Server(
        instrument(
            build_ticket_api(layout.tickets_db, credentials.zendesk_email, credentials.zendesk_token, ticket_hooks),
            "tickets",
            ticket_error,
            ticket_hooks,
        ),
        host,
        _port(port_base, 2),
    )
    marketing = Server(
        instrument(
            build_marketing_api(
                layout.marketing_db, credentials.marketing_user, credentials.marketing_password, marketing_hooks
            ),
            "marketing",
            marketing_error,
            marketing_hooks,
        ),
        host,
        _port(port_base, 3),
    )
    await crm.start()
    await tickets.start()
    await marketing.start()
    running = RunningEstate(crm.url, tickets.url, layout.erp_url, marketing.url)
    if ready_file is not None:
        tmp = ready_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(running.as_json()))
        tmp.replace(ready_file)  # atomic: a watcher never reads half a file
    if on_ready is not None:
        on_ready(running)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await crm.close()
        await tickets.close()
        await marketing.close()
        await crm_hooks.close()
        await ticket_hooks.close()
        await marketing_hooks.close()
