"""SQLite ``RuleStore``: one rule per row plus a meta row (version, updated_at, channels). Stdlib only.

A connection per thread (sqlite3 objects must not cross threads), WAL so readers never wait for the writer,
``busy_timeout`` so concurrent writers queue instead of failing, and the whole write (version check included)
inside one ``BEGIN IMMEDIATE`` transaction so two processes cannot both win the same expected version.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from acrsync.adapters.memory_rules import merged_order
from acrsync.errors import ConflictError
from acrsync.ports import RuleStore, StoredRules

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rules_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL,
    updated_at REAL NOT NULL,
    channels TEXT NOT NULL
);
INSERT OR IGNORE INTO rules_meta (id, version, updated_at, channels) VALUES (1, 0, 0.0, '{}');
CREATE TABLE IF NOT EXISTS rules (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    body TEXT NOT NULL
);
"""


class SqliteRuleStore(RuleStore):
    """Rules in a SQLite file (``ACRSYNC_STORE=sqlite:///PATH``; the bootstrap parses the URL)."""

    def __init__(self, path: str | Path, *, timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self._timeout_s = timeout_s
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._transaction() as conn:
            # Statement by statement inside our own transaction: executescript would commit on its own.
            for statement in filter(None, (s.strip() for s in _SCHEMA.split(";"))):
                conn.execute(statement)

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self._timeout_s, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA busy_timeout={int(self._timeout_s * 1000)}")
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def read(self) -> StoredRules:
        """Meta and rules from one read transaction, so version and rows agree."""
        conn = self._connect()
        conn.execute("BEGIN")
        try:
            version, updated_at, channels = conn.execute(
                "SELECT version, updated_at, channels FROM rules_meta WHERE id = 1"
            ).fetchone()
            rows = conn.execute("SELECT body FROM rules ORDER BY position").fetchall()
        finally:
            conn.execute("COMMIT")
        return StoredRules(
            version=int(version),
            updated_at=float(updated_at),
            channels=json.loads(channels),
            rules=tuple(json.loads(body) for (body,) in rows),
        )

    def version(self) -> int:
        """One indexed single-row read."""
        row = self._connect().execute("SELECT version FROM rules_meta WHERE id = 1").fetchone()
        return int(row[0])

    def write(
        self,
        *,
        channels: Mapping[str, Mapping[str, Any]],
        upsert: Sequence[Mapping[str, Any]],
        delete: Sequence[str],
        expected_version: int,
        now: float,
    ) -> int:
        """Versioned all-or-nothing write; ``ConflictError`` if the version moved on."""
        with self._transaction() as conn:
            (stored,) = conn.execute("SELECT version FROM rules_meta WHERE id = 1").fetchone()
            if stored != expected_version:
                raise ConflictError(
                    f"rules changed meanwhile: stored version is {stored}, expected {expected_version}"
                )
            current = [json.loads(b) for (b,) in conn.execute("SELECT body FROM rules ORDER BY position")]
            ordered = merged_order(current, upsert, delete)
            conn.execute("DELETE FROM rules")
            conn.executemany(
                "INSERT INTO rules (name, position, body) VALUES (?, ?, ?)",
                [(str(r["name"]), i, json.dumps(r, sort_keys=True)) for i, r in enumerate(ordered)],
            )
            conn.execute(
                "UPDATE rules_meta SET version = ?, updated_at = ?, channels = ? WHERE id = 1",
                (expected_version + 1, now, json.dumps(channels, sort_keys=True)),
            )
        return expected_version + 1

    def close(self) -> None:
        """Close this thread's connection (other threads' close when their thread ends)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
