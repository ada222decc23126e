"""Checking one row: read its task, decide, verify the destination; transitions go through ``write_row``.

Inside a watcher invocation's write batch (``service.watch_batch``) transitions are buffered and coalesced,
so a task seen SUCCESS and verified in one go is written once; outside one (tests, tools) they are written
at once, each conditional on the row's revision.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from acrsync.domain.alerts import DEADLINE_KEY
from acrsync.domain.copies import is_copy
from acrsync.domain.ledger import LedgerEntry, State
from acrsync.domain.watch import Decision, decide, is_due, verification
from acrsync.errors import ConflictError, UpstreamRejected
from acrsync.logging import get_logger
from acrsync.service.watch_batch import current as current_batch
from acrsync.service.watch_deps import WatchDeps

log = get_logger(__name__)


def started(row: LedgerEntry) -> float:
    """When the current attempt's task was submitted (the stuck clock starts there)."""
    return float(row.extra.get("submitted_at") or row.created_at)


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
                "extra": {**row.extra, DEADLINE_KEY: str(started(row) + deps.policy.stuck_after_s)},
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
    moved = write_row(row, state, now, deps, **changes)
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
            moved = write_row(row, State.UNVERIFIABLE, now, deps, extra={**row.extra, "verification": why})
            return "unverifiable" if moved else "lost_race"
        deps = replace(deps, registry=lambda _region: reader)
    try:
        found = _destination_digest(row, deps, deadline)
    except UpstreamRejected as exc:
        # The copy may be fine, but nobody can say: that is a failure to report, not a reason to stop.
        reason = f"cannot read the destination to verify it: {exc}"
        moved = write_row(
            row, State.FAILED, now, deps, error_class="verify_rejected", last_error=reason, alerted=False
        )
        log.error("verification_impossible", claim_id=row.claim_id, destination=row.dest_ref, error=str(exc))
        return "verify_rejected" if moved else "lost_race"
    d = verification(row, found)
    if d.action == "verified":
        moved = write_row(row, State.VERIFIED, now, deps, error_class="", last_error="")
        log.info("replication_verified", claim_id=row.claim_id, destination=row.dest_ref, digest=row.digest)
        return "verified" if moved else "lost_race"
    extra = {**row.extra, "found_digest": found or ""}
    moved = write_row(
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
    # A repository the adapter already knows costs no call, so it spends no budget token either.
    repo = api.cached_repository(row.dest_instance, row.dest_namespace, row.dest_repo) or deps.gate.call(
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


def write_row(
    row: LedgerEntry, state: State, now: float, deps: WatchDeps, **changes: Any
) -> LedgerEntry | None:
    moved = row.moved_to(state, now, **changes)
    batch = current_batch()
    if batch is not None:  # written with the invocation's batch (a lost race is counted at the flush)
        batch.put(row, moved)
        return moved
    try:
        deps.ledger.update(moved, expected_revision=row.revision)
    except ConflictError:
        log.info("transition_lost_race", claim_id=row.claim_id, to=state.value)
        return None
    return moved
