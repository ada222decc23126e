"""SQLite backends of the Ledger and BudgetStore ports: the embedded default (``ACRSYNC_STORE=sqlite:///PATH``).

Both run on a ``SqliteDatabase`` (``sqlite_db``: connections, set-up, error translation); ``BEGIN IMMEDIATE``
around read-modify-write so concurrent processes serialise on the file lock. Neither creates the file.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from acrsync.adapters.ledger_codec import from_columns, to_columns
from acrsync.adapters.sqlite_db import SqliteDatabase
from acrsync.domain.budget import spend_in_window
from acrsync.domain.ledger import ALERT_STATES, FIELDS, OPEN_STATES, LedgerEntry, State
from acrsync.errors import AlreadyClaimed, ConflictError
from acrsync.ports import EVENTS_NOTE_EVERY_S, BudgetStore, Ledger, RowResult

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
        self._noted: dict[str, float] = {}

    def note_events(self, source_instance: str, at: float) -> None:
        """Upsert the instance's time, at most once per ``EVENTS_NOTE_EVERY_S`` from this adapter."""
        if at - self._noted.get(source_instance, float("-inf")) < EVENTS_NOTE_EVERY_S:
            return
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO events_seen (instance, at) VALUES (?, ?) "
                "ON CONFLICT(instance) DO UPDATE SET at = MAX(at, excluded.at)",
                (source_instance, at),
            )
        self._noted[source_instance] = at

    def events_seen(self) -> dict[str, float]:
        """One query."""
        return {row["instance"]: float(row["at"]) for row in self.db.query("SELECT * FROM events_seen")}

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

    def claim_many(self, entries: Sequence[LedgerEntry]) -> list[RowResult]:
        """One transaction: ``INSERT OR IGNORE`` per row; a row not inserted was already claimed."""
        out = []
        with self.db.transaction() as conn:
            for entry in entries:
                cur = conn.execute(
                    f"INSERT OR IGNORE INTO ledger ({_COLUMN_LIST}) VALUES ({_PLACEHOLDERS})",  # noqa: S608 - our constants
                    _values(entry),
                )
                out.append(RowResult(entry.claim_id, "ok" if cur.rowcount == 1 else "exists"))
        return out

    def get_many(self, claim_ids: Sequence[str]) -> dict[str, LedgerEntry]:
        """One query."""
        keys = list(dict.fromkeys(claim_ids))
        if not keys:
            return {}
        marks = ", ".join("?" for _ in keys)
        rows = self.db.query(f"SELECT * FROM ledger WHERE claim_id IN ({marks})", tuple(keys))  # noqa: S608 - placeholders only
        return {e.claim_id: e for e in map(_entry, rows)}

    def update_many(
        self, updates: Sequence[tuple[LedgerEntry, int]], *, lazy: bool = False
    ) -> list[RowResult]:
        """One transaction: each row updated if still at its expected revision."""
        assignments = ", ".join(f"{name} = ?" for name in FIELDS if name != "claim_id")
        out = []
        with self.db.transaction() as conn:
            for entry, expected in updates:
                values = _values(entry)[1:]  # claim_id is FIELDS[0]
                cur = conn.execute(
                    f"UPDATE ledger SET {assignments} WHERE claim_id = ? AND revision = ?",  # noqa: S608 - our constants
                    (*values, entry.claim_id, expected),
                )
                out.append(RowResult(entry.claim_id, "ok" if cur.rowcount == 1 else "conflict"))
        return out

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
