"""Ledger and BudgetStore contracts on the in-memory fakes and the SQLite backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from acrsync.adapters.memory import MemoryBudgetStore, MemoryLedger
from acrsync.adapters.sqlite_store import SqliteBudgetStore, SqliteDatabase, SqliteLedger
from acrsync.ports import BudgetStore, Ledger
from tests.contract.budget_contract import BudgetContract
from tests.contract.ledger_contract import LedgerContract


class TestMemoryLedger(LedgerContract):
    @pytest.fixture
    def ledger(self) -> Ledger:
        return MemoryLedger()


class TestSqliteLedger(LedgerContract):
    @pytest.fixture
    def ledger(self, tmp_path: Path) -> Ledger:
        return SqliteLedger(SqliteDatabase.create(tmp_path / "acrsync.db"))


class TestMemoryBudget(BudgetContract):
    @pytest.fixture
    def budget(self) -> BudgetStore:
        return MemoryBudgetStore()


class TestSqliteBudget(BudgetContract):
    @pytest.fixture
    def budget(self, tmp_path: Path) -> BudgetStore:
        return SqliteBudgetStore(SqliteDatabase.create(tmp_path / "acrsync.db"))
