"""Outcome events through the ledger's outbox: ``OutboxLedger`` records them, ``publish_outcomes`` sends them.

``OutboxLedger`` wraps the ledger when ``ACRSYNC_EVENT_BUS`` is set: every write gets the outcomes it
reaches added to the row's outbox (``domain.outcomes.with_outbox``) in the *same* conditional write. Callers
may hold copies of a row read before its outbox changed, so the wrapper merges the outbox of the stored row
at the revision being replaced: it remembers it from every row it read or wrote (one LRU entry per claim),
and reads the row only on a miss. The batched methods (``claim_many``, ``get_many``, ``update_many``) go to
the wrapped ledger's batched methods, so batching survives the wrapper: ``update_many`` fills every row's
outbox as ``update`` does, reading the rows it missed in one ``get_many``.

``publish_outcomes`` (the watcher, on each timer tick) reads the alert lane, sends what rows owe in
``PutEvents`` batches of up to 16, then records on each row what the bus accepted. The documented crash
window: if the process dies after ``PutEvents`` succeeded and before that record is written (or the write
loses a race and cannot be re-applied), the next tick sends those events again *with the same ids* — an
at-least-once delivery that consumers de-duplicate on ``id``. Outside that window nothing is sent twice:
a refused or failed call leaves the outbox as it was, and an accepted event is removed from it.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

from acrsync.domain.ledger import ALERT_LANE, LedgerEntry, State
from acrsync.domain.outcomes import after_publish, cloud_event, owed, with_outbox
from acrsync.errors import ConflictError, UpstreamRejected, UpstreamUnavailable
from acrsync.logging import get_logger
from acrsync.ports import Clock, EventBus, Ledger, RowResult

log = get_logger(__name__)

CACHE_SIZE = 10_000
PUBLISH_MARGIN_S = 2.0


class OutboxLedger(Ledger):
    """A ``Ledger`` whose writes carry the outcome events they reach (see the module docstring)."""

    def __init__(self, inner: Ledger) -> None:
        self.inner = inner
        self._seen: OrderedDict[str, LedgerEntry] = OrderedDict()

    def _remember(self, entry: LedgerEntry | None) -> LedgerEntry | None:
        if entry is not None:
            self._seen[entry.claim_id] = entry
            self._seen.move_to_end(entry.claim_id)
            while len(self._seen) > CACHE_SIZE:
                self._seen.popitem(last=False)
        return entry

    def claim(self, entry: LedgerEntry) -> None:
        self.inner.claim(entry)
        self._remember(entry)

    def get(self, claim_id: str) -> LedgerEntry | None:
        return self._remember(self.inner.get(claim_id))

    def update(self, entry: LedgerEntry, *, expected_revision: int) -> None:
        prior = self._seen.get(entry.claim_id)
        if prior is None or prior.revision != expected_revision:
            prior = self.inner.get(entry.claim_id)  # a miss: one read; a stale row means the write conflicts
        written = with_outbox(entry, prior if prior and prior.revision == expected_revision else None)
        self.inner.update(written, expected_revision=expected_revision)
        self._remember(written)

    def find_by_task(self, task_id: str) -> LedgerEntry | None:
        return self._remember(self.inner.find_by_task(task_id))

    # The batched forms go to the wrapped ledger's own batched methods (one round trip per step there),
    # each written row given its outbox exactly as ``update`` gives it.
    def claim_many(self, entries: Sequence[LedgerEntry]) -> list[RowResult]:
        results = self.inner.claim_many(entries)
        for entry, result in zip(entries, results, strict=True):
            if result.ok:
                self._remember(entry)
        return results

    def get_many(self, claim_ids: Sequence[str]) -> dict[str, LedgerEntry]:
        found = self.inner.get_many(claim_ids)
        for entry in found.values():
            self._remember(entry)
        return found

    def update_many(
        self, updates: Sequence[tuple[LedgerEntry, int]], *, lazy: bool = False
    ) -> list[RowResult]:
        priors = {e.claim_id: self._seen.get(e.claim_id) for e, _ in updates}
        misses = [e.claim_id for e, rev in updates if (p := priors[e.claim_id]) is None or p.revision != rev]
        if misses:  # one batched read for every row this wrapper has not seen at the revision replaced
            priors.update(self.inner.get_many(misses))
        written = []
        for entry, rev in updates:
            prior = priors.get(entry.claim_id)
            written.append((with_outbox(entry, prior if prior and prior.revision == rev else None), rev))
        results = self.inner.update_many(written, lazy=lazy)
        for (entry, _), result in zip(written, results, strict=True):
            if result.ok:
                self._remember(entry)
        return results

    def note_events(self, source_instance: str, at: float) -> None:
        self.inner.note_events(source_instance, at)

    def flush_event_notes(self) -> None:
        self.inner.flush_event_notes()

    def events_seen(self) -> dict[str, float]:
        return self.inner.events_seen()

    def list_open(
        self, *, limit: int, due_before: float | None = None, due_after: float | None = None
    ) -> list[LedgerEntry]:
        rows = self.inner.list_open(limit=limit, due_before=due_before, due_after=due_after)
        for row in rows:
            self._remember(row)
        return rows

    def scan(self, *, since: float = 0.0, states: frozenset[State] | None = None) -> Iterator[LedgerEntry]:
        return self.inner.scan(since=since, states=states)


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def publish_outcomes(
    ledger: Ledger, bus: EventBus, bus_name: str, clock: Clock, *, deadline: float, limit: int = 500
) -> int:
    """Send every owed outcome event in batches; record each accepted one on its row. Returns events sent."""
    rows = [r for r in ledger.list_open(limit=limit, due_before=ALERT_LANE) if owed(r)]
    pending = [
        (row, outcome, when) for row in rows for outcome, when in sorted(owed(row).items(), key=_by_time)
    ]
    sent = 0
    for start in range(0, len(pending), bus.max_batch):
        if clock.monotonic() > deadline - PUBLISH_MARGIN_S:
            log.info("outcome_events_deferred", left=len(pending) - start)
            break
        batch = pending[start : start + bus.max_batch]
        events = [cloud_event(row, outcome, _iso(when)) for row, outcome, when in batch]
        try:
            accepted = bus.put_events(bus_name, events)
        except UpstreamUnavailable as exc:
            log.warning("outcome_events_send_failed_will_retry", events=len(events), error=str(exc))
            continue
        except UpstreamRejected as exc:
            log.error("outcome_events_refused", bus=bus_name, code=exc.code, error=str(exc))
            return sent
        done: dict[str, set[str]] = {}
        for (row, outcome, _), event in zip(batch, events, strict=True):
            if event["id"] in accepted:
                done.setdefault(row.claim_id, set()).add(outcome)
        rejected = len(events) - sum(len(v) for v in done.values())
        if rejected:
            log.warning("outcome_events_partly_refused_will_retry", refused=rejected)
        for row in {r.claim_id: r for r, _, _ in batch}.values():
            if row.claim_id in done:
                _record(ledger, row, done[row.claim_id], clock)
        sent += len(events) - rejected
    if sent:
        log.info("outcome_events_published", events=sent, bus=bus_name)
    return sent


def _by_time(item: tuple[str, float]) -> Any:
    return (item[1], item[0])


def _record(ledger: Ledger, row: LedgerEntry, outcomes: set[str], clock: Clock) -> None:
    """Mark ``outcomes`` published on the row; a row that moved meanwhile is read again (3 tries)."""
    current: LedgerEntry | None = row
    for _ in range(3):
        if current is None:
            return
        try:
            ledger.update(after_publish(current, outcomes, clock.now()), expected_revision=current.revision)
        except ConflictError:
            current = ledger.get(row.claim_id)
            continue
        return
    # The events went out; the next tick sends them again with the same ids (the documented window).
    log.error("outcome_events_sent_but_not_recorded", claim_id=row.claim_id, outcomes=sorted(outcomes))
