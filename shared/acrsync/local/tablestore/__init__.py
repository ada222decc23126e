"""A loopback Tablestore stand-in that the real ``tablestore`` SDK talks to (reference §5.4)."""

from __future__ import annotations

from acrsync.local.tablestore.server import TablestoreStandIn

__all__ = ["TablestoreStandIn"]
