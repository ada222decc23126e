"""The ledger's states and the moves between them. Pure: the adapters persist, this decides.

```
claimed ──► submitted ──► succeeded ──► verified
   │            │              ├──────► mismatch
   │            │              ├──────► unverifiable (cross-account, no role to read it with)
   │            │              └──────► failed  (the destination cannot be read to verify)
   │            ├──► verified | mismatch (SUCCESS seen and checked in one go: one write)
   │            ├──► retrying ──► submitted (re-submitted)
   │            │        └─────► failed
   │            ├──► failed            (permanent TaskIssue, or attempts exhausted)
   │            └──► canceled
   └──► failed  (CreateRepoSyncTask refused permanently)
```
A claim is taken with a conditional insert *before* ``CreateRepoSyncTask``; the task id is recorded after.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

from acrsync.domain.images import SyncRequest


class State(str, enum.Enum):
    """Where one replication stands."""

    CLAIMED = "claimed"
    SUBMITTED = "submitted"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    VERIFIED = "verified"
    MISMATCH = "mismatch"
    FAILED = "failed"
    CANCELED = "canceled"
    UNVERIFIABLE = "unverifiable"  # the task succeeded; the destination cannot be read to check it

    @property
    def is_open(self) -> bool:
        """Open rows are the watcher's work: a task may still change."""
        return self in OPEN_STATES


OPEN_STATES = frozenset({State.CLAIMED, State.SUBMITTED, State.RETRYING, State.SUCCEEDED})
FINAL_STATES = frozenset({State.VERIFIED, State.MISMATCH, State.FAILED, State.CANCELED, State.UNVERIFIABLE})
# Final states that deserve a failure alert.
ALERT_STATES = frozenset({State.MISMATCH, State.FAILED, State.CANCELED})

ALLOWED: dict[State, frozenset[State]] = {
    State.CLAIMED: frozenset({State.SUBMITTED, State.FAILED}),
    # verified / mismatch straight from submitted: a task seen SUCCESS and checked in the same invocation is
    # written once (a crash before that write leaves it submitted, and the next look reads the task again).
    State.SUBMITTED: frozenset(
        {State.SUCCEEDED, State.VERIFIED, State.MISMATCH, State.RETRYING, State.FAILED, State.CANCELED}
    ),
    State.RETRYING: frozenset({State.SUBMITTED, State.FAILED}),
    State.SUCCEEDED: frozenset({State.VERIFIED, State.MISMATCH, State.FAILED, State.UNVERIFIABLE}),
    # `retry` re-opens finished rows with fresh attempts.
    State.FAILED: frozenset({State.RETRYING}),
    State.CANCELED: frozenset({State.RETRYING}),
    State.MISMATCH: frozenset({State.RETRYING}),
    State.VERIFIED: frozenset(),
    # Re-openable like the other final states (e.g. once a role_arn is added); `acr-sync retry` itself
    # selects failed, mismatch and canceled rows only.
    State.UNVERIFIABLE: frozenset({State.RETRYING}),
}


