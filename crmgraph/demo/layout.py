"""Where a seeded estate lives on disk, and the credentials its systems accept."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = Path("var/demo")


@dataclass(frozen=True)
class EstateLayout:
    """The files of one seeded estate, all under one directory."""

    root: Path

    @property
    def crm_db(self) -> Path:
        return self.root / "crm.sqlite"

    @property
    def tickets_db(self) -> Path:
        return self.root / "tickets.sqlite"

    @property
    def marketing_db(self) -> Path:
        return self.root / "marketing.sqlite"

    @property
    def erp_db(self) -> Path:
        return self.root / "erp.sqlite"

    @property
    def erp_url(self) -> str:
        return f"sqlite:///{self.erp_db.resolve()}"

    @property
    def ground_truth(self) -> Path:
        return self.root / "ground_truth.csv"

    @property
    def ticket_labels(self) -> Path:
        """What each seeded ticket truly is (severity, category, tags, language): triage's training data."""
        return self.root / "tickets_labels.csv"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"


@dataclass(frozen=True)
class EstateCredentials:
    """What the simulated systems accept: a HubSpot private-app token, a Zendesk API token and a Mautic
    user's basic-auth name and password."""

    crm_token: str = "demo-crm-token"
    zendesk_email: str = "api@demo.crmgraph.test"
    zendesk_token: str = "demo-zendesk-token"
    marketing_user: str = "crmgraph"
    marketing_password: str = "demo-marketing-password"

    @property
    def zendesk_basic(self) -> str:
        """The ``Authorization`` header value Zendesk expects: basic auth of ``email/token:apikey``."""
        raw = f"{self.zendesk_email}/token:{self.zendesk_token}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    @property
    def marketing_basic(self) -> str:
        """The ``Authorization`` header value Mautic's basic auth expects: ``user:password``."""
        raw = f"{self.marketing_user}:{self.marketing_password}".encode()
        return "Basic " + base64.b64encode(raw).decode()
