"""The watcher's use case: follow every sync task to verified, retried-then-failed, or alerted.

Inputs: ``cr:Artifact:SynchronizationCompleted`` events (an accelerator: the payload is UNVERIFIED, so
the task is always re-read with ``GetRepoSyncTask``) and timer ticks (the sweep over the ledger's watch
list, oldest check first, within the API budget, stopping before the function timeout). Every write is
conditional on the row's revision, so a completion event racing the sweep makes one transition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from acrsync.domain.alerts import DEADLINE_KEY
from acrsync.domain.copies import is_copy
from acrsync.domain.events import PushCompleted, RawDataPolicy, SyncCompleted, TimerTick
from acrsync.domain.ledger import ALERT_LANE, LedgerEntry, State
from acrsync.domain.watch import Decision, WatchPolicy, decide, is_due, verification
from acrsync.errors import AcrSyncError, BudgetExhausted, ConflictError, UpstreamRejected
from acrsync.logging import get_logger
from acrsync.ports import AlertChannel, Clock, Ledger, Notifier, RegistryApi
from acrsync.service.alerting import flush_alerts
from acrsync.service.gate import CallGate
from acrsync.service.intake import Refusal, read_delivery
from acrsync.service.submit import Submitter

if TYPE_CHECKING:
    from acrsync.service.copy_jobs import CopyDeps

log = get_logger(__name__)

# Stop starting new checks this long before the deadline: one check is at most a few API calls.
SWEEP_MARGIN_S = 3.0


@dataclass(frozen=True, slots=True)
class WatchDeps:
    """What the watcher needs, wired once per function instance by the bootstrap."""

    ledger: Ledger
    registry: Callable[[str], RegistryApi]
    gate: CallGate
    clock: Clock
    submitter: Submitter
    notifier: Notifier
    channels: Callable[[str], AlertChannel | None]
    allowed_accounts: frozenset[str]
    policy: WatchPolicy = field(default_factory=WatchPolicy)
    sweep_limit: int = 500
    raw_data: RawDataPolicy = field(default_factory=RawDataPolicy)
    # Sends owed outcome events (service.outcomes); set only when ACRSYNC_EVENT_BUS is, so the EventBridge
    # SDK is never imported otherwise. Takes the deadline, returns the events sent.
    publish: Callable[[float], int] | None = None
    # A reader for a cross-account row's destination (through its rule's role_arn), or None: unverifiable.
    cross_account: Callable[[LedgerEntry], RegistryApi | None] | None = None
    copies: CopyDeps | None = None  # copy jobs (``registry:`` destinations), when a copier is wired


@dataclass
class WatchOutcome:
    """Counts of what this invocation did, for the FC response and the summary log line."""

    status: str = "ok"
    actions: dict[str, int] = field(default_factory=dict)
    alerts_sent: int = 0
    reason: str = ""

    def add(self, action: str) -> None:
        """Count one row's outcome."""
        self.actions[action] = self.actions.get(action, 0) + 1

    def as_response(self) -> dict[str, Any]:
        """The JSON-able dict the handler returns."""
        out: dict[str, Any] = {
            "status": self.status,
            "actions": self.actions,
            "alerts_sent": self.alerts_sent,
        }
        if self.reason:
            out["reason"] = self.reason
        return out


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
            try:
                sweep(deps, deadline, outcome)
            finally:  # whatever the sweep met, owed alerts (and outcome events) still go out
                outcome.alerts_sent += flush_alerts(deps, deadline)
                if deps.publish is not None:
                    outcome.actions["events_published"] = deps.publish(deadline)
        elif isinstance(event, PushCompleted):
            log.warning("event_refused", reason="unsupported_type", kind="PushCompleted")
            outcome.status, outcome.reason = (
                "refused",
                "unsupported_type: the watcher takes sync events and ticks",
            )
    log.info("watch_handled", status=outcome.status, alerts_sent=outcome.alerts_sent, **outcome.actions)
    return outcome


