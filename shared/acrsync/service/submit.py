"""Submitting a claimed replication to ACR, and reconciling claims a crash left without a task id.

Shared by the replicator, the watcher's retries and sweep, backfill and ``acr-sync replicate``, so there is
one way to turn a ledger row into exactly one sync task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from acrsync.domain.images import name_problem
from acrsync.domain.ledger import LedgerEntry, State
from acrsync.domain.registry import SyncTask, SyncTaskSpec
from acrsync.errors import ConflictError, RetryableError, UpstreamRejected
from acrsync.logging import get_logger
from acrsync.ports import Clock, Ledger, RegistryApi, SyncRuleApi
from acrsync.service.gate import CallGate

log = get_logger(__name__)

# A claim with no task id this old belongs to an invocation that died: longer than any function timeout
# (replicator 60 s, watcher 120 s in s.yaml), so a live invocation is never overtaken mid-submit.
CLAIM_STALE_S = 600.0
# First look at a new task; ACR tasks for small images finish within a minute.
FIRST_CHECK_S = 30.0
# How far before the attempt began a task may have been created and still be ours (clock skew between hosts).
RECONCILE_SKEW_S = 60.0
# Marks of a submission in progress, cleared once the task id is recorded.
_SUBMIT_MARKS = ("abandoned", "submitting", "polls")


@dataclass(frozen=True, slots=True)
class Submission:
    """What happened to one row: ``submitted``, ``reconciled``, ``failed`` or ``lost_race``."""

    outcome: str
    entry: LedgerEntry


def _without(extra: dict[str, str], *keys: str) -> dict[str, str]:
    return {k: v for k, v in extra.items() if k not in keys}


def spec_of(entry: LedgerEntry) -> SyncTaskSpec:
    """``CreateRepoSyncTask`` parameters for a ledger row."""
    return SyncTaskSpec(
        instance_id=entry.source_instance,
        repo_id=entry.source_repo_id,
        tag=entry.source_tag,
        target_instance_id=entry.dest_instance,
        target_region_id=entry.dest_region,
        target_namespace=entry.dest_namespace,
        target_repo_name=entry.dest_repo,
        target_tag=entry.dest_tag,
        override=entry.override,
        priority=entry.priority,
        target_user_id=entry.target_account,
    )


def is_task_for(task: SyncTask, entry: LedgerEntry, since: float) -> bool:
    """True when ``task`` copies this row's source tag to this row's destination, created after ``since``."""
    to, frm = task.image_to, task.image_from
    if to is None or frm is None:
        return False
    same_to = (to.instance_id, to.namespace, to.repo, to.tag) == (
        entry.dest_instance,
        entry.dest_namespace,
        entry.dest_repo,
        entry.dest_tag,
    )
    same_from = (frm.namespace, frm.repo, frm.tag) == (
        entry.source_namespace,
        entry.source_repo,
        entry.source_tag,
    )
    recent = task.create_time_ms == 0 or task.create_time_ms / 1000 >= since - RECONCILE_SKEW_S
    return same_to and same_from and recent


def submitted_move(entry: LedgerEntry, task_id: str, now: float) -> LedgerEntry:
    """The row once ``CreateRepoSyncTask`` returned ``task_id``: first look after ``FIRST_CHECK_S``.

    A fresh claim already sits at that check time (the replicator claims with it), so recording the task
    id does not move the row in the open-task index.
    """
    first_check = entry.next_check_at if entry.next_check_at > now else now + FIRST_CHECK_S
    return entry.moved_to(
        State.SUBMITTED,
        now,
        task_id=task_id,
        attempts=entry.attempts + 1,
        next_check_at=first_check,
        last_error="",
        extra={**_without(entry.extra, *_SUBMIT_MARKS), "submitted_at": str(now)},
    )


def failed_move(
    entry: LedgerEntry, exc: UpstreamRejected, now: float, *, error_class: str = ""
) -> LedgerEntry:
    """The row after ACR refused ``CreateRepoSyncTask`` for good, or a name it would refuse (alerted by the
    watcher). The error class: ``error_class`` if given, else the error's own (``LinkRejected``), else
    ``submit_rejected``."""
    return entry.moved_to(
        State.FAILED,
        now,
        attempts=entry.attempts + 1,
        last_error=str(exc),
        error_class=error_class or getattr(exc, "error_class", "submit_rejected"),
        alerted=False,
        extra=_without(entry.extra, *_SUBMIT_MARKS),
    )


def abandoned_move(entry: LedgerEntry, reason: str, now: float) -> LedgerEntry:
    """The row after a create that may or may not have happened: reconciled at the next delivery or sweep."""
    return entry.moved_to(entry.state, now, last_error=reason, extra={**entry.extra, "abandoned": "1"})


class Submitter:
    """Turns claimed/retrying rows into submitted ones, exactly once per attempt."""

    def __init__(
        self,
        ledger: Ledger,
        registry: Callable[[str], RegistryApi],
        gate: CallGate,
        clock: Clock,
        links: Callable[[str], SyncRuleApi] | None = None,
    ) -> None:
        self.ledger = ledger
        self.registry = registry
        self.gate = gate
        self.clock = clock
        self.links = links  # destinations with a custom link (``link:``) submit by manual sync rule

    def submit(self, entry: LedgerEntry, *, deadline: float, held: bool = False) -> Submission:
        """Call ``CreateRepoSyncTask`` for a row, then record the task id.

        ``held``: the caller's own conditional write already made this attempt its own (a fresh claim, a
        take-over). Otherwise the row is first marked ``submitting`` with a revision-bumping write, so two
        checkers of one row cannot both create a task, and a crash after the create is found and reconciled
        instead of submitted again. Permanent refusals end the row as ``failed`` (alerted by the watcher).
        Retryable failures mark it ``abandoned`` (reconciled at the next delivery or sweep) and re-raise.
        Names outside the registry's grammar never reach ACR: the row fails (``invalid_name``) here, whoever
        asked (the replicator, backfill, ``acr-sync replicate``, a retry of a row an older version wrote).
        """
        problem = name_problem(entry.dest_namespace, entry.dest_repo, entry.dest_tag)
        if problem:
            return self._fail(entry, UpstreamRejected(f"destination {problem}"), error_class="invalid_name")
        if not held:
            marked = self._update(
                entry, entry.state, extra={**entry.extra, "submitting": str(self.clock.now())}
            )
            if marked is None:
                return Submission("lost_race", entry)
            entry = marked
        api = self.registry(entry.source_region)
        try:
            task_id = self.gate.call(
                lambda: self.create_task(api, entry),
                deadline=deadline,
                what="CreateRepoSyncTask",
                idempotent=False,
            )
        except UpstreamRejected as exc:
            return self._fail(entry, exc)
        except RetryableError as exc:
            self._abandon(entry, str(exc))
            raise
        done = submitted_move(entry, task_id, self.clock.now())
        try:
            self.ledger.update(done, expected_revision=entry.revision)
        except ConflictError:
            # Only possible if this invocation outlived CLAIM_STALE_S; the task exists, so say so loudly.
            log.error("sync_task_record_lost_race", claim_id=entry.claim_id, task_id=task_id)
            return Submission("lost_race", entry)
        log.info(
            "sync_task_submitted",
            claim_id=entry.claim_id,
            rule=entry.rule,
            source=entry.source_ref,
            destination=entry.dest_ref,
            task_id=task_id,
            attempt=done.attempts,
        )
        return Submission("submitted", done)

    def create_task(self, api: RegistryApi, entry: LedgerEntry) -> str:
        """The one create call for a row: ``CreateRepoSyncTask``, or a manual sync rule through its
        ``link:`` (``service.links``); the batched submitter (``submit_batch``) calls it too."""
        link = entry.extra.get("link")
        if not link:
            return api.create_repo_sync_task(spec_of(entry))
        if self.links is None:
            raise UpstreamRejected(
                f"destination {entry.dest_ref} names link {link}, but no link API is wired"
            )
        from acrsync.service.links import submit_by_link

        return submit_by_link(self.links(entry.source_region), entry)

    def needs_reconcile(self, entry: LedgerEntry) -> bool:
        """A submission that may or may not have created a task: its owner gave up, or died.

        A claim without a task id, or a retry marked ``submitting``, that is ``abandoned`` or older than
        ``CLAIM_STALE_S`` (longer than any invocation lives, so a live owner is never overtaken).
        """
        if entry.state is State.CLAIMED and not entry.task_id:
            since = entry.updated_at
        elif entry.state is State.RETRYING and entry.extra.get("submitting"):
            since = float(entry.extra["submitting"])
        else:
            return False
        return entry.extra.get("abandoned") == "1" or self.clock.now() - since > CLAIM_STALE_S

    def in_flight(self, entry: LedgerEntry) -> bool:
        """Someone is submitting this row right now: leave it alone."""
        pending = (entry.state is State.CLAIMED and not entry.task_id) or (
            entry.state is State.RETRYING and bool(entry.extra.get("submitting"))
        )
        return pending and not self.needs_reconcile(entry)

    def reconcile(self, entry: LedgerEntry, *, deadline: float) -> Submission:
        """A submission in doubt: adopt the task it created, or take the row over and submit it again."""
        api = self.registry(entry.source_region)
        tasks = self.gate.call(
            lambda: list(
                api.list_repo_sync_tasks(
                    entry.source_instance,
                    namespace=entry.source_namespace,
                    repo=entry.source_repo,
                    tag=entry.source_tag,
                )
            ),
            deadline=deadline,
            what="ListRepoSyncTask",
        )
        since = float(entry.extra.get("submitting") or entry.created_at)
        # A task another row already owns (an earlier push of the tag, this row's previous attempt) is not
        # the one in doubt; of the rest, the newest created after this attempt began is.
        candidates = sorted(
            (t for t in tasks if is_task_for(t, entry, since)), key=lambda t: t.create_time_ms, reverse=True
        )
        found = next((t for t in candidates if self.ledger.find_by_task(t.task_id) is None), None)
        now = self.clock.now()
        if found is not None:
            adopted = self._update(
                entry,
                State.SUBMITTED,
                task_id=found.task_id,
                attempts=entry.attempts + 1,
                next_check_at=now,
                extra={**_without(entry.extra, *_SUBMIT_MARKS), "submitted_at": str(now)},
            )
            if adopted is None:
                return Submission("lost_race", entry)
            log.info("sync_task_reconciled", claim_id=entry.claim_id, task_id=found.task_id)
            return Submission("reconciled", adopted)
        # Take the row over (revision bump, fresh mark) before submitting: two reconcilers cannot both submit.
        mine = self._update(
            entry, entry.state, extra={**_without(entry.extra, "abandoned"), "submitting": str(now)}
        )
        if mine is None:
            return Submission("lost_race", entry)
        return self.submit(mine, deadline=deadline, held=True)

    def _update(self, entry: LedgerEntry, state: State, **changes: object) -> LedgerEntry | None:
        moved = entry.moved_to(state, self.clock.now(), **changes)
        try:
            self.ledger.update(moved, expected_revision=entry.revision)
        except ConflictError:
            return None
        return moved

    def _fail(self, entry: LedgerEntry, exc: UpstreamRejected, error_class: str = "") -> Submission:
        failed = failed_move(entry, exc, self.clock.now(), error_class=error_class)
        try:
            self.ledger.update(failed, expected_revision=entry.revision)
        except ConflictError:
            return Submission("lost_race", entry)
        log_rejected(entry, exc)
        return Submission("failed", failed)

    def _abandon(self, entry: LedgerEntry, reason: str) -> None:
        # Best effort: if this write fails too, CLAIM_STALE_S still lets the next delivery reconcile.
        marked = abandoned_move(entry, reason, self.clock.now())
        try:
            self.ledger.update(marked, expected_revision=entry.revision)
        except Exception as exc:  # noqa: BLE001 - must not mask the original retryable error
            log.warning("claim_abandon_not_recorded", claim_id=entry.claim_id, error=str(exc))


def log_rejected(entry: LedgerEntry, exc: UpstreamRejected) -> None:
    """The one ERROR line for a row ACR (or a registry) refused for good: single and batched submits alike."""
    log.error(
        "sync_task_rejected",
        claim_id=entry.claim_id,
        rule=entry.rule,
        destination=entry.dest_ref,
        code=exc.code,
        error=str(exc),
    )
