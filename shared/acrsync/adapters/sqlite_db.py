"""The SQLite file behind ``ACRSYNC_STORE=sqlite:///PATH``: how it is opened, set up, watched, and fails.

* Opening never creates anything: ``mode=rw`` (the functions, write commands) and ``mode=ro`` (read-only
  commands) URIs refuse a missing file instead of making an empty one. Only ``create_schema`` — called by
  ``rules apply`` (a rule store write) and ``tables init`` — creates the file, its directories and tables.
* Every call first checks that PATH is still the file this instance opened (device and inode): a file
  deleted under a warm instance is ``StoreNotSetUp``, a replaced one ``StoreUnavailable`` (and re-opened on
  the next call) — never writes into an unlinked inode that nobody will read again.
* SQLite's busy wait is bounded by the invocation's remaining time (``time_left``), at most
  ``busy_timeout_s``: a locked file answers within the function's deadline, not after 30 s.
* Every ``sqlite3.Error`` leaves this module as a ``StoreError`` naming ACRSYNC_STORE, the path and the fix
  (``translate``); ``sqlite3.IntegrityError`` inside a transaction is left to the caller (a lost claim).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from acrsync.adapters.sqlite_errors import kind_of, missing_file, translate
from acrsync.adapters.sqlite_schema import EXPECTED_TABLES, SCHEMA
from acrsync.errors import StoreConfigError, StoreUnavailable
from acrsync.logging import get_logger

log = get_logger(__name__)

DEFAULT_BUSY_TIMEOUT_S = 5.0  # writes here take milliseconds; a longer wait means something holds the file
MIN_BUSY_TIMEOUT_S = 0.05


class SqliteDatabase:
    """One SQLite file: a connection per thread (sqlite3 objects must not cross threads), WAL, explicit
    transactions. ``read_only`` opens with ``mode=ro`` (and, where SQLite cannot make its WAL index beside a
    read-only file, ``immutable=1``). ``time_left`` returns the seconds the current invocation has left, or
    None outside one."""

    def __init__(
        self,
        path: str | Path,
        *,
        read_only: bool = False,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
        time_left: Callable[[], float | None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self.busy_timeout_s = busy_timeout_s
        self.location = f"sqlite:///{path}"
        self._time_left = time_left
        self._local = threading.local()
        self._lock = threading.Lock()
        self._identity: tuple[int, int] | None = None
        self._generation = 0
        self._upgraded = False
        self.calls = 0

    @classmethod
    def create(cls, path: str | Path, **options: Any) -> SqliteDatabase:
        """Open ``path``, creating the file and every table first if needed (the explicit set-up step)."""
        db = cls(path, **options)
        db.create_schema()
        return db

    # ------------------------------------------------------------------------------------------ set-up
    def create_schema(self) -> bool:
        """Create parent directories, the file (WAL) and every table; idempotent. True if the file was new."""
        if self.read_only:
            raise StoreConfigError(
                f"ACRSYNC_STORE={self.location}: opened read-only, cannot be set up", location=self.location
            )
        existed = self.path.exists()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise StoreConfigError(
                f"ACRSYNC_STORE={self.location}: cannot create the directory {self.path.parent}: {reason}",
                location=self.location,
                fix="point ACRSYNC_STORE at a writable place",
            ) from None
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(self._uri("rwc"), uri=True, isolation_level=None, timeout=self._busy_s())
            conn.execute("PRAGMA journal_mode=WAL")  # persistent in the file: readers never wait for writers
            conn.execute("BEGIN IMMEDIATE")
            for statement in SCHEMA:
                conn.execute(statement)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise translate(exc, self.path, self.location) from None
        finally:
            if conn is not None:
                conn.close()
        return not existed

    # --------------------------------------------------------------------------------------- connections
    def connect(self) -> sqlite3.Connection:
        """This thread's connection (autocommit: transactions are explicit), after checking the file."""
        self._check_file()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.generation != self._generation:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
            conn = None
        if conn is None:
            try:
                conn = self._open()
            except sqlite3.Error as exc:
                raise translate(exc, self.path, self.location) from None
            self._local.conn, self._local.generation, self._local.busy_ms = conn, self._generation, -1
        self._bound_busy_wait(conn)
        return conn

    def _uri(self, mode: str, *, immutable: bool = False) -> str:
        # Percent-encoded bytes: '?', '#' and '%' in a path must not be read as URI syntax.
        path = urllib.parse.quote(os.fsencode(self.path.absolute()))
        return f"file:{path}?mode={mode}" + ("&immutable=1" if immutable else "")

    def _open(self) -> sqlite3.Connection:
        mode = "ro" if self.read_only else "rw"
        conn = sqlite3.connect(self._uri(mode), uri=True, isolation_level=None, timeout=self._busy_s())
        if not self.read_only:
            conn.execute("PRAGMA synchronous=NORMAL")
            self._upgrade(conn)
            return conn
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError as exc:
            if kind_of(exc) not in ("cantopen", "readonly"):
                conn.close()
                raise
            # A WAL file needs its -shm index beside it; in a read-only directory SQLite cannot make one.
            # Nobody can write there either, so reading the file as immutable is safe (what a -wal file
            # nobody checkpointed still holds is not seen: README, "The store").
            conn.close()
            conn = sqlite3.connect(self._uri("ro", immutable=True), uri=True, isolation_level=None)
            log.info("store_opened_immutable", store=self.location)
        return conn

    def _upgrade(self, conn: sqlite3.Connection) -> None:
        """A store set up by an older acr-sync gains the tables added since (the reconciler's state, the
        events marks), once per instance. Only a store that *was* set up (it has ``rules_meta``) is touched:
        opening still never turns a stray or empty file into a store."""
        if self._upgraded:
            return
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "rules_meta" in tables and not tables >= EXPECTED_TABLES:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in SCHEMA:
                    conn.execute(statement)
                conn.execute("COMMIT")
            except sqlite3.Error:
                _rollback(conn)
                raise
            log.info("store_upgraded", store=self.location, added=sorted(EXPECTED_TABLES - tables))
        self._upgraded = True

    def _check_file(self) -> None:
        """Refuse a path that is gone, not a file, or no longer the file this instance opened."""
        try:
            st = os.stat(self.path)
        except (FileNotFoundError, NotADirectoryError):
            with self._lock:
                was_open, self._identity = self._identity is not None, None
                self._generation += 1
            if was_open:
                log.error("store_file_deleted", store=self.location)
            raise missing_file(self.location, deleted=was_open) from None
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise StoreConfigError(
                f"ACRSYNC_STORE={self.location}: cannot read the file: {reason}",
                location=self.location,
                fix="check the path and the permissions of its directories",
            ) from None
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise StoreConfigError(
                f"ACRSYNC_STORE={self.location}: is {kind}",
                location=self.location,
                fix="point ACRSYNC_STORE at a database file, e.g. sqlite:///.acrsync/acrsync.db",
            )
        self._same_file((st.st_dev, st.st_ino))

    def _same_file(self, identity: tuple[int, int]) -> None:
        with self._lock:
            if self._identity is None:
                self._identity = identity
                return
            if self._identity == identity:
                return
            self._identity = identity
            self._generation += 1  # every thread re-opens on its next call
        log.error("store_file_replaced", store=self.location)
        raise StoreUnavailable(
            f"ACRSYNC_STORE={self.location}: the file was replaced while this instance had it open",
            location=self.location,
            fix="it is re-opened on the next call; if that was not intended, restore the right file",
            code="replaced",
        )

    def _busy_s(self) -> float:
        left = self._time_left() if self._time_left is not None else None
        if left is None:
            return self.busy_timeout_s
        return max(MIN_BUSY_TIMEOUT_S, min(self.busy_timeout_s, left))

    def _bound_busy_wait(self, conn: sqlite3.Connection) -> None:
        ms = int(self._busy_s() * 1000)
        if self._local.busy_ms != ms:
            conn.execute(f"PRAGMA busy_timeout={ms}")
            self._local.busy_ms = ms

    # -------------------------------------------------------------------------------------- statements
    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; rolled back on any exception, sqlite3 errors translated."""
        with self._translated():
            conn = self.connect()
            self.calls += 1
            conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except sqlite3.IntegrityError:
            _rollback(conn)
            raise  # a constraint outcome (a claim already taken) is the caller's to interpret
        except sqlite3.Error as exc:
            _rollback(conn)
            raise translate(exc, self.path, self.location) from None
        except BaseException:
            _rollback(conn)
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(conn)
            raise translate(exc, self.path, self.location) from None

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction (``BEGIN`` ... ``COMMIT``): every read inside sees the same state."""
        with self._translated():
            conn = self.connect()
            self.calls += 1
            conn.execute("BEGIN")
        try:
            with self._translated():
                yield conn
        finally:
            _rollback(conn)  # nothing was written: ending a read transaction either way is the same

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """A read outside any explicit transaction."""
        with self._translated():
            conn = self.connect()
            conn.row_factory = sqlite3.Row
            self.calls += 1
            return list(conn.execute(sql, params))

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise translate(exc, self.path, self.location) from None

    def close(self) -> None:
        """Close this thread's connection (other threads' close when their thread ends)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _rollback(conn: sqlite3.Connection) -> None:
    # After some errors SQLite has already rolled back; a second ROLLBACK must not hide the first error.
    with contextlib.suppress(sqlite3.Error):
        conn.execute("ROLLBACK")
