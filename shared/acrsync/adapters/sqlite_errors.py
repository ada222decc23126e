"""``sqlite3`` errors → the acr-sync error tree, each naming ACRSYNC_STORE, the file and what to do.

Python 3.11+ tells the SQLite result code (``sqlite_errorname``); Python 3.10 — FC's runtime — does not, so
there the fixed English texts of ``sqlite3_errstr()`` are matched instead (they have not changed in years).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from acrsync.errors import StoreConfigError, StoreError, StoreNotSetUp, StoreUnavailable

SET_UP = "set it up: `acr-sync rules apply FILE` (or `acr-sync tables init`), with the same ACRSYNC_STORE"
READ_ONLY_FIX = (
    "the functions and write commands need write access to the file and its directory (SQLite writes "
    "PATH-wal and PATH-shm beside it); read-only commands (rules list, rules explain, status, doctor) work"
)

_BY_NAME = (
    ("SQLITE_BUSY", "locked"),
    ("SQLITE_LOCKED", "locked"),
    ("SQLITE_CANTOPEN", "cantopen"),
    ("SQLITE_READONLY", "readonly"),
    ("SQLITE_NOTADB", "notadb"),
    ("SQLITE_CORRUPT", "corrupt"),
    ("SQLITE_IOERR", "ioerr"),
    ("SQLITE_FULL", "full"),
    ("SQLITE_PERM", "perm"),
    ("SQLITE_AUTH", "perm"),
)
_BY_TEXT = (
    ("database is locked", "locked"),
    ("database table is locked", "locked"),
    ("unable to open database file", "cantopen"),
    ("readonly database", "readonly"),
    ("not a database", "notadb"),
    ("malformed", "corrupt"),
    ("disk i/o error", "ioerr"),
    ("database or disk is full", "full"),
    ("access permission denied", "perm"),
    ("no such table", "noschema"),
)


def kind_of(exc: sqlite3.Error) -> str:
    """``locked``, ``cantopen``, ``readonly``, ``notadb``, ``corrupt``, ``ioerr``, ``full``, ``perm``,
    ``noschema`` or ``other``."""
    name = str(getattr(exc, "sqlite_errorname", "") or "")
    for prefix, kind in _BY_NAME:
        if name.startswith(prefix):
            return kind
    text = str(exc).lower()
    for fragment, kind in _BY_TEXT:
        if fragment in text:
            return kind
    return "other"


def missing_file(location: str, *, deleted: bool = False) -> StoreNotSetUp:
    """The store file is not there: never set up, or deleted under a running instance."""
    what = "the file was deleted while this instance had it open" if deleted else "no such file"
    return StoreNotSetUp(
        f"ACRSYNC_STORE={location}: {what}: the store is not set up",
        location=location,
        fix=SET_UP,
        code="deleted" if deleted else "missing",
    )


def translate(exc: sqlite3.Error, path: Path, location: str) -> StoreError:
    """The ``StoreError`` for ``exc`` raised on the file at ``path``."""
    kind = kind_of(exc)
    head = f"ACRSYNC_STORE={location}"
    if kind == "locked":
        return StoreUnavailable(
            f"{head}: locked by another writer, still after the wait this invocation allows",
            location=location,
            fix="retried later; if it lasts, look for a process holding the file open",
            code="locked",
        )
    if kind in ("ioerr", "full", "other"):
        return StoreUnavailable(f"{head}: SQLite error: {exc}", location=location, code=kind)
    if kind == "noschema":
        return StoreNotSetUp(f"{head}: the file has no acr-sync tables", location=location, fix=SET_UP)
    if kind == "cantopen":
        return _cannot_open(path, location)
    if kind in ("readonly", "perm"):
        return StoreConfigError(f"{head}: read-only", location=location, fix=READ_ONLY_FIX, code=kind)
    return StoreConfigError(
        f"{head}: not an acr-sync SQLite database ({exc})",
        location=location,
        fix="point ACRSYNC_STORE at another file, or move this one away and run `acr-sync rules apply FILE`",
        code=kind,
    )


def _cannot_open(path: Path, location: str) -> StoreError:
    try:
        exists, is_dir = path.exists(), path.is_dir()
    except (OSError, ValueError):
        exists, is_dir = True, False
    if not exists:
        return missing_file(location)
    if is_dir:
        return StoreConfigError(
            f"ACRSYNC_STORE={location}: is a directory",
            location=location,
            fix="point ACRSYNC_STORE at a database file, e.g. sqlite:///.acrsync/acrsync.db",
        )
    return StoreConfigError(
        f"ACRSYNC_STORE={location}: cannot be opened", location=location, fix=READ_ONLY_FIX, code="cantopen"
    )
