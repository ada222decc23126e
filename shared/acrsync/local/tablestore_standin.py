"""Entry point for the Tablestore stand-in; the implementation lives in ``acrsync.local.tablestore``."""

from __future__ import annotations

from acrsync.local.tablestore.server import TablestoreStandIn

__all__ = ["TablestoreStandIn"]
