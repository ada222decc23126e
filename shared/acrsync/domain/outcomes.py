"""Outcome events: which outcomes a ledger row has reached, its outbox, and the CloudEvent for each. Pure.

An outcome is one of ``OUTCOMES``. Each (claim, outcome) is published once, with a stable id
(``event_id``), so consumers de-duplicate on ``id``. The outbox lives *in the ledger row*
(``extra["outbox"]``: outcomes owed, each with the time it was reached; ``extra["published"]``: outcomes
already sent), so it is written by the same conditional write that records the outcome: nothing can be
recorded without its event being owed, and a crash or an EventBridge outage only delays the event.
A row that owes an event waits in the alert lane (``ledger.ALERT_LANE``) until the publisher clears it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from acrsync.domain.ledger import ALERT_LANE, LedgerEntry, State, owes_alert

OUTBOX = "outbox"
PUBLISHED = "published"
OUTCOMES = (
    "verified",
    "failed",
    "mismatch",
    "stuck",
    "canceled",
    "resolved",
    "unverifiable",
    "conflict",
    "pruned",
)
TROUBLE = frozenset({"failed", "mismatch", "stuck", "canceled"})
SOURCE = "acr-sync"
TYPE_PREFIX = "acrsync:Replication:"
_STATE_OUTCOME = {
    State.VERIFIED: "verified",
    State.FAILED: "failed",
    State.MISMATCH: "mismatch",
    State.CANCELED: "canceled",
    State.UNVERIFIABLE: "unverifiable",  # replicated, but no role to read the other account's destination
}
# Reconciler drift notices (rows whose ``extra["notice"]`` names the kind) that are outcomes of an image:
# a tag acr-sync did not put there (conflict) and a tag it deleted because the rule prunes (pruned). The
# other notices (events missed, unreachable, backup) are about the pipeline, not one image: alerts only.
_NOTICE_OUTCOMES = frozenset({"conflict", "pruned"})


def parse_outbox(text: str) -> dict[str, float]:
    """``"verified@1700000000.0,resolved@..."`` → ``{"verified": 1700000000.0, ...}``."""
    owed: dict[str, float] = {}
    for item in filter(None, text.split(",")):
        name, _, when = item.partition("@")
        owed[name] = float(when or 0)
    return owed


def format_outbox(owed: Mapping[str, float]) -> str:
    """The inverse of ``parse_outbox``, in ``OUTCOMES`` order."""
    return ",".join(f"{o}@{owed[o]!r}" for o in OUTCOMES if o in owed)


def published(entry: LedgerEntry) -> set[str]:
    """Outcomes of this row already published."""
    return set(filter(None, entry.extra.get(PUBLISHED, "").split(",")))


def owed(entry: LedgerEntry) -> dict[str, float]:
    """Outcomes of this row waiting to be published, with when each was reached."""
    return parse_outbox(entry.extra.get(OUTBOX, ""))


def reached(entry: LedgerEntry, history: Iterable[str]) -> list[str]:
    """The outcomes ``entry`` stands at now: its final state's, "stuck" for a stuck open task, and
    "resolved" for a verification after any trouble outcome in ``history``."""
    notice = entry.extra.get("notice")
    if notice:
        return [notice] if notice in _NOTICE_OUTCOMES else []
    found = []
    outcome = _STATE_OUTCOME.get(entry.state)
    if outcome:
        found.append(outcome)
    if entry.state.is_open and entry.error_class == "stuck":
        found.append("stuck")
    if entry.state is State.VERIFIED and TROUBLE & set(history):
        found.append("resolved")
    return found


def with_outbox(entry: LedgerEntry, prior: LedgerEntry | None) -> LedgerEntry:
    """``entry`` as it must be written: the outbox and published lists merged from ``prior`` (the stored row
    at the revision this write replaces; callers' copies may lack them), plus any outcome newly reached.
    A row that owes an event is put in the alert lane so the publisher finds it."""
    done = published(entry) | (published(prior) if prior else set())
    due = {**(owed(prior) if prior else {}), **owed(entry)}
    for outcome in reached(entry, done | set(due)):
        due.setdefault(outcome, entry.updated_at)
    due = {o: t for o, t in due.items() if o not in done}
    extra = {**entry.extra, OUTBOX: format_outbox(due), PUBLISHED: ",".join(o for o in OUTCOMES if o in done)}
    extra = {k: v for k, v in extra.items() if v or k not in (OUTBOX, PUBLISHED)}
    moved = replace(entry, extra=extra)
    if due:
        return replace(moved, next_check_at=ALERT_LANE)
    return moved


def after_publish(entry: LedgerEntry, sent: Iterable[str], now: float) -> LedgerEntry:
    """The row once ``sent`` outcomes were accepted by the bus (revision bumped; out of the lane if it owes
    nothing more)."""
    sent = set(sent)
    due = {o: t for o, t in owed(entry).items() if o not in sent}
    done = published(entry) | sent
    extra = {**entry.extra, OUTBOX: format_outbox(due), PUBLISHED: ",".join(o for o in OUTCOMES if o in done)}
    extra = {k: v for k, v in extra.items() if v or k != OUTBOX}
    # updated_at is left alone: it is when the row last changed state, and alert windows group on it.
    moved = replace(entry, extra=extra, revision=entry.revision + 1)
    if not due and not owes_alert(moved) and moved.next_check_at == ALERT_LANE:
        return replace(moved, next_check_at=now)
    return moved


def event_id(claim_id: str, outcome: str) -> str:
    """The same id for the same (claim, outcome), on every attempt: consumers de-duplicate on it."""
    digest = hashlib.sha256(f"acr-sync:{claim_id}:{outcome}".encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def cloud_event(entry: LedgerEntry, outcome: str, when_iso: str) -> dict[str, Any]:
    """The CloudEvent (docs/outcome-event.schema.json) for one outcome of one row."""
    return {
        "specversion": "1.0",
        "id": event_id(entry.claim_id, outcome),
        "source": SOURCE,
        "type": TYPE_PREFIX + outcome.capitalize(),
        "subject": f"{entry.dest_instance}/{entry.dest_namespace}/{entry.dest_repo}:{entry.dest_tag}",
        "time": when_iso,
        "datacontenttype": "application/json",
        "data": {
            "outcome": outcome,
            "claimId": entry.claim_id,
            "rule": entry.rule,
            "source": _place(
                entry.source_instance, entry.source_region, entry.source_namespace, entry.source_repo
            ),
            "sourceTag": entry.source_tag,
            "digest": entry.digest,
            "destination": _place(
                entry.dest_instance, entry.dest_region, entry.dest_namespace, entry.dest_repo
            ),
            "destinationTag": entry.dest_tag,
            "syncTaskId": entry.task_id,
            "attempts": entry.attempts,
            "taskIssue": entry.task_issue,
            "errorClass": entry.error_class,
            # a tagless OCI referrer's copy (domain.referrers): ``digest`` is the referrer's, no tag written
            **({"referrerOf": entry.extra["referrer_of"]} if entry.extra.get("referrer_of") else {}),
        },
    }


def _place(instance: str, region: str, namespace: str, repo: str) -> dict[str, str]:
    return {"instanceId": instance, "regionId": region, "namespace": namespace, "repository": repo}
