"""``StateStore`` contract on memory, SQLite and Tablestore (real SDK against the loopback stand-in)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from acrsync.adapters.sqlite_store import SqliteDatabase
from acrsync.adapters.state_store import MemoryStateStore, SqliteStateStore
from acrsync.adapters.tablestore_state import TablestoreStateStore
from acrsync.ports import StateStore
from tests.contract.state_store_contract import StateStoreContract
from tests.contract.tablestore_conftest_fixtures import ots_client, tablestore_standin, ts_prefix

__all__ = ["ots_client", "tablestore_standin", "ts_prefix"]


class TestMemoryStateStore(StateStoreContract):
    @pytest.fixture
    def state(self) -> StateStore:
        return MemoryStateStore()


class TestSqliteStateStore(StateStoreContract):
    @pytest.fixture
    def state(self, tmp_path: Path) -> StateStore:
        return SqliteStateStore(SqliteDatabase.create(tmp_path / "acrsync.db"))

    def test_given_a_cursor_when_the_database_is_reopened_then_it_is_still_there(
        self, tmp_path: Path
    ) -> None:
        db = SqliteDatabase.create(tmp_path / "x.db")
        SqliteStateStore(db).write("cursor", {"k": "v"}, expected_revision=0)
        assert SqliteStateStore(SqliteDatabase(tmp_path / "x.db")).read("cursor") == ({"k": "v"}, 1)


@pytest.mark.loopback
class TestTablestoreStateStore(StateStoreContract):
    @pytest.fixture
    def state(self, ots_client: Any, ts_prefix: str) -> StateStore:
        return TablestoreStateStore(ots_client, prefix=ts_prefix)
