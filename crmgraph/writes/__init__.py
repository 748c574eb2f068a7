"""Writes to the systems of record: idempotency records, the routing of a write to the system that owns
it, and the cache entries a write makes stale."""
