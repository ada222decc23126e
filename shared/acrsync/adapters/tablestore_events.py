"""Completion-event marks in the open-task index: one row per source instance, read by the sweep for free.

A mark is the open-index row ``(bucket 0, next_check_ms 1, claim_id "#events/<instance>")`` with column
``seen_ms``. ``next_check_ms = 1`` sits after the alert lane (0) and before any real check time, so the
range reads a tick makes anyway (``list_open(due_before=now)``) return it: knowing whether events flow
costs the sweep no request. ``list_open`` sets these rows aside; they are never ledger candidates.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from acrsync.adapters.tablestore_batch import WriteOp, batch_write
from acrsync.adapters.tablestore_ranges import range_rows
from acrsync.logging import get_logger
from acrsync.ports import EVENTS_NOTE_EVERY_S

if TYPE_CHECKING:
    from acrsync.adapters.tablestore_ledger import TablestoreLedger

log = get_logger(__name__)

MARK_PREFIX = "#events/"
MARK_MS = 1
# A mark read by this adapter's last ``list_open`` is reused this long (one invocation), else read again.
FRESH_READ_S = 10.0


def is_mark(claim_id: str) -> bool:
    """Whether an open-index row is an events mark, not a ledger row's entry."""
    return claim_id.startswith(MARK_PREFIX)


def remember(ledger: TablestoreLedger, row: Any) -> None:
    """Keep a mark met by a range read (``_candidates``)."""
    attrs = {c[0]: c[1] for c in row.attribute_columns}
    instance = str(row.primary_key[2][1])[len(MARK_PREFIX) :]
    ledger._events[instance] = int(attrs.get("seen_ms", 0)) / 1000


def covered(due_before: float | None, due_after: float | None) -> bool:
    """Whether a ``list_open`` with these bounds reads the marks' position."""
    start = 0 if due_after is None else round(due_after * 1000) + 1
    end = None if due_before is None else round(due_before * 1000) + 1
    return start <= MARK_MS and (end is None or end > MARK_MS)


def note(ledger: TablestoreLedger, source_instance: str, at: float) -> None:
    """Queue the mark, at most once per ``EVENTS_NOTE_EVERY_S`` per instance from this adapter.

    It rides along with this adapter's next ledger write (``pending_ops``: the completion event's own
    write follows at once), so noting costs no request of its own.
    """
    if at - ledger._noted.get(source_instance, float("-inf")) < EVENTS_NOTE_EVERY_S:
        return
    ledger._noted[source_instance] = at
    ledger._pending_marks[source_instance] = at


def pending_ops(ledger: TablestoreLedger) -> list[WriteOp]:
    """The queued marks as batch rows (taken: a mark that fails to land is simply noted again later)."""
    ts = ledger._ts
    ops = []
    for instance, at in ledger._pending_marks.items():
        pk = [("bucket", 0), ("next_check_ms", MARK_MS), ("claim_id", MARK_PREFIX + instance)]
        row = ts.Row(pk, [("seen_ms", round(at * 1000))])
        ops.append(WriteOp(ledger._open, "put", row, ts.Condition("IGNORE")))
    ledger._pending_marks.clear()
    return ops


def flush(ledger: TablestoreLedger) -> None:
    """Write queued marks now (when no ledger write came to carry them)."""
    ops = pending_ops(ledger)
    if not ops:
        return
    try:
        batch_write(ledger._client, ops)
    except Exception as exc:  # noqa: BLE001 - best effort: without the mark the sweep simply polls
        log.warning("events_mark_not_written", rows=len(ops), error=str(exc))


def seen(ledger: TablestoreLedger) -> dict[str, float]:
    """The marks: as this adapter's last ``list_open`` read them, or one GetRange of their position."""
    if time.monotonic() - ledger._events_read_at > FRESH_READ_S:
        ts = ledger._ts
        start = [("bucket", 0), ("next_check_ms", MARK_MS), ("claim_id", ts.INF_MIN)]
        end = [("bucket", 0), ("next_check_ms", MARK_MS + 1), ("claim_id", ts.INF_MIN)]
        ledger._events = {}
        for row in range_rows(ledger._client, ledger._open, start, end):
            if is_mark(str(row.primary_key[2][1])):
                remember(ledger, row)
        ledger._events_read_at = time.monotonic()
    return dict(ledger._events)
