"""The Tablestore backend: ``RuleStore``, ``Ledger`` and ``BudgetStore`` adapters plus table creation.

Every adapter takes an already-built ``OTSClient`` (``build_ots_client``); the SDK itself is imported lazily
(``import_tablestore``) so importing this module stays cheap. Table design: docs/tables.md.
"""

from __future__ import annotations

from acrsync.adapters.tablestore_budget import TablestoreBudgetStore
from acrsync.adapters.tablestore_client import build_ots_client, create_tables, table_specs
from acrsync.adapters.tablestore_ledger import TablestoreLedger
from acrsync.adapters.tablestore_rules import TablestoreRuleStore

__all__ = [
    "TablestoreBudgetStore",
    "TablestoreLedger",
    "TablestoreRuleStore",
    "build_ots_client",
    "create_tables",
    "table_specs",
]
