"""The watcher's decisions, pure: given a ledger row and what ACR says of its task, what next?

``decide`` never performs I/O; the service carries its ``Decision`` out (GetRepoTag for verification,
CreateRepoSyncTask for a retry, DingTalk for alerts).
"""

from __future__ import annotations

from dataclasses import dataclass

from acrsync.domain.ledger import LedgerEntry, State, owes_alert
from acrsync.domain.registry import SyncTask, TaskStatus

# TaskIssue texts that retrying cannot fix (lower-cased substrings). ACR does not publish its TaskIssue
# vocabulary (reference §2.4 documents only the field): these are assumptions, matched loosely, and
# anything unknown is treated as transient — retried up to the attempt limit, then alerted.
PERMANENT_ISSUES = (
    "namespace not exist",
    "namespace_not_exist",
    "repo not exist",
    "repo_not_exist",
    "repository not exist",
    "noprivilege",
    "no privilege",
    "access denied",
    "forbidden",
    "not authorized",
    "instance not exist",
    "quota",
    "tag immutable",
    "tag_immutable",
)


@dataclass(frozen=True, slots=True)
class WatchPolicy:
    """Timings and limits of the watcher (defaults per product.md)."""

    stuck_after_s: float = 30 * 60
    poll_base_s: float = 30.0
    poll_cap_s: float = 300.0
    retry_base_s: float = 60.0
    retry_cap_s: float = 15 * 60
    alert_window_s: float = 60.0


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a row: ``wait``, ``verify``, ``retry``, ``fail``, ``cancel`` or ``stuck``."""

    action: str
    next_check_at: float = 0.0
    reason: str = ""
    error_class: str = ""


def is_permanent_issue(issue: str) -> bool:
    """True when a TaskIssue names a cause that a retry will not fix."""
    text = issue.lower()
    return any(marker in text for marker in PERMANENT_ISSUES)


def backoff(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff: base, 2*base, 4*base ... capped."""
    return float(min(cap, base * 2 ** max(0, attempt - 1)))


def decide(entry: LedgerEntry, task: SyncTask, now: float, policy: WatchPolicy) -> Decision:  # noqa: PLR0911 - a decision table reads best as early returns
    """The next step for a submitted row whose task ACR reports as ``task``."""
    if task.status is TaskStatus.SUCCESS:
        return Decision("verify")
    if task.status is TaskStatus.CANCELED:
        return Decision("cancel", reason=task.issue or "the sync task was cancelled", error_class="canceled")
    if task.status is TaskStatus.ERROR:
        issue = task.issue or "sync task failed without a TaskIssue"
        if is_permanent_issue(issue):
            return Decision("fail", reason=issue, error_class="task_error")
        if entry.attempts >= entry.max_attempts:
            return Decision(
                "fail", reason=f"{issue} (gave up after {entry.attempts} attempts)", error_class="task_error"
            )
        delay = backoff(entry.attempts, policy.retry_base_s, policy.retry_cap_s)
        return Decision("retry", next_check_at=now + delay, reason=issue, error_class="task_error")
    # PENDING / SYNCHRONIZING
    submitted_at = float(entry.extra.get("submitted_at") or entry.created_at)
    if now - submitted_at > policy.stuck_after_s and entry.error_class != "stuck":
        return Decision(
            "stuck",
            next_check_at=now + policy.poll_cap_s,
            reason=f"task still {task.status.value} after {int((now - submitted_at) // 60)} min",
            error_class="stuck",
        )
    polls = int(entry.extra.get("polls", "0") or 0)
    return Decision("wait", next_check_at=now + backoff(polls + 1, policy.poll_base_s, policy.poll_cap_s))


def verification(entry: LedgerEntry, found_digest: str | None) -> Decision:
    """After SUCCESS: the destination tag must hold the pushed digest."""
    if found_digest == entry.digest:
        return Decision("verified")
    found = found_digest or "no such tag"
    return Decision(
        "mismatch",
        reason=f"destination holds {found}, expected {entry.digest}",
        error_class="mismatch",
    )


def is_due(entry: LedgerEntry, now: float) -> bool:
    """Whether a row's next check time has come."""
    return entry.next_check_at <= now


def owes_failure_alert(entry: LedgerEntry) -> bool:
    """Failed/mismatched/cancelled and not yet alerted, or flagged stuck and not yet alerted."""
    return owes_alert(entry) and entry.state is not State.VERIFIED


def owes_resolved_message(entry: LedgerEntry) -> bool:
    """Alerted earlier and verified now."""
    return owes_alert(entry) and entry.state is State.VERIFIED
