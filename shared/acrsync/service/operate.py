"""Operator use cases over the ledger: ``retry`` what failed, and ``status`` of recent replications."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from acrsync.domain.images import ImageRef
from acrsync.domain.ledger import ALERT_STATES, FINAL_STATES, LedgerEntry, State
from acrsync.errors import ConflictError
from acrsync.logging import get_logger
from acrsync.ports import Clock, Ledger

log = get_logger(__name__)


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
        moved = entry.moved_to(
            State.RETRYING, now, attempts=0, next_check_at=now, task_issue="", error_class="", last_error=""
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
                    "reason": e.task_issue or e.last_error,
                }
                for e in self.failures
            ],
            "open": [
                {
                    "source": e.source_ref,
                    "destination": e.dest_ref,
                    "state": e.state.value,
                    "age_s": round(now - e.created_at),
                }
                for e in self.open_rows
            ],
            "push_to_verified_s": self.latency_s,
        }


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
        if e.state is State.VERIFIED:
            durations.append(e.updated_at - e.created_at)
    if durations:
        qs = (
            statistics.quantiles(durations, n=100, method="inclusive")
            if len(durations) > 1
            else durations * 99
        )
        report.latency_s = {"p50": round(qs[49], 1), "p90": round(qs[89], 1), "p99": round(qs[98], 1)}
    return report
