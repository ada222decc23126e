"""RuleStore contract on the in-memory fake and the SQLite backend, plus SQLite-only behaviour."""

from __future__ import annotations

import multiprocessing
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from acrsync.adapters.memory_rules import MemoryRuleStore
from acrsync.adapters.sqlite_db import SqliteDatabase
from acrsync.adapters.sqlite_rules import SqliteRuleStore
from acrsync.errors import ConflictError
from acrsync.ports import RuleStore
from tests.contract.rule_store_contract import RuleStoreContract, make_rule


class TestMemoryRuleStore(RuleStoreContract):
    @pytest.fixture
    def store(self) -> RuleStore:
        return MemoryRuleStore()


class TestSqliteRuleStore(RuleStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[RuleStore]:
        s = SqliteRuleStore(SqliteDatabase.create(tmp_path / "nested" / "dir" / "acrsync.db"))
        yield s
        s.close()


def test_sqlite_creates_parent_dirs_and_uses_wal_and_one_row_per_rule(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "rules.db"
    store = SqliteRuleStore(str(path))
    store.write(channels={}, upsert=[make_rule("x"), make_rule("y")], delete=[], expected_version=0, now=1.0)
    store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT name FROM rules ORDER BY position").fetchall() == [("x",), ("y",)]
        assert conn.execute("SELECT version FROM rules_meta").fetchall() == [(1,)]
    conn.close()


def test_sqlite_state_survives_reopening(tmp_path: Path) -> None:
    first = SqliteRuleStore(tmp_path / "r.db")
    first.write(channels={}, upsert=[make_rule("x")], delete=[], expected_version=0, now=5.0)
    first.close()
    second = SqliteRuleStore(tmp_path / "r.db")
    assert (second.version(), second.read().rules[0]["name"]) == (1, "x")
    second.close()


def _write_from_process(path: str, name: str, queue: multiprocessing.Queue[str]) -> None:
    store = SqliteRuleStore(path)
    try:
        store.write(channels={}, upsert=[make_rule(name)], delete=[], expected_version=0, now=1.0)
        queue.put("won")
    except ConflictError:
        queue.put("lost")
    finally:
        store.close()


def test_sqlite_writers_in_separate_processes_exactly_one_wins(tmp_path: Path) -> None:
    # GIVEN four processes writing against the same expected version of one file
    path = str(tmp_path / "shared.db")
    SqliteDatabase.create(path).close()
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[str] = ctx.Queue()
    procs = [ctx.Process(target=_write_from_process, args=(path, f"p{i}", queue)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    outcomes = sorted(queue.get(timeout=5) for _ in procs)
    queue.close()
    queue.join_thread()
    # THEN exactly one write landed
    assert outcomes == ["lost", "lost", "lost", "won"]
    store = SqliteRuleStore(path)
    assert store.version() == 1
    store.close()
