"""LedgerEntry <-> flat column mapping, shared by every stored backend so they cannot drift."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from acrsync.domain.ledger import FIELDS, LedgerEntry, State

_BOOLS = frozenset({"override", "alerted"})
_INTS = frozenset({"attempts", "max_attempts", "priority", "revision"})
_FLOATS = frozenset({"created_at", "updated_at", "next_check_at"})


def to_columns(entry: LedgerEntry) -> dict[str, Any]:
    """Flat columns: enum as its value, ``extra`` as JSON, scalars as they are."""
    out: dict[str, Any] = {}
    for name in FIELDS:
        value = getattr(entry, name)
        if name == "state":
            value = value.value
        elif name == "extra":
            value = json.dumps(value, sort_keys=True)
        out[name] = value
    return out


def from_columns(cols: Mapping[str, Any]) -> LedgerEntry:
    """Inverse of ``to_columns``; tolerant of backends that return ints for bools (SQLite)."""
    kwargs: dict[str, Any] = {}
    for name in FIELDS:
        if name not in cols:
            continue
        value = cols[name]
        if name == "state":
            value = State(value)
        elif name == "extra":
            value = json.loads(value) if value else {}
        elif name in _BOOLS:
            value = bool(value)
        elif name in _INTS:
            value = int(value)
        elif name in _FLOATS:
            value = float(value)
        kwargs[name] = value
    return LedgerEntry(**kwargs)
