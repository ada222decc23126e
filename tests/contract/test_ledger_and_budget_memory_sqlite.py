"""Ledger and BudgetStore contracts on the in-memory fakes and the SQLite backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from acrsync.adapters.memory import MemoryBudgetStore, MemoryLedger
from acrsync.adapters.sqlite_store import SqliteBudgetStore, SqliteDatabase, SqliteLedger
from acrsync.domain.ledger import State
from acrsync.ports import EVENTS_NOTE_EVERY_S, BudgetStore, Ledger
from tests.contract.budget_contract import BudgetContract
from tests.contract.ledger_batch_contract import LedgerBatchContract
from tests.contract.ledger_contract import LedgerContract, make_entry


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


class TestMemoryLedgerBatches(LedgerBatchContract):
    @pytest.fixture
    def ledger(self) -> Ledger:
        return MemoryLedger()


class TestSqliteLedgerBatches(LedgerBatchContract):
    @pytest.fixture
    def ledger(self, tmp_path: Path) -> Ledger:
        return SqliteLedger(SqliteDatabase.create(tmp_path / "acrsync.db"))

    def test_a_batch_is_one_transaction(self, tmp_path: Path) -> None:
        # GIVEN a SQLite ledger counting its transactions and queries
        db = SqliteDatabase.create(tmp_path / "acrsync.db")
        ledger = SqliteLedger(db)
        entries = [make_entry(f"k{i}") for i in range(10)]
        before = db.calls
        # WHEN ten rows are claimed, then updated, in batches
        ledger.claim_many(entries)
        ledger.update_many(
            [(e.moved_to(State.SUBMITTED, 2.0, task_id=f"t{i}"), 1) for i, e in enumerate(entries)]
        )
        # THEN each batch was one round trip
        assert db.calls - before == 2


def test_memory_and_sqlite_keep_event_marks(tmp_path: Path) -> None:
    for ledger in (MemoryLedger(), SqliteLedger(SqliteDatabase.create(tmp_path / "marks.db"))):
        ledger.note_events("cri-a", 100.0)
        ledger.note_events("cri-a", 130.0)  # within EVENTS_NOTE_EVERY_S of the last: coalesced
        ledger.note_events("cri-a", 100.0 + EVENTS_NOTE_EVERY_S)
        assert ledger.events_seen() == {"cri-a": 100.0 + EVENTS_NOTE_EVERY_S}
