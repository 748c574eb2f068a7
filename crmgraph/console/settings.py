"""The ``console:`` section of the configuration (docs/console.md).

console:
  enabled: true          # the console at /
  demo_sign_in: false    # list the demo roles on the sign-in page and issue their development tokens
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ConsoleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Serve the console (dashboard, customer 360, queues) at /.")
    demo_sign_in: bool = Field(
        False,
        description="The sign-in page lists the demo's roles and the console issues their development tokens "
        "(signed with the key beside auth.jwt.jwks_file). For the demo only: refused in production mode.",
    )
