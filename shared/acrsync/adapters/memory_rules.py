"""In-memory ``RuleStore``: the fake the unit tests and the demo use. Thread-safe; copies in and out."""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from acrsync.errors import ConflictError
from acrsync.ports import RuleStore, StoredRules


def merged_order(
    current: Sequence[Mapping[str, Any]], upsert: Sequence[Mapping[str, Any]], delete: Sequence[str]
) -> list[Mapping[str, Any]]:
    """The rule order after a write: upserted rules first (in the order given), then the untouched ones.

    The document being applied is authoritative for order (order decides which rule wins a duplicate
    destination); rules kept without ``--prune`` follow in their previous order.
    """
    names = {str(r["name"]) for r in upsert} | set(delete)
    return [*upsert, *(r for r in current if str(r["name"]) not in names)]


class MemoryRuleStore(RuleStore):
    """Rules in a list behind a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version = 0
        self._updated_at = 0.0
        self._channels: dict[str, Mapping[str, Any]] = {}
        self._rules: list[Mapping[str, Any]] = []

    def read(self) -> StoredRules:
        """Everything stored (deep copies, so callers cannot change the store by accident)."""
        with self._lock:
            return StoredRules(
                version=self._version,
                updated_at=self._updated_at,
                channels=copy.deepcopy(self._channels),
                rules=tuple(copy.deepcopy(self._rules)),
            )

    def version(self) -> int:
        """The current version."""
        with self._lock:
            return self._version

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
        with self._lock:
            if self._version != expected_version:
                raise ConflictError(
                    f"rules changed meanwhile: stored version is {self._version}, expected {expected_version}"
                )
            self._rules = copy.deepcopy(merged_order(self._rules, upsert, delete))
            self._channels = copy.deepcopy(dict(channels))
            self._version += 1
            self._updated_at = now
            return self._version
