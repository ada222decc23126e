"""Tablestore ``Ledger``: the ledger table plus an open-task index and a task-id index (docs/tables.md).

Write order, so that no open row is ever missing from the index the sweep reads:
*additions* to an index (new open-task key, new task id) are written **before** the conditional ledger
write; *removals* (the old open-task key) **after** it, conditional on the index row's revision. A crash
in between leaves only extra index rows, which ``list_open`` recognises against the ledger (the truth)
and deletes. The ledger row is the only thing a conditional write decides.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

from acrsync.adapters import tablestore_events as marks
from acrsync.adapters import tablestore_ledger_batch as batched
from acrsync.adapters.ledger_codec import from_columns, to_columns
from acrsync.adapters.tablestore_client import (
    CONDITION_FAILED,
    call,
    import_tablestore,
    table_specs,
)
from acrsync.adapters.tablestore_ranges import batch_get, full_range, range_rows
from acrsync.domain.ledger import LedgerEntry, State, needs_watch
from acrsync.errors import AlreadyClaimed, ConflictError
from acrsync.logging import get_logger
from acrsync.ports import Ledger, RowResult

log = get_logger(__name__)

_CACHE_SIZE = 10_000
# An open-index row whose ledger row does not exist is left alone this long: a claim writes its index row
# first, then its ledger row, and a sweep in between must not take the index row away (longer than any
# invocation lives, as ``service.submit.CLAIM_STALE_S``).
ORPHAN_GRACE_S = 600.0


def _ms(t: float) -> int:
    return round(t * 1000)


def _bucket(claim_id: str, buckets: int) -> int:
    # claim ids are hex hashes (domain/images.py::claim_id); any other text still spreads via its hash.
    try:
        return int(claim_id[:8], 16) % buckets
    except ValueError:
        return sum(claim_id.encode()) % buckets


class TablestoreLedger(Ledger):
    """The ``Ledger`` port on Tablestore; ``client`` is an ``OTSClient`` (see ``build_ots_client``)."""

    def __init__(self, client: Any, *, prefix: str = "acrsync_", buckets: int = 4) -> None:
        self._ts = import_tablestore()
        self._client = client
        specs = table_specs(prefix)
        self._ledger, self._open, self._tasks = specs["ledger"].name, specs["open"].name, specs["tasks"].name
        self._buckets = buckets
        # claim_id -> (open-index key ms or None, task_id) as last seen by this instance: saves a read
        # before each update; a stale guess only leaves an extra index row for the sweep to remove.
        self._seen: OrderedDict[str, tuple[int | None, str]] = OrderedDict()
        self._lock = threading.Lock()
        # Completion-event marks (adapters/tablestore_events.py): as last read, and as last written here.
        self._events: dict[str, float] = {}
        self._events_read_at = float("-inf")
        self._noted: dict[str, float] = {}
        self._pending_marks: dict[str, float] = {}

    # -- rows -------------------------------------------------------------------------------------------
    def _row(self, entry: LedgerEntry) -> Any:
        cols = to_columns(entry)
        del cols["claim_id"]
        return self._ts.Row([("claim_id", entry.claim_id)], list(cols.items()))

    def _entry(self, row: Any) -> LedgerEntry:
        cols = {c[0]: c[1] for c in row.attribute_columns}
        cols["claim_id"] = row.primary_key[0][1]
        return from_columns(cols)

    def _remember(self, entry: LedgerEntry) -> None:
        with self._lock:
            self._seen[entry.claim_id] = (
                _ms(entry.next_check_at) if needs_watch(entry) else None,
                entry.task_id,
            )
            self._seen.move_to_end(entry.claim_id)
            while len(self._seen) > _CACHE_SIZE:
                self._seen.popitem(last=False)

    def _known(self, claim_id: str) -> tuple[int | None, str] | None:
        with self._lock:
            return self._seen.get(claim_id)

    def _forget(self, claim_id: str) -> None:
        with self._lock:
            self._seen.pop(claim_id, None)

    @staticmethod
    def _wall() -> float:
        return time.time()

    def _open_pk(self, claim_id: str, ms: int) -> list[tuple[str, Any]]:
        return [("bucket", _bucket(claim_id, self._buckets)), ("next_check_ms", ms), ("claim_id", claim_id)]

    def _conditional(self, op: str, fn: Any, *args: Any) -> bool:
        """Run a conditional write; False when its condition failed, translated error otherwise."""
        try:
            call(op, fn, *args)
        except Exception as exc:
            if getattr(exc, "code", "") == CONDITION_FAILED:
                return False
            raise
        return True

    # -- index maintenance ------------------------------------------------------------------------------
    def _index_add(self, entry: LedgerEntry) -> None:
        attrs = [("revision", entry.revision), ("written_ms", _ms(time.time()))]
        row = self._ts.Row(self._open_pk(entry.claim_id, _ms(entry.next_check_at)), attrs)
        call("PutRow", self._client.put_row, self._open, row, self._ts.Condition("IGNORE"))

    def _index_remove(self, claim_id: str, ms: int, *, up_to_revision: int) -> None:
        """Delete one open-index row unless a newer writer re-put it (its revision would be higher)."""
        cond = self._ts.Condition(
            "IGNORE",
            self._ts.SingleColumnCondition("revision", up_to_revision, self._ts.ComparatorType.LESS_EQUAL),
        )
        try:
            self._conditional(
                "DeleteRow",
                self._client.delete_row,
                self._open,
                self._ts.Row(self._open_pk(claim_id, ms)),
                cond,
            )
        except Exception as exc:  # noqa: BLE001 - best effort by design, see the comment
            # The row is done; a leftover index row costs the sweep one read and is removed there.
            log.warning("open_index_cleanup_failed", claim_id=claim_id, error=str(exc))

    def _task_add(self, entry: LedgerEntry) -> None:
        row = self._ts.Row([("task_id", entry.task_id)], [("claim_id", entry.claim_id)])
        call("PutRow", self._client.put_row, self._tasks, row, self._ts.Condition("IGNORE"))

    def _previous(self, claim_id: str) -> tuple[int | None, str]:
        with self._lock:
            known = self._seen.get(claim_id)
        if known is not None:
            return known
        current = self.get(claim_id)
        if current is None:
            return None, ""
        return (_ms(current.next_check_at) if needs_watch(current) else None), current.task_id

    # -- the port ---------------------------------------------------------------------------------------
    def claim(self, entry: LedgerEntry) -> None:
        """Conditional insert (``EXPECT_NOT_EXIST``); ``AlreadyClaimed`` if the key exists."""
        if needs_watch(entry):
            self._index_add(entry)
        if entry.task_id:
            self._task_add(entry)
        cond = self._ts.Condition("EXPECT_NOT_EXIST")
        if not self._conditional("PutRow", self._client.put_row, self._ledger, self._row(entry), cond):
            # Our index row may share its key with the winner's (same claim, same check time): keep it.
            raise AlreadyClaimed(f"ledger key {entry.claim_id} is already claimed")
        self._remember(entry)

    def get(self, claim_id: str) -> LedgerEntry | None:
        """One GetRow."""
        _, row, _ = call("GetRow", self._client.get_row, self._ledger, [("claim_id", claim_id)])
        if row is None:
            return None
        entry = self._entry(row)
        self._remember(entry)
        return entry

    def update(self, entry: LedgerEntry, *, expected_revision: int) -> None:
        """Replace the row if ``revision == expected_revision`` (column condition); else ``ConflictError``."""
        old_ms, old_task = self._previous(entry.claim_id)
        new_ms = _ms(entry.next_check_at) if needs_watch(entry) else None
        if new_ms is not None and new_ms != old_ms:
            self._index_add(entry)
        if entry.task_id and entry.task_id != old_task:
            self._task_add(entry)
        cond = self._ts.Condition(
            "EXPECT_EXIST",
            self._ts.SingleColumnCondition(
                "revision", expected_revision, self._ts.ComparatorType.EQUAL, pass_if_missing=False
            ),
        )
        if not self._conditional("PutRow", self._client.put_row, self._ledger, self._row(entry), cond):
            with self._lock:
                self._seen.pop(entry.claim_id, None)
            raise ConflictError(f"ledger row {entry.claim_id} is not at revision {expected_revision}")
        if old_ms is not None and old_ms != new_ms:
            self._index_remove(entry.claim_id, old_ms, up_to_revision=expected_revision)
        self._remember(entry)

    def note_events(self, source_instance: str, at: float) -> None:
        """Queue the instance's mark (at most every two minutes per instance); the next write carries it."""
        marks.note(self, source_instance, at)

    def flush_event_notes(self) -> None:
        """Marks no ledger write carried: one BatchWriteRow (none when there are none)."""
        marks.flush(self)

    def events_seen(self) -> dict[str, float]:
        """The marks, free after a ``list_open`` that covered them; else one GetRange."""
        return marks.seen(self)

    def claim_many(self, entries: Sequence[LedgerEntry]) -> list[RowResult]:
        """Index rows in one BatchWriteRow, then the claims (each ``EXPECT_NOT_EXIST``) in another."""
        return batched.claim_many(self, entries)

    def get_many(self, claim_ids: Sequence[str]) -> dict[str, LedgerEntry]:
        """One BatchGetRow per 100 keys."""
        return batched.get_many(self, claim_ids)

    def update_many(
        self, updates: Sequence[tuple[LedgerEntry, int]], *, lazy: bool = False
    ) -> list[RowResult]:
        """Additions, conditional ledger writes, removals: one BatchWriteRow each (see the module)."""
        return batched.update_many(self, updates, lazy=lazy)

    def find_by_task(self, task_id: str) -> LedgerEntry | None:
        """Task index lookup, then the ledger row; None unless the row still carries that task id."""
        _, row, _ = call("GetRow", self._client.get_row, self._tasks, [("task_id", task_id)])
        if row is None:
            return None
        claim_id = next((c[1] for c in row.attribute_columns if c[0] == "claim_id"), "")
        entry = self.get(claim_id) if claim_id else None
        return entry if entry is not None and entry.task_id == task_id else None

    def list_open(
        self, *, limit: int, due_before: float | None = None, due_after: float | None = None
    ) -> list[LedgerEntry]:
        """Read the open-task index (every bucket, by check time), then the rows it names; O(open rows)."""
        if limit <= 0:
            return []
        want = limit
        while True:
            candidates, exhausted = self._candidates(want, due_before, due_after)
            valid = self._resolve(candidates, due_before, due_after)
            if len(valid) >= limit or exhausted:
                return valid[:limit]
            want *= 2

    def _candidates(
        self, want: int, due_before: float | None, due_after: float | None
    ) -> tuple[list[tuple[int, str, int, int]], bool]:
        end_ms = self._ts.INF_MAX if due_before is None else _ms(due_before) + 1
        start_ms = self._ts.INF_MIN if due_after is None else _ms(due_after) + 1
        out: list[tuple[int, str, int, int]] = []
        exhausted = True
        if marks.covered(due_before, due_after):
            self._events = {}  # read afresh below (bucket 0)
        for b in range(self._buckets):
            start = [("bucket", b), ("next_check_ms", start_ms), ("claim_id", self._ts.INF_MIN)]
            end = [("bucket", b), ("next_check_ms", end_ms), ("claim_id", self._ts.INF_MIN)]
            rows = list(range_rows(self._client, self._open, start, end, max_rows=want))
            exhausted = exhausted and len(rows) < want
            for r in rows:
                if marks.is_mark(str(r.primary_key[2][1])):
                    marks.remember(self, r)
                    continue
                attrs = {c[0]: c[1] for c in r.attribute_columns}
                rev, written = int(attrs.get("revision", 0)), int(attrs.get("written_ms", 0))
                out.append((r.primary_key[1][1], r.primary_key[2][1], rev, written))
        if marks.covered(due_before, due_after):
            self._events_read_at = time.monotonic()
        out.sort()
        return out[:want], exhausted and len(out) <= want

    def _resolve(
        self, candidates: list[tuple[int, str, int, int]], due_before: float | None, due_after: float | None
    ) -> list[LedgerEntry]:
        keys = list(dict.fromkeys(cid for _, cid, _, _ in candidates))
        rows = batch_get(self._client, self._ledger, [[("claim_id", k)] for k in keys])
        truth = {e.claim_id: e for e in (self._entry(r) for r in rows)}
        valid: dict[str, LedgerEntry] = {}
        stale: list[tuple[str, int, int]] = []
        now_ms = _ms(time.time())
        for ms, cid, rev, written in candidates:
            entry = truth.get(cid)
            if entry is not None and needs_watch(entry) and _ms(entry.next_check_at) == ms:
                if (due_before is None or entry.next_check_at <= due_before) and (
                    due_after is None or entry.next_check_at > due_after
                ):
                    valid.setdefault(cid, entry)
                    self._remember(entry)
            elif entry is None and now_ms - written < _ms(ORPHAN_GRACE_S):
                # No ledger row yet: a claim may be between its index write and its ledger write. Leave it;
                # only an index row this old without its ledger row is a true orphan.
                continue
            elif entry is None or rev <= entry.revision:
                # Stale: the row closed or moved on (and no in-flight writer owns this key). Repair, all
                # of this read's stale rows in one request.
                stale.append((cid, ms, entry.revision if entry else rev))
        batched.remove_stale(self, stale)
        return sorted(valid.values(), key=lambda e: (e.next_check_at, e.claim_id))

    def scan(self, *, since: float = 0.0, states: frozenset[State] | None = None) -> Iterator[LedgerEntry]:
        """Every ledger row (a full range read: history-sized, for the CLI), filtered, oldest first."""
        entries = [self._entry(r) for r in full_range(self._client, self._ledger, ["claim_id"])]
        picked = [e for e in entries if e.created_at >= since and (states is None or e.state in states)]
        return iter(sorted(picked, key=lambda e: (e.created_at, e.claim_id)))


__all__ = ["TablestoreLedger"]
