"""The watcher's writes of one invocation, batched, and what it knows of completion events.

**Write batch.** Inside ``batched(...)`` every transition the watcher decides is buffered instead of
written; several transitions of one row (submitted → succeeded → verified, when a task is seen SUCCESS and
verified in the same invocation) coalesce into one write, conditional on the revision the row had when it
was read. ``flush`` writes them all with one ``Ledger.update_many`` — each row on its own condition. A crash
before the flush loses only decisions, never a row: the rows stay as they were, due, and are checked again.
Writes that must land before an API call (the ``submitting`` mark that guards ``CreateRepoSyncTask``) go
through the ledger directly, as before.

**Completion events flowing.** The watcher notes, per source instance, when it last handled a completion
event for a row of ours (``Ledger.note_events``, at most one write every two minutes per instance).
While that is recent (``EVENTS_FRESH_S``), a submitted task without an event has not finished (to within
the events' delivery lag), so the sweep does not poll it before ``EVENT_SAFETY_S`` after submission (it
writes nothing either: the row stays due and costs the next ticks no more than the reads they make anyway).
After that, or when events stop arriving for that instance, the sweep polls as it always did: a lost event
costs latency, never the task.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from acrsync.domain.ledger import LedgerEntry
from acrsync.logging import get_logger
from acrsync.ports import Ledger

log = get_logger(__name__)

# How recent the last completion event of a source instance must be for the sweep to trust events.
EVENTS_FRESH_S = 300.0
# While events flow, a task is polled anyway this long after its submission (a lost event, a slow one).
EVENT_SAFETY_S = 300.0


@dataclass
class WriteBatch:
    """Transitions decided in one invocation, one pending write per row."""

    ledger: Ledger
    lazy: bool = False
    rows: dict[str, tuple[int, LedgerEntry]] = field(default_factory=dict)
    actions: dict[str, str] = field(default_factory=dict)

    def put(self, row: LedgerEntry, moved: LedgerEntry) -> None:
        """Buffer ``row → moved``; a row already buffered keeps the revision it was first read at."""
        first = self.rows.get(row.claim_id)
        self.rows[row.claim_id] = (first[0] if first else row.revision, moved)

    def pending(self, claim_id: str) -> LedgerEntry | None:
        """The buffered state of a row, if any."""
        found = self.rows.get(claim_id)
        return found[1] if found else None

    def flush(self) -> dict[str, str]:
        """Write every buffered row in one batch; the rows that were not written, with the action each had
        been counted as (so the caller can count them as ``lost_race`` instead)."""
        if not self.rows:
            return {}
        items = [(moved, expected) for expected, moved in self.rows.values()]
        lost: dict[str, str] = {}
        for (moved, _), result in zip(items, self.ledger.update_many(items, lazy=self.lazy), strict=True):
            if result.ok:
                continue
            lost[moved.claim_id] = self.actions.get(moved.claim_id, "")
            if result.status == "conflict":
                log.info("transition_lost_race", claim_id=moved.claim_id, to=moved.state.value)
            else:  # left as it was: checked again at its old time
                log.warning("transition_not_written", claim_id=moved.claim_id, error=str(result.error))
        self.rows.clear()
        return lost


_current: ContextVar[WriteBatch | None] = ContextVar("acrsync_watch_batch", default=None)


def current() -> WriteBatch | None:
    """The batch of this invocation, if writes are being batched."""
    return _current.get()


@contextmanager
def batched(ledger: Ledger, *, lazy: bool = False) -> Iterator[WriteBatch]:
    """Buffer the watcher's transitions until ``flush`` (the caller flushes, also on errors)."""
    batch = WriteBatch(ledger, lazy=lazy)
    token = _current.set(batch)
    try:
        yield batch
    finally:
        _current.reset(token)


def events_flowing(seen: dict[str, float], row: LedgerEntry, now: float) -> bool:
    """Whether completion events for this row's source instance are arriving (seen within the window)."""
    at = seen.get(row.source_instance)
    return at is not None and now - at <= EVENTS_FRESH_S


def submitted_at(row: LedgerEntry) -> float:
    """When the current attempt's task was submitted."""
    return float(row.extra.get("submitted_at") or row.created_at)
