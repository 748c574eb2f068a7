"""The ``sql`` adapter: any SQL database, mapped table by table in the configuration (see docs/adapters.md)."""

from crmgraph.adapters.sql.adapter import JOINED_ROW_LIMIT, MAX_BATCH, SqlAdapter

__all__ = ["JOINED_ROW_LIMIT", "MAX_BATCH", "SqlAdapter"]
