"""SQLite ``RuleStore``: one rule per row plus a meta row (version, updated_at, channels). Stdlib only.

Runs on a ``SqliteDatabase`` (``sqlite_db``): WAL so readers never wait for the writer, a busy wait bounded
by the invocation, and the whole write (version check included) inside one ``BEGIN IMMEDIATE`` transaction so
two processes cannot both win the same expected version.

Reading never creates anything: a file that does not exist (and never did, for this instance) reads as the
port says a store without applied rules does — version 0, no rules — which the functions refuse to run on
(``RulesNotApplied``). ``write`` is ``rules apply``, the one operation that creates the file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from acrsync.adapters.memory_rules import merged_order
from acrsync.adapters.sqlite_db import SqliteDatabase
from acrsync.errors import ConflictError, StoreNotSetUp
from acrsync.ports import RuleStore, StoredRules


class SqliteRuleStore(RuleStore):
    """Rules in a SQLite file (``ACRSYNC_STORE=sqlite:///PATH``; the bootstrap parses the URL).

    ``source`` is a path (a database opened with ``options``) or an already built ``SqliteDatabase``.
    """

    def __init__(self, source: str | Path | SqliteDatabase, **options: Any) -> None:
        self.db = source if isinstance(source, SqliteDatabase) else SqliteDatabase(source, **options)
        self.path = self.db.path

    def read(self) -> StoredRules:
        """Meta and rules from one read transaction, so version and rows agree."""
        try:
            with self.db.snapshot() as conn:
                meta = conn.execute(
                    "SELECT version, updated_at, channels FROM rules_meta WHERE id = 1"
                ).fetchone()
                rows = conn.execute("SELECT body FROM rules ORDER BY position").fetchall()
        except StoreNotSetUp as exc:
            if exc.code != "missing":
                raise
            meta, rows = None, []
        version, updated_at, channels = meta or (0, 0.0, "{}")
        return StoredRules(
            version=int(version),
            updated_at=float(updated_at),
            channels=json.loads(channels),
            rules=tuple(json.loads(body) for (body,) in rows),
        )

    def version(self) -> int:
        """One indexed single-row read."""
        try:
            rows = self.db.query("SELECT version FROM rules_meta WHERE id = 1")
        except StoreNotSetUp as exc:
            if exc.code != "missing":
                raise
            return 0  # no file, so nothing was ever applied
        return int(rows[0][0]) if rows else 0

    def write(
        self,
        *,
        channels: Mapping[str, Mapping[str, Any]],
        upsert: Sequence[Mapping[str, Any]],
        delete: Sequence[str],
        expected_version: int,
        now: float,
    ) -> int:
        """Versioned all-or-nothing write; ``ConflictError`` if the version moved on.

        Sets the store up first when it is not (this is ``rules apply``: the explicit set-up step).
        """
        self.db.create_schema()
        with self.db.transaction() as conn:
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
        self.db.close()
