"""SQLite backends of the Ledger and BudgetStore ports: the embedded default (``ACRSYNC_STORE=sqlite:///PATH``).

Both run on a ``SqliteDatabase`` (``sqlite_db``: connections, set-up, error translation); ``BEGIN IMMEDIATE``
around read-modify-write so concurrent processes serialise on the file lock. Neither creates the file.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

from acrsync.adapters.ledger_codec import from_columns, to_columns
from acrsync.adapters.sqlite_db import SqliteDatabase
from acrsync.domain.budget import spend_in_window
from acrsync.domain.ledger import ALERT_STATES, FIELDS, OPEN_STATES, LedgerEntry, State
from acrsync.errors import AlreadyClaimed, ConflictError
from acrsync.ports import BudgetStore, Ledger

__all__ = ["SqliteBudgetStore", "SqliteDatabase", "SqliteLedger"]

_COLUMN_LIST = ", ".join(FIELDS)
_PLACEHOLDERS = ", ".join("?" for _ in FIELDS)
_OPEN = tuple(s.value for s in OPEN_STATES)
_ALERT = tuple(s.value for s in ALERT_STATES)
# ``domain.ledger.needs_watch`` in SQL: open, or owing a failure alert, or owing a "resolved" message.
_NEEDS_WATCH = (
    f"(state IN ({', '.join('?' for _ in _OPEN)})"
    f" OR (state IN ({', '.join('?' for _ in _ALERT)}) AND alerted = 0)"
    " OR (state = ? AND alerted = 1)"
    " OR extra LIKE ?)"  # an outcome event in the row's outbox (domain.ledger.owes_event)
)
_NEEDS_WATCH_PARAMS = (*_OPEN, *_ALERT, State.VERIFIED.value, '%"outbox":%')


def _values(entry: LedgerEntry) -> tuple[Any, ...]:
    cols = to_columns(entry)
    return tuple(cols[name] for name in FIELDS)


def _entry(row: sqlite3.Row) -> LedgerEntry:
    return from_columns({key: row[key] for key in row.keys()})  # noqa: SIM118 - sqlite3.Row is not a mapping


class SqliteLedger(Ledger):
    """The ledger in one table: claims ``INSERT`` on the primary key, updates compare ``revision``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self.db = db

    def claim(self, entry: LedgerEntry) -> None:
        try:
            with self.db.transaction() as conn:
                conn.execute(f"INSERT INTO ledger ({_COLUMN_LIST}) VALUES ({_PLACEHOLDERS})", _values(entry))  # noqa: S608 - column names are our own constants
        except sqlite3.IntegrityError as exc:
            raise AlreadyClaimed(entry.claim_id) from exc

    def get(self, claim_id: str) -> LedgerEntry | None:
        rows = self.db.query("SELECT * FROM ledger WHERE claim_id = ?", (claim_id,))
        return _entry(rows[0]) if rows else None

    def update(self, entry: LedgerEntry, *, expected_revision: int) -> None:
        assignments = ", ".join(f"{name} = ?" for name in FIELDS if name != "claim_id")
        values = tuple(v for name, v in zip(FIELDS, _values(entry), strict=True) if name != "claim_id")
        with self.db.transaction() as conn:
            cur = conn.execute(
                f"UPDATE ledger SET {assignments} WHERE claim_id = ? AND revision = ?",  # noqa: S608 - our constants
                (*values, entry.claim_id, expected_revision),
            )
            if cur.rowcount != 1:
                raise ConflictError(f"{entry.claim_id}: revision moved on")

    def find_by_task(self, task_id: str) -> LedgerEntry | None:
        if not task_id:
            return None
        rows = self.db.query("SELECT * FROM ledger WHERE task_id = ? LIMIT 1", (task_id,))
        return _entry(rows[0]) if rows else None

    def list_open(
        self, *, limit: int, due_before: float | None = None, due_after: float | None = None
    ) -> list[LedgerEntry]:
        sql = f"SELECT * FROM ledger WHERE {_NEEDS_WATCH}"  # noqa: S608 - placeholders only
        params: tuple[Any, ...] = _NEEDS_WATCH_PARAMS
        if due_before is not None:
            sql += " AND next_check_at <= ?"
            params = (*params, due_before)
        if due_after is not None:
            sql += " AND next_check_at > ?"
            params = (*params, due_after)
        sql += " ORDER BY next_check_at, created_at, claim_id LIMIT ?"
        return [_entry(r) for r in self.db.query(sql, (*params, limit))]

    def scan(self, *, since: float = 0.0, states: frozenset[State] | None = None) -> Iterator[LedgerEntry]:
        sql = "SELECT * FROM ledger WHERE created_at >= ?"
        params: tuple[Any, ...] = (since,)
        if states is not None:
            values = tuple(s.value for s in states)
            sql += f" AND state IN ({', '.join('?' for _ in values)})"
            params = (*params, *values)
        sql += " ORDER BY created_at, claim_id"
        return iter([_entry(r) for r in self.db.query(sql, params)])


class SqliteBudgetStore(BudgetStore):
    """Budgets as JSON lists of spend times; the read-modify-write runs under ``BEGIN IMMEDIATE``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self.db = db

    def take(self, key: str, *, limit: int, window_s: float, now: float, count: int = 1) -> float:
        with self.db.transaction() as conn:
            row = conn.execute("SELECT spent FROM budgets WHERE key = ?", (key,)).fetchone()
            spent = json.loads(row[0]) if row else []
            spent, wait = spend_in_window(spent, limit=limit, window_s=window_s, now=now, count=count)
            conn.execute(
                "INSERT INTO budgets (key, spent) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET spent = excluded.spent",
                (key, json.dumps(spent)),
            )
            return wait
