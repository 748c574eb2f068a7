"""``extensions.stale``: which answers came from the stale cache because their source failed.

Every response says so, explain or not: a client showing data must be able to say how old it is.
"""

from __future__ import annotations

from typing import Any

from strawberry.extensions import SchemaExtension


class StaleMarker(SchemaExtension):
    def get_results(self) -> dict[str, Any]:
        loaders = getattr(self.execution_context.context, "loaders", None)
        served = loaders.stale.served if loaders is not None else []
        if not served:
            return {}
        return {
            "stale": [
                {"source": s.source, "entity": s.entity, "key": s.key, "ageSeconds": s.age_s, "because": s.error_code}
                for s in served
            ]
        }
