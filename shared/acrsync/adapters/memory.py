"""In-memory fakes of the Ledger and BudgetStore ports: thread-safe, same contract as the real stores."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from acrsync.domain.budget import spend_in_window
from acrsync.domain.ledger import LedgerEntry, State, needs_watch
from acrsync.errors import AlreadyClaimed, ConflictError
from acrsync.ports import EVENTS_NOTE_EVERY_S, BudgetStore, Ledger, RowResult


class MemoryLedger(Ledger):
    """A dict behind a lock. Also counts calls, so tests and benches can count round trips."""

    def __init__(self) -> None:
        self._rows: dict[str, LedgerEntry] = {}
        self._lock = threading.Lock()
        self.calls = 0
        self._events: dict[str, float] = {}

    def note_events(self, source_instance: str, at: float) -> None:
        """Kept in the dict (one call per instance per ``EVENTS_NOTE_EVERY_S``)."""
        with self._lock:
            if at - self._events.get(source_instance, float("-inf")) >= EVENTS_NOTE_EVERY_S:
                self.calls += 1
                self._events[source_instance] = at

    def events_seen(self) -> dict[str, float]:
        """One call."""
        with self._lock:
            self.calls += 1
            return dict(self._events)

    def claim(self, entry: LedgerEntry) -> None:
        with self._lock:
            self.calls += 1
            if entry.claim_id in self._rows:
                raise AlreadyClaimed(entry.claim_id)
            self._rows[entry.claim_id] = entry

    def get(self, claim_id: str) -> LedgerEntry | None:
        with self._lock:
            self.calls += 1
            return self._rows.get(claim_id)

    def update(self, entry: LedgerEntry, *, expected_revision: int) -> None:
        with self._lock:
            self.calls += 1
            current = self._rows.get(entry.claim_id)
            if current is None or current.revision != expected_revision:
                raise ConflictError(f"{entry.claim_id}: revision moved on")
            self._rows[entry.claim_id] = entry

    def claim_many(self, entries: Sequence[LedgerEntry]) -> list[RowResult]:
        """One call: each key inserted if free."""
        with self._lock:
            self.calls += 1
            out = []
            for entry in entries:
                if entry.claim_id in self._rows:
                    out.append(RowResult(entry.claim_id, "exists"))
                else:
                    self._rows[entry.claim_id] = entry
                    out.append(RowResult(entry.claim_id, "ok"))
            return out

    def get_many(self, claim_ids: Sequence[str]) -> dict[str, LedgerEntry]:
        """One call."""
        with self._lock:
            self.calls += 1
            return {cid: self._rows[cid] for cid in claim_ids if cid in self._rows}

    def update_many(
        self, updates: Sequence[tuple[LedgerEntry, int]], *, lazy: bool = False
    ) -> list[RowResult]:
        """One call: each row replaced if still at its expected revision."""
        with self._lock:
            self.calls += 1
            out = []
            for entry, expected in updates:
                current = self._rows.get(entry.claim_id)
                if current is None or current.revision != expected:
                    out.append(RowResult(entry.claim_id, "conflict"))
                else:
                    self._rows[entry.claim_id] = entry
                    out.append(RowResult(entry.claim_id, "ok"))
            return out

    def find_by_task(self, task_id: str) -> LedgerEntry | None:
        with self._lock:
            self.calls += 1
            return next((e for e in self._rows.values() if task_id and e.task_id == task_id), None)

    def list_open(
        self, *, limit: int, due_before: float | None = None, due_after: float | None = None
    ) -> list[LedgerEntry]:
        with self._lock:
            self.calls += 1
            rows = [
                e
                for e in self._rows.values()
                if needs_watch(e)
                and (due_before is None or e.next_check_at <= due_before)
                and (due_after is None or e.next_check_at > due_after)
            ]
        rows.sort(key=lambda e: (e.next_check_at, e.created_at, e.claim_id))
        return rows[:limit]

    def scan(self, *, since: float = 0.0, states: frozenset[State] | None = None) -> Iterator[LedgerEntry]:
        with self._lock:
            self.calls += 1
            rows = [
                e
                for e in self._rows.values()
                if e.created_at >= since and (states is None or e.state in states)
            ]
        rows.sort(key=lambda e: (e.created_at, e.claim_id))
        return iter(rows)


class MemoryBudgetStore(BudgetStore):
    """Sliding-window budgets in a dict: spend times per key, pruned as they age out."""

    def __init__(self) -> None:
        self._spent: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        self.calls = 0

    def take(self, key: str, *, limit: int, window_s: float, now: float, count: int = 1) -> float:
        with self._lock:
            self.calls += 1
            spent, wait = spend_in_window(
                self._spent.get(key, []), limit=limit, window_s=window_s, now=now, count=count
            )
            self._spent[key] = spent
            return wait