def on_completion(event: SyncCompleted, deps: WatchDeps, deadline: float, outcome: WatchOutcome) -> None:
    """Find the row the event is about and check its task now."""
    row = deps.ledger.find_by_task(event.task_id) if event.task_id else _find_by_image(event, deps)
    if row is None:
        # Not ours: ACR's own sync rules and console replications raise this event too.
        log.info("completion_not_ours", task_id=event.task_id, image=event.source_image.ref)
        outcome.add("not_ours")
        return
    outcome.add(check_row(row, deps, deadline, force=True))


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


def sweep(deps: WatchDeps, deadline: float, outcome: WatchOutcome) -> None:
    """Check due rows, least recently checked first, until none are left or time is nearly up.

    One row's trouble never stops the others: a transient failure pushes that row back (and, past the
    stuck deadline, flags it for an alert); an unexpected error is logged and the row pushed back too.
    Only an exhausted API budget ends the sweep early: the next tick resumes with the oldest rows.
    """
    rows = deps.ledger.list_open(limit=deps.sweep_limit, due_before=deps.clock.now(), due_after=ALERT_LANE)
    for index, row in enumerate(rows):
        if deps.clock.monotonic() > deadline - SWEEP_MARGIN_S:
            log.info("sweep_stopped_for_deadline", checked=index, left=len(rows) - index)
            outcome.add("deferred")
            return
        try:
            outcome.add(check_row(row, deps, deadline))
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


def _started(row: LedgerEntry) -> float:
    """When the current attempt's task was submitted (the stuck clock starts there)."""
    return float(row.extra.get("submitted_at") or row.created_at)


def _push_back(row: LedgerEntry, deps: WatchDeps, reason: str) -> None:
    """Try this row again later; past the stuck deadline, flag it so an alert says it is not moving."""
    current = deps.ledger.get(row.claim_id) or row
    if not current.state.is_open:
        return
    now = deps.clock.now()
    changes: dict[str, Any] = {"next_check_at": now + deps.policy.poll_cap_s, "last_error": reason[:500]}
    deadline = current.created_at + deps.policy.stuck_after_s
    if now > deadline and current.error_class != "stuck":
        changes.update(
            error_class="stuck", alerted=False, extra={**current.extra, DEADLINE_KEY: str(deadline)}
        )
    _write(current, current.state, now, deps, **changes)


def check_row(row: LedgerEntry, deps: WatchDeps, deadline: float, *, force: bool = False) -> str:  # noqa: PLR0911 - one return per state
    """Move one row forward if it can move; returns what happened (for counting)."""
    if is_copy(row):  # a copy job: re-launched by the watcher, never reconciled against sync tasks
        from acrsync.service.copy_jobs import follow

        return follow(row, deps.copies) if deps.copies is not None else "skipped"
    now = deps.clock.now()
    submitter = deps.submitter
    if submitter.needs_reconcile(row):
        return submitter.reconcile(row, deadline=deadline).outcome
    if submitter.in_flight(row):
        return "in_flight"
    if row.state is State.RETRYING:
        if not is_due(row, now):
            return "waiting"
        outcome = submitter.submit(row, deadline=deadline).outcome
        return "resubmitted" if outcome == "submitted" else outcome
    if row.state is State.SUCCEEDED:
        return _verify(row, deps, deadline)
    if row.state is not State.SUBMITTED or not (force or is_due(row, now)):
        return "skipped"
    api = deps.registry(row.source_region)
    try:
        task = deps.gate.call(
            lambda: api.get_repo_sync_task(row.source_instance, row.task_id),
            deadline=deadline,
            what="GetRepoSyncTask",
        )
    except UpstreamRejected as exc:
        return _apply(row, Decision("fail", reason=str(exc), error_class="task_error"), deps, deadline)
    return _apply(row, decide(row, task, now, deps.policy), deps, deadline)


