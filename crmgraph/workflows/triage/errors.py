"""What triage raises on purpose: a model file or a labels file that cannot be used.

::

    CrmgraphError
    ├── ConfigError
    ├── TriageFileError        a model or labels file is missing, corrupt, of another version, or does not
    │                          match the tickets: ``path`` names it, the message says what to do
    └── SourceError            the HTTP classifier failed (``source`` is ``triage``): UpstreamTimeout,
                               UpstreamUnreachable, UpstreamUnavailable, UpstreamRateLimited,
                               UpstreamRejected, UpstreamBadResponse, as for any other upstream
"""

from __future__ import annotations

from pathlib import Path

from crmgraph.errors import CrmgraphError


class TriageFileError(CrmgraphError):
    def __init__(self, path: Path | str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = Path(path)
        self.message = message