class IllegalTransition(ValueError):
    """A move the state machine does not allow (a bug, not a race)."""


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One row: a (source image, digest, destination image) and everything known about its replication.

    ``revision`` increases with every write; conditional updates compare it (optimistic concurrency).
    Times are epoch seconds (floats) supplied by the caller's clock.
    """

    claim_id: str
    rule: str
    source_instance: str
    source_region: str
    source_namespace: str
    source_repo: str
    source_tag: str
    digest: str
    dest_instance: str
    dest_region: str
    dest_namespace: str
    dest_repo: str
    dest_tag: str
    state: State = State.CLAIMED
    task_id: str = ""
    attempts: int = 0
    max_attempts: int = 3
    override: bool = False
    priority: int = 3
    target_account: str = ""
    alert_channel: str = ""
    source_repo_id: str = ""
    event_id: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    next_check_at: float = 0.0
    last_error: str = ""
    task_issue: str = ""
    error_class: str = ""
    alerted: bool = False
    revision: int = 1
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def source_ref(self) -> str:
        """``INSTANCE/NAMESPACE/REPO:TAG`` of the source."""
        return f"{self.source_instance}/{self.source_namespace}/{self.source_repo}:{self.source_tag}"

    @property
    def dest_ref(self) -> str:
        """``INSTANCE@REGION/NAMESPACE/REPO:TAG`` of the destination."""
        return (
            f"{self.dest_instance}@{self.dest_region}/{self.dest_namespace}/{self.dest_repo}:{self.dest_tag}"
        )

    def moved_to(self, state: State, now: float, **changes: object) -> LedgerEntry:
        """The entry after a legal move to ``state`` (revision bumped), else ``IllegalTransition``."""
        if state != self.state and state not in ALLOWED[self.state]:
            raise IllegalTransition(f"{self.claim_id}: {self.state.value} -> {state.value} is not allowed")
        moved = replace(self, state=state, updated_at=now, revision=self.revision + 1, **changes)  # type: ignore[arg-type]
        # Rows that owe a message wait in the alert lane (read by the alert flush, skipped by the sweep),
        # so owed alerts never crowd live tasks out of a sweep; a row leaving the lane is due at once.
        if owes_alert(moved) or owes_event(moved):
            return replace(moved, next_check_at=ALERT_LANE)
        if moved.next_check_at == ALERT_LANE:
            return replace(moved, next_check_at=now)
        return moved


# ``next_check_at`` of rows that owe an alert: before any real time, so ``list_open(due_before=ALERT_LANE)``
# reads exactly them and ``list_open(due_after=ALERT_LANE)`` everything else.
ALERT_LANE = 0.0


def owes_alert(entry: LedgerEntry) -> bool:
    """A failure (or a stuck task) not alerted yet, or an alerted replication now verified ("resolved")."""
    if entry.state is State.VERIFIED:
        return entry.alerted
    return not entry.alerted and (entry.state in ALERT_STATES or entry.error_class == "stuck")


def needs_watch(entry: LedgerEntry) -> bool:
    """Whether the watcher still has work on this row: it is the membership rule of every open-task index.

    Open rows (a task may still change), rows that owe a message (``owes_alert``) or an event.
    """
    return entry.state in OPEN_STATES or owes_alert(entry) or owes_event(entry)


def owes_event(entry: LedgerEntry) -> bool:
    """An outcome event waits in the row's outbox (``domain.outcomes``; only with ``ACRSYNC_EVENT_BUS``)."""
    return bool(entry.extra.get("outbox"))


# Column order of a stored row; adapters serialise exactly these fields.
FIELDS: tuple[str, ...] = tuple(f for f in LedgerEntry.__dataclass_fields__)


def new_claim(request: SyncRequest, *, event_id: str, now: float, max_attempts: int = 3) -> LedgerEntry:
    """The row a replicator claims for one request, before it calls ``CreateRepoSyncTask``."""
    src, dst = request.source, request.destination
    return LedgerEntry(
        claim_id=request.claim_id,
        rule=request.rule,
        source_instance=src.instance_id,
        source_region=src.region,
        source_namespace=src.namespace,
        source_repo=src.repo,
        source_tag=src.tag,
        digest=src.digest,
        dest_instance=dst.instance_id,
        dest_region=dst.region,
        dest_namespace=dst.namespace,
        dest_repo=dst.repo,
        dest_tag=dst.tag,
        override=request.override,
        priority=request.priority,
        target_account=request.target_account,
        alert_channel=request.alert_channel,
        source_repo_id=src.repo_id,
        event_id=event_id,
        max_attempts=max_attempts,
        created_at=now,
        updated_at=now,
        next_check_at=now,
        extra=dict(request.copy),
    )


def is_reverse_of(entry: LedgerEntry, request: SyncRequest) -> bool:
    """True when ``entry`` replicated *into* the request's source: the loop guard's verdict."""
    src = request.source
    return (
        entry.dest_instance,
        entry.dest_region,
        entry.dest_namespace,
        entry.dest_repo,
        entry.dest_tag,
    ) == (
        src.instance_id,
        src.region,
        src.namespace,
        src.repo,
        src.tag,
    )
