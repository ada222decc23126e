"""``StateStore`` on memory and SQLite: small JSON documents with a revision (the reconciler's cursor).

SQLite keeps them in a ``reconcile_state`` table of the same database file as the ledger, created with every
other table by the store's set-up step (``sqlite_schema``; never on open). The Tablestore adapter is
``tablestore_state``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Mapping
from typing import Any

from acrsync.adapters.sqlite_store import SqliteDatabase
from acrsync.errors import ConflictError
from acrsync.ports import StateStore


class MemoryStateStore(StateStore):
    """A dict behind a lock."""

    def __init__(self) -> None:
        self._docs: dict[str, tuple[str, int]] = {}
        self._lock = threading.Lock()
        self.calls = 0

    def read(self, key: str) -> tuple[dict[str, Any], int]:
        with self._lock:
            self.calls += 1
            text, revision = self._docs.get(key, ("{}", 0))
        return json.loads(text), revision

    def write(self, key: str, doc: Mapping[str, Any], *, expected_revision: int) -> int:
        text = json.dumps(doc, sort_keys=True)  # a copy: the caller may keep mutating its dict
        with self._lock:
            self.calls += 1
            current = self._docs.get(key, ("{}", 0))[1]
            if current != expected_revision:
                raise ConflictError(f"state {key!r}: revision is {current}, not {expected_revision}")
            self._docs[key] = (text, current + 1)
            return current + 1


class SqliteStateStore(StateStore):
    """One row per key; the compare-and-set runs under ``BEGIN IMMEDIATE``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self.db = db

    def read(self, key: str) -> tuple[dict[str, Any], int]:
        rows = self.db.query("SELECT doc, revision FROM reconcile_state WHERE state_key = ?", (key,))
        if not rows:
            return {}, 0
        return json.loads(rows[0]["doc"]), int(rows[0]["revision"])

    def write(self, key: str, doc: Mapping[str, Any], *, expected_revision: int) -> int:
        text = json.dumps(doc, sort_keys=True)
        with self.db.transaction() as conn:
            conn.row_factory = sqlite3.Row
            row = conn.execute("SELECT revision FROM reconcile_state WHERE state_key = ?", (key,)).fetchone()
            current = int(row["revision"]) if row else 0
            if current != expected_revision:
                raise ConflictError(f"state {key!r}: revision is {current}, not {expected_revision}")
            conn.execute(
                "INSERT INTO reconcile_state (state_key, doc, revision) VALUES (?, ?, ?) "
                "ON CONFLICT(state_key) DO UPDATE SET doc = excluded.doc, revision = excluded.revision",
                (key, text, current + 1),
            )
            return current + 1
