"""Operator use cases: ``retry`` what failed (now or on the watcher's next tick), ``status`` of recent
replications, and ``replicate`` one image by hand (the console's "Replicate" action) through the ledger.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from acrsync.domain.copies import is_copy
from acrsync.domain.durations import parse_duration
from acrsync.domain.images import (
    INSTANCE_RE,
    NAME_RE,
    TAG_RE,
    DestinationImage,
    ImageRef,
    SourceImage,
    SyncRequest,
)
from acrsync.domain.ledger import ALERT_STATES, FINAL_STATES, LedgerEntry, State
from acrsync.domain.rules_schema import REGION_RE
from acrsync.errors import ConflictError, RetryableError, UpstreamRejected
from acrsync.logging import get_logger
from acrsync.ports import Clock, Ledger

# The replicator's own steps (fill RepoId/digest; claim then submit). Private there; the report proposes
# making them public so manual replication and backfill share them by name.
from acrsync.service.replicate import ReplicatorDeps, complete_source, replicate_request
from acrsync.service.submit import Submission, Submitter

log = get_logger(__name__)

MANUAL_RULE = "manual"


def parse_since(text: str) -> float:
    """``30m``, ``1h``, ``24h``, ``7d`` (also ``s``, ``w``) in seconds, else ``ValueError``."""
    return parse_duration(text)


def _selected(entry: LedgerEntry, rule: str, image: ImageRef | None) -> bool:
    if rule and entry.rule != rule:
        return False
    if image is None:
        return True
    return (entry.source_instance, entry.source_namespace, entry.source_repo, entry.source_tag) == (
        image.instance_id,
        image.namespace,
        image.repo,
        image.tag,
    )


def retry(
    ledger: Ledger, clock: Clock, *, rule: str = "", image: ImageRef | None = None, dry_run: bool = False
) -> list[LedgerEntry]:
    """Re-open failed, mismatched and cancelled rows (filtered) with fresh attempts; the watcher resubmits.

    Rows keep ``alerted``, so a recovery after an alert is followed by a "resolved" message.
    """
    reopened: list[LedgerEntry] = []
    now = clock.now()
    for entry in ledger.scan(states=ALERT_STATES):
        if not _selected(entry, rule, image):
            continue
        if dry_run:
            reopened.append(entry)
            continue
        # Fresh attempts: the marks of the old ones (sending, polling, submitting...) do not carry over.
        stale = ("alert_sending", "polls", "abandoned", "submitting", "found_digest")
        moved = entry.moved_to(
            State.RETRYING,
            now,
            attempts=0,
            next_check_at=now,
            task_issue="",
            error_class="",
            last_error="",
            extra={k: v for k, v in entry.extra.items() if k not in stale},
        )
        try:
            ledger.update(moved, expected_revision=entry.revision)
        except ConflictError:
            continue
        log.info(
            "replication_retry_requested", claim_id=entry.claim_id, rule=entry.rule, source=entry.source_ref
        )
        reopened.append(moved)
    return reopened


@dataclass
class StatusReport:
    """What happened since a time: counts by state, failures with reasons, open rows, latency."""

    counts: dict[str, int] = field(default_factory=dict)
    failures: list[LedgerEntry] = field(default_factory=list)
    open_rows: list[LedgerEntry] = field(default_factory=list)
    latency_s: dict[str, float] = field(default_factory=dict)

    def as_dict(self, now: float) -> dict[str, Any]:
        """JSON-able form for ``--json``."""
        return {
            "counts": self.counts,
            "failures": [
                {
                    "rule": e.rule,
                    "source": e.source_ref,
                    "digest": e.digest,
                    "destination": e.dest_ref,
                    "state": e.state.value,
                    "task_id": e.task_id,
                    "attempts": e.attempts,
                    "reason": _referrer_said(e) + (e.task_issue or e.last_error),
                    "task_issue": e.task_issue,
                    "error_class": e.error_class,
                    "age_s": round(now - e.created_at),
                }
                for e in self.failures
            ],
            "open": [
                {
                    "source": e.source_ref,
                    "destination": e.dest_ref,
                    "state": e.state.value,
                    "task_id": e.task_id,
                    "age_s": round(now - e.created_at),
                }
                for e in self.open_rows
            ],
            "push_to_verified_s": self.latency_s,
        }


def _referrer_said(row: LedgerEntry) -> str:
    """``OCI referrer of sha256:…: `` for a referrer copy row (its digest is the referrer's), else ""."""
    subject = row.extra.get("referrer_of", "")
    return f"OCI referrer of {subject[:19]}…: " if subject else ""


def status(entries: Iterable[LedgerEntry], *, failed_only: bool = False) -> StatusReport:
    """Summarise ledger rows (already filtered by time)."""
    report = StatusReport()
    durations: list[float] = []
    for e in entries:
        report.counts[e.state.value] = report.counts.get(e.state.value, 0) + 1
        if e.state in ALERT_STATES:
            report.failures.append(e)
        elif e.state not in FINAL_STATES and not failed_only:
            report.open_rows.append(e)
        if e.state is State.VERIFIED and not e.extra.get("referrer_of"):  # referrers: claimed, not pushed
            durations.append(e.updated_at - e.created_at)
    if durations:
        qs = (
            statistics.quantiles(durations, n=100, method="inclusive")
            if len(durations) > 1
            else durations * 99
        )
        report.latency_s = {"p50": round(qs[49], 1), "p90": round(qs[89], 1), "p99": round(qs[98], 1)}
    return report


def recent_status(ledger: Ledger, clock: Clock, *, since_s: float, failed_only: bool = False) -> StatusReport:
    """``status --since``: rows created in the last ``since_s`` seconds, summarised."""
    return status(ledger.scan(since=clock.now() - since_s), failed_only=failed_only)


def retry_now(rows: Iterable[LedgerEntry], submitter: Submitter, *, deadline: float) -> list[Submission]:
    """``retry --now``: submit re-opened (``retrying``) rows at once instead of on the watcher's next tick.

    Stops at the first transient failure (budget or ACR saturated): the rows left are still ``retrying``,
    so the watcher picks them up; nothing is lost.
    """
    done: list[Submission] = []
    for row in rows:
        if row.state is not State.RETRYING or is_copy(row):  # copy jobs: the watcher re-launches them
            continue
        try:
            done.append(submitter.submit(row, deadline=deadline))
        except RetryableError as exc:
            log.warning("retry_now_paused", claim_id=row.claim_id, error=str(exc))
            break
    return done


def parse_destination(text: str, source: ImageRef) -> DestinationImage:
    """``INSTANCE/REGION[/NAMESPACE/REPO:TAG]``; namespace, repository and tag default to the source's.

    Names are checked with the same patterns the rules use (``domain.images``); ``ValueError`` says why.
    """
    parts = text.strip().split("/")
    if len(parts) == 2:
        instance, region = parts
        namespace, repo, tag = source.namespace, source.repo, source.tag
    elif len(parts) == 4 and ":" in parts[3]:
        instance, region, namespace = parts[:3]
        repo, _, tag = parts[3].partition(":")
    else:
        raise ValueError(
            f"--to {text!r}: expected INSTANCE/REGION or INSTANCE/REGION/NAMESPACE/REPO:TAG, "
            "e.g. cri-dst456/cn-shanghai or cri-dst456/cn-shanghai/team-a/web:v1.2.3"
        )
    checks = (
        ("instance id", instance, INSTANCE_RE),
        ("region", region, REGION_RE),
        ("namespace", namespace, NAME_RE),
        ("repository", repo, NAME_RE),
        ("tag", tag, TAG_RE),
    )
    for label, value, rx in checks:
        if not rx.fullmatch(value):
            raise ValueError(f"--to {text!r}: {value!r} is not a valid ACR {label}")
    return DestinationImage(instance, region, namespace, repo, tag)


@dataclass(frozen=True, slots=True)
class ManualResult:
    """What ``acr-sync replicate`` did: ``submitted``, ``duplicate``, ``reconciled``, ``failed``..."""

    outcome: str
    source: str
    digest: str
    destination: str
    task_id: str = ""
    error: str = ""

    def as_dict(self) -> dict[str, str]:
        """JSON-able form."""
        return {
            "outcome": self.outcome,
            "source": self.source,
            "digest": self.digest,
            "destination": self.destination,
            "task_id": self.task_id,
            "error": self.error,
        }


def replicate_image(
    deps: ReplicatorDeps,
    source: SourceImage,
    destination: DestinationImage,
    *,
    override: bool = False,
    priority: int = 3,
    account: str = "",
    event_id: str = "manual",
    deadline: float,
) -> ManualResult:
    """Replicate one image by hand: resolve RepoId and digest, claim (rule ``manual``), submit.

    Refuses self-replication, and a ``@digest`` the tag no longer holds (ACR syncs tags, not digests).
    The watcher follows the task like any other.
    """
    if destination.same_place_as(source):
        raise UpstreamRejected(f"{source.ref} → {destination.ref}: the destination is the image itself")
    if not 1 <= priority <= 5:
        raise UpstreamRejected(f"priority {priority}: must be 1..5 (reference §2.3)")
    if account and not account.isdigit():
        raise UpstreamRejected(f"account {account!r}: expected a numeric account id (TargetUserId)")
    wanted = source.digest
    resolved = complete_source(replace(source, digest=""), deps, deadline)
    if wanted and resolved.digest != wanted:
        raise UpstreamRejected(f"{source.ref} now holds {resolved.digest}, not {wanted}: nothing replicated")
    request = SyncRequest(
        rule=MANUAL_RULE,
        source=resolved,
        destination=destination,
        override=override,
        priority=priority,
        target_account=account,
    )
    result = replicate_request(request, event_id, deps, deadline)
    log.info(
        "manual_replication", source=resolved.ref, destination=destination.ref, outcome=result["outcome"]
    )
    return ManualResult(
        outcome=result["outcome"],
        source=resolved.ref,
        digest=resolved.digest,
        destination=destination.ref,
        task_id=result.get("task_id", ""),
        error=result.get("error", ""),
    )
