"""The audit trail: who read or changed what, kept append-only and hash-chained in the store.

Events are buffered in memory and written in batches by :class:`AuditWriter`, never one write per field
on the request path; :meth:`AuditWriter.close` writes what is left, so a clean shutdown loses nothing.
Each writer keeps a chain of its own (several instances can share one store): every row holds its
position in the chain and the hash of the row before it, and its own hash covers both and all of its
content. :func:`verify` finds an edited row (its hash no longer matches), a deleted one (a gap in the
positions) and a forged one (a link that does not hold). Pruning by the retention rule removes whole
heads of chains, which verification accepts: a chain may start at any position, never skip one.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from crmgraph.audit.events import AuditEvent

if TYPE_CHECKING:
    from crmgraph.audit.store import AuditStore, Problem, verify
    from crmgraph.audit.writer import AuditWriter

# The store and the writer pull in SQLAlchemy: imported when first asked for (the configuration reads
# crmgraph.audit.settings, and the command line should start without them).
_LAZY = {"AuditStore": "store", "Problem": "store", "verify": "store", "AuditWriter": "writer"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"crmgraph.audit.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["AuditEvent", "AuditStore", "AuditWriter", "Problem", "verify"]
