"""Caching source records across requests: read-through, per-entity TTLs, memory or Redis."""
