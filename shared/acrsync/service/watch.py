"""The watcher's use case: follow every sync task to verified, retried-then-failed, or alerted.

Inputs: ``cr:Artifact:SynchronizationCompleted`` events (an accelerator: the payload is UNVERIFIED, so
the task is always re-read with ``GetRepoSyncTask``) and timer ticks (the sweep over the ledger's watch
list, oldest check first, within the API budget, stopping before the function timeout). Every write is
conditional on the row's revision, so a completion event racing the sweep makes one transition.
"""

from __future__ import annotations

from typing import Any

from acrsync.domain.alerts import DEADLINE_KEY
from acrsync.domain.copies import is_copy
from acrsync.domain.events import PushCompleted, SyncCompleted, TimerTick
from acrsync.domain.ledger import ALERT_LANE, LedgerEntry, State, needs_watch
from acrsync.errors import AcrSyncError, BudgetExhausted
from acrsync.logging import get_logger
from acrsync.service.alerting import flush_alerts
from acrsync.service.intake import Refusal, read_delivery
from acrsync.service.watch_batch import (
    EVENT_SAFETY_S,
    WriteBatch,
    batched,
    events_flowing,
    submitted_at,
)
from acrsync.service.watch_batch import current as current_batch
from acrsync.service.watch_check import check_row, write_row
from acrsync.service.watch_deps import WatchDeps, WatchOutcome

__all__ = ["WatchDeps", "WatchOutcome", "check_row", "handle_watch", "sweep", "tick"]

log = get_logger(__name__)

# Stop starting new checks this long before the deadline: one check is at most a few API calls.
SWEEP_MARGIN_S = 3.0


def handle_watch(raw: bytes | str, deps: WatchDeps, *, deadline: float) -> WatchOutcome:
    """Handle one delivery: completion events are checked at once; a timer tick sweeps and sends alerts."""
    outcome = WatchOutcome()
    events = read_delivery(raw, allowed_accounts=deps.allowed_accounts, raw_data=deps.raw_data)
    if isinstance(events, Refusal):
        return WatchOutcome(status="refused", reason=events.text)
    for event in events:
        if isinstance(event, SyncCompleted):
            on_completion(event, deps, deadline, outcome)
        elif isinstance(event, TimerTick):
            tick(deps, deadline, outcome)
        elif isinstance(event, PushCompleted):
            log.warning("event_refused", reason="unsupported_type", kind="PushCompleted")
            outcome.status, outcome.reason = (
                "refused",
                "unsupported_type: the watcher takes sync events and ticks",
            )
    log.info("watch_handled", status=outcome.status, alerts_sent=outcome.alerts_sent, **outcome.actions)
    return outcome


def on_completion(event: SyncCompleted, deps: WatchDeps, deadline: float, outcome: WatchOutcome) -> None:
    """Find the row the event is about and check its task now: its transitions are written once, lazily
    (an index row it no longer needs is left for the sweep's batched clean-up)."""
    row = deps.ledger.find_by_task(event.task_id) if event.task_id else _find_by_image(event, deps)
    if row is None:
        # Not ours: ACR's own sync rules and console replications raise this event too.
        log.info("completion_not_ours", task_id=event.task_id, image=event.source_image.ref)
        outcome.add("not_ours")
        return
    deps.ledger.note_events(row.source_instance, deps.clock.now())
    action = ""
    with batched(deps.ledger, lazy=True) as batch:
        try:
            # GetRepoSyncTask and GetRepoTag, plus two for the next event should it come within the hold:
            # completion events come in bursts (a push fans out), so a burst shares budget decisions.
            deps.gate.reserve(2, deadline, ahead=2)
            action = check_row(row, deps, deadline, force=True)
            batch.actions[row.claim_id] = action
        finally:
            lost = batch.flush()  # carries the events mark, when one is due
            deps.ledger.flush_event_notes()  # a check that wrote nothing still leaves the mark
    outcome.add("lost_race" if lost else action)


def tick(deps: WatchDeps, deadline: float, outcome: WatchOutcome) -> None:
    """A timer tick: one read of the watch list (both lanes), the sweep, then the owed alerts and the owed
    outcome events (``deps.publish``, when ``ACRSYNC_EVENT_BUS`` is set)."""
    now, limit = deps.clock.now(), deps.sweep_limit
    rows = deps.ledger.list_open(limit=2 * limit, due_before=now)
    owing = [r for r in rows if r.next_check_at <= ALERT_LANE]
    due = [r for r in rows if r.next_check_at > ALERT_LANE]
    if len(rows) >= 2 * limit and len(due) < limit:  # owed alerts filled the read: live rows have their lane
        due = deps.ledger.list_open(limit=limit, due_before=now, due_after=ALERT_LANE)
    written: list[LedgerEntry] = []
    try:
        written = sweep(deps, deadline, outcome, rows=due[:limit])
    finally:  # whatever the sweep met, owed alerts (and outcome events) still go out, the sweep's own too
        fresh = {r.claim_id: r for r in written if r.next_check_at <= ALERT_LANE and needs_watch(r)}
        owing = [fresh.pop(r.claim_id, r) for r in owing] + list(fresh.values())
        outcome.alerts_sent += flush_alerts(deps, deadline, owing)
        if deps.publish is not None:
            outcome.actions["events_published"] = deps.publish(deadline)