def _apply(row: LedgerEntry, d: Decision, deps: WatchDeps, deadline: float) -> str:
    now = deps.clock.now()
    polls = str(int(row.extra.get("polls", "0") or 0) + 1)
    moves: dict[str, tuple[State, dict[str, Any]]] = {
        "wait": (State.SUBMITTED, {"next_check_at": d.next_check_at, "extra": {**row.extra, "polls": polls}}),
        "stuck": (
            State.SUBMITTED,
            {
                "next_check_at": d.next_check_at,
                "error_class": "stuck",
                "last_error": d.reason,
                "alerted": False,
                "extra": {**row.extra, DEADLINE_KEY: str(_started(row) + deps.policy.stuck_after_s)},
            },
        ),
        "verify": (State.SUCCEEDED, {"task_issue": "", "next_check_at": now, "error_class": ""}),
        "retry": (
            State.RETRYING,
            {
                "next_check_at": d.next_check_at,
                "task_issue": d.reason,
                "last_error": d.reason,
                "error_class": d.error_class,
            },
        ),
        # Entering a failure state is a new thing to report: alerted goes back to False.
        "fail": (
            State.FAILED,
            {"task_issue": d.reason, "last_error": d.reason, "error_class": d.error_class, "alerted": False},
        ),
        "cancel": (
            State.CANCELED,
            {"task_issue": d.reason, "last_error": d.reason, "error_class": d.error_class, "alerted": False},
        ),
    }
    state, changes = moves[d.action]
    moved = _write(row, state, now, deps, **changes)
    if moved is None:
        return "lost_race"
    if d.action != "wait":
        log.info("task_checked", claim_id=row.claim_id, task_id=row.task_id, action=d.action, reason=d.reason)
    if d.action == "verify":
        return _verify(moved, deps, deadline)
    return d.action


def _verify(row: LedgerEntry, deps: WatchDeps, deadline: float) -> str:
    """After SUCCESS: the destination tag must hold the pushed digest (read in the destination's region)."""
    now = deps.clock.now()
    if row.target_account:
        reader = deps.cross_account(row) if deps.cross_account is not None else None
        if reader is None:
            # Another account's registry is not readable with our credentials: never call that verified.
            why = "cross-account destination without role_arn: it cannot be read to verify the digest"
            moved = _write(row, State.UNVERIFIABLE, now, deps, extra={**row.extra, "verification": why})
            return "unverifiable" if moved else "lost_race"
        deps = replace(deps, registry=lambda _region: reader)
    try:
        found = _destination_digest(row, deps, deadline)
    except UpstreamRejected as exc:
        # The copy may be fine, but nobody can say: that is a failure to report, not a reason to stop.
        reason = f"cannot read the destination to verify it: {exc}"
        moved = _write(
            row, State.FAILED, now, deps, error_class="verify_rejected", last_error=reason, alerted=False
        )
        log.error("verification_impossible", claim_id=row.claim_id, destination=row.dest_ref, error=str(exc))
        return "verify_rejected" if moved else "lost_race"
    d = verification(row, found)
    if d.action == "verified":
        moved = _write(row, State.VERIFIED, now, deps, error_class="", last_error="")
        log.info("replication_verified", claim_id=row.claim_id, destination=row.dest_ref, digest=row.digest)
        return "verified" if moved else "lost_race"
    extra = {**row.extra, "found_digest": found or ""}
    moved = _write(
        row,
        State.MISMATCH,
        now,
        deps,
        error_class="mismatch",
        last_error=d.reason,
        alerted=False,
        extra=extra,
    )
    log.error("replication_mismatch", claim_id=row.claim_id, destination=row.dest_ref, reason=d.reason)
    return "mismatch" if moved else "lost_race"


def _destination_digest(row: LedgerEntry, deps: WatchDeps, deadline: float) -> str | None:
    api = deps.registry(row.dest_region)
    repo = deps.gate.call(
        lambda: api.get_repository(row.dest_instance, row.dest_namespace, row.dest_repo),
        deadline=deadline,
        what="GetRepository",
    )
    if repo is None:
        return None
    tag = deps.gate.call(
        lambda: api.get_repo_tag(row.dest_instance, repo.repo_id, row.dest_tag),
        deadline=deadline,
        what="GetRepoTag",
    )
    return tag.digest if tag else None


def _write(row: LedgerEntry, state: State, now: float, deps: WatchDeps, **changes: Any) -> LedgerEntry | None:
    moved = row.moved_to(state, now, **changes)
    try:
        deps.ledger.update(moved, expected_revision=row.revision)
    except ConflictError:
        log.info("transition_lost_race", claim_id=row.claim_id, to=state.value)
        return None
    return moved