def _find_by_image(event: SyncCompleted, deps: WatchDeps) -> LedgerEntry | None:
    for row in deps.ledger.list_open(limit=deps.sweep_limit, due_after=ALERT_LANE):
        same_source = (row.source_instance, row.source_namespace, row.source_repo, row.source_tag) == (
            event.instance_id,
            event.namespace,
            event.repo,
            event.tag,
        )
        same_target = not event.target_instance_id or row.dest_instance == event.target_instance_id
        if same_source and same_target and row.state is State.SUBMITTED:
            return row
    return None


def sweep(
    deps: WatchDeps, deadline: float, outcome: WatchOutcome, rows: list[LedgerEntry] | None = None
) -> list[LedgerEntry]:
    """Check due rows, least recently checked first, until none are left or time is nearly up.

    One row's trouble never stops the others: a transient failure pushes that row back (and, past the
    stuck deadline, flags it for an alert); an unexpected error is logged and the row pushed back too.
    Only an exhausted API budget ends the sweep early: the next tick resumes with the oldest rows.
    Every transition is written at the end in one batch (``service.watch_batch``); returns the rows
    written. Rows whose completion event is still to come are not polled (``watch_batch``, module doc).
    """
    if rows is None:
        rows = deps.ledger.list_open(
            limit=deps.sweep_limit, due_before=deps.clock.now(), due_after=ALERT_LANE
        )
    with batched(deps.ledger) as batch:
        try:
            _sweep_rows(rows, deps, deadline, outcome, batch)
        finally:
            written = [m for _, m in batch.rows.values()]
            for claim_id, action in batch.flush().items():
                outcome.take_back(action)
                outcome.add("lost_race")
                written = [m for m in written if m.claim_id != claim_id]
    return written


def _sweep_rows(
    rows: list[LedgerEntry], deps: WatchDeps, deadline: float, outcome: WatchOutcome, batch: WriteBatch
) -> None:
    seen = deps.ledger.events_seen() if any(r.state is State.SUBMITTED for r in rows) else {}
    for index, row in enumerate(rows):
        if deps.clock.monotonic() > deadline - SWEEP_MARGIN_S:
            log.info("sweep_stopped_for_deadline", checked=index, left=len(rows) - index)
            outcome.add("deferred")
            return
        if _wait_for_event(row, seen, deps):
            outcome.add("awaiting_event")
            continue
        try:
            deps.gate.reserve(2, deadline, ahead=2 * (len(rows) - index - 1))  # a check: two reads
            action = check_row(row, deps, deadline)
            batch.actions[row.claim_id] = action
            outcome.add(action)
        except BudgetExhausted as exc:
            log.warning("sweep_paused", claim_id=row.claim_id, error=str(exc))
            _push_back(row, deps, str(exc))
            outcome.add("paused")
            return
        except AcrSyncError as exc:
            log.warning(
                "row_check_failed", claim_id=row.claim_id, error=str(exc), error_type=type(exc).__name__
            )
            _push_back(row, deps, str(exc))
            outcome.add("deferred")
        except Exception:
            log.exception("row_check_crashed", claim_id=row.claim_id)
            _push_back(row, deps, "unexpected error: see the log")
            outcome.add("deferred")


def _wait_for_event(row: LedgerEntry, seen: dict[str, float], deps: WatchDeps) -> bool:
    """While this instance's completion events flow, a young submitted task without one has not finished:
    leave it to its event until ``EVENT_SAFETY_S`` after submission. Nothing is written: the row stays due,
    and the next ticks meet it in the reads they make anyway (cheaper than moving it, and its event
    usually comes within a tick)."""
    now = deps.clock.now()
    if row.state is not State.SUBMITTED or is_copy(row) or not events_flowing(seen, row, now):
        return False  # (a copy job has no completion event: the copier's, not ACR's)
    return now < submitted_at(row) + EVENT_SAFETY_S


def _push_back(row: LedgerEntry, deps: WatchDeps, reason: str) -> None:
    """Try this row again later; past the stuck deadline, flag it so an alert says it is not moving."""
    batch = current_batch()
    current = (batch.pending(row.claim_id) if batch else None) or deps.ledger.get(row.claim_id) or row
    if not current.state.is_open:
        return
    now = deps.clock.now()
    changes: dict[str, Any] = {"next_check_at": now + deps.policy.poll_cap_s, "last_error": reason[:500]}
    deadline = current.created_at + deps.policy.stuck_after_s
    if now > deadline and current.error_class != "stuck":
        changes.update(
            error_class="stuck", alerted=False, extra={**current.extra, DEADLINE_KEY: str(deadline)}
        )
    write_row(current, current.state, now, deps, **changes)
