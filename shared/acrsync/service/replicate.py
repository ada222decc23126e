"""The replicator's use case: one push event in, exactly one sync task per matched destination out.

parse + authorise → evaluate rules (cached) → fill digest/RepoId if the event lacks them → for each
request: claim in the ledger (conditional insert) → ``CreateRepoSyncTask`` → record the task id.
Bad events are refused with a structured log line and a normal return (no FC retry storm); transient
upstream failures propagate as ``RetryableError`` so FC redelivers, which the claims make safe.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from acrsync.domain.copies import is_copy
from acrsync.domain.events import PushCompleted, RawDataPolicy
from acrsync.domain.images import SourceImage, SyncRequest
from acrsync.domain.ledger import LedgerEntry, State, is_reverse_of, new_claim
from acrsync.domain.oci import companion_subject
from acrsync.domain.rules_eval import RuleIndex, evaluate
from acrsync.errors import AlreadyClaimed, UpstreamRejected
from acrsync.logging import bind, get_logger
from acrsync.ports import Clock, Ledger, RegistryApi
from acrsync.service.companions import existing_companions, requests_for_companion_push
from acrsync.service.gate import CallGate
from acrsync.service.intake import Refusal, read_delivery
from acrsync.service.submit import FIRST_CHECK_S, Submitter
from acrsync.service.submit_batch import submit_claimed

if TYPE_CHECKING:
    from acrsync.service.copy_jobs import CopyDeps

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ReplicatorDeps:
    """What the replicator needs, wired once per function instance by the bootstrap."""

    rules: Callable[[], RuleIndex]
    ledger: Ledger
    registry: Callable[[str], RegistryApi]
    gate: CallGate
    clock: Clock
    allowed_accounts: frozenset[str]
    submitter: Submitter
    max_event_bytes: int = 256 * 1024
    raw_data: RawDataPolicy = field(default_factory=RawDataPolicy)
    copies: CopyDeps | None = None  # copy destinations (``registry:``); None when no copier is wired


@dataclass
class PushOutcome:
    """The invocation's result: per destination what happened, and a status for the FC response."""

    status: str = "ok"
    event_ids: list[str] = field(default_factory=list)
    results: list[dict[str, str]] = field(default_factory=list)
    reason: str = ""

    def count(self, outcome: str) -> int:
        """How many destinations ended with ``outcome``."""
        return sum(1 for r in self.results if r["outcome"] == outcome)

    def as_response(self) -> dict[str, Any]:
        """The JSON-able dict the handler returns to FC (and ``acr-sync invoke`` prints)."""
        out: dict[str, Any] = {"status": self.status, "event_ids": self.event_ids, "results": self.results}
        if self.reason:
            out["reason"] = self.reason
        return out


def handle_push(raw: bytes | str, deps: ReplicatorDeps, *, deadline: float) -> PushOutcome:
    """Handle one delivery (one event, or a list of them) from EventBridge. ``deadline`` is monotonic."""
    outcome = PushOutcome()
    events = read_delivery(
        raw, allowed_accounts=deps.allowed_accounts, raw_data=deps.raw_data, max_bytes=deps.max_event_bytes
    )
    if isinstance(events, Refusal):
        return PushOutcome(status="refused", reason=events.text)
    for event in events:
        if not isinstance(event, PushCompleted):
            log.warning("event_refused", reason="unsupported_type", kind=type(event).__name__)
            outcome.status, outcome.reason = "refused", "unsupported_type: the replicator takes PushCompleted"
            continue
        for warning in event.warnings:
            log.warning("event_shape_warning", detail=warning)
        outcome.event_ids.append(event.event_id)
        _replicate_push(event, deps, deadline, outcome)
    log.info(
        "push_handled",
        status=outcome.status,
        submitted=outcome.count("submitted"),
        duplicate=outcome.count("duplicate"),
        loop_guard=outcome.count("loop_guard"),
        failed=outcome.count("failed"),
        matched=len(outcome.results),
    )
    return outcome


def _replicate_push(
    event: PushCompleted, deps: ReplicatorDeps, deadline: float, outcome: PushOutcome
) -> None:
    image = event.source_image
    bind(image=image.ref)
    if companion_subject(image.tag):  # a cosign signature/attestation/SBOM: it follows its subject
        _replicate_companion(event, deps, deadline, outcome)
        return
    refused: list[tuple[SyncRequest, str]] = []
    requests = evaluate(deps.rules(), image, refused)
    for request, why in refused:  # a template gave a bad name: recorded and alerted, never submitted
        outcome.results.append(
            _record_unreplicable(request, event.event_id, why, deps, error_class="invalid_destination")
        )
    if not requests:
        if not refused:
            log.info("no_rule_matched", image=image.ref)
        return
    try:
        image = complete_source(image, deps, deadline)
    except UpstreamRejected as exc:
        # The tag or repository is gone (deleted right after the push?): record why, per destination.
        for request in requests:
            outcome.results.append(_record_unreplicable(request, event.event_id, str(exc), deps))
        return
    requests = [replace(request, source=image) for request in requests]
    outcome.results.extend(replicate_requests(requests, event.event_id, deps, deadline))
    api = deps.registry(image.region)

    def lookup(tag: str) -> str | None:
        found = deps.gate.call(
            lambda: api.get_repo_tag(image.instance_id, image.repo_id, tag),
            deadline=deadline,
            what="GetRepoTag",
        )
        return found.digest if found is not None else None

    companions = list(existing_companions(image, requests, lookup))
    if companions:
        outcome.results.extend(replicate_requests(companions, event.event_id, deps, deadline))


def _replicate_companion(
    event: PushCompleted, deps: ReplicatorDeps, deadline: float, outcome: PushOutcome
) -> None:
    try:
        image = complete_source(event.source_image, deps, deadline)
    except UpstreamRejected as exc:
        log.warning("companion_source_missing", image=event.source_image.ref, error=str(exc))
        return
    api = deps.registry(image.region)
    tags = deps.gate.call(
        lambda: list(api.list_repo_tags(image.instance_id, image.repo_id)),
        deadline=deadline,
        what="ListRepoTag",
    )
    found = list(requests_for_companion_push(image, deps.rules(), deps.ledger, tags))
    if found:
        outcome.results.extend(replicate_requests(found, event.event_id, deps, deadline))


def complete_source(image: SourceImage, deps: ReplicatorDeps, deadline: float) -> SourceImage:
    """Fill RepoId and digest from ACR when they are missing (the push payload is UNVERIFIED)."""
    if image.repo_id and image.digest:
        return image
    api = deps.registry(image.region)
    repo_id = image.repo_id
    if not repo_id:
        # A repository the adapter already knows costs no call, so it spends no budget token either.
        repo = api.cached_repository(image.instance_id, image.namespace, image.repo) or deps.gate.call(
            lambda: api.get_repository(image.instance_id, image.namespace, image.repo),
            deadline=deadline,
            what="GetRepository",
        )
        if repo is None:
            raise UpstreamRejected(f"repository {image.repository} not found in {image.instance_id}")
        repo_id = repo.repo_id
    digest = image.digest
    if not digest:
        tag = deps.gate.call(
            lambda: api.get_repo_tag(image.instance_id, repo_id, image.tag),
            deadline=deadline,
            what="GetRepoTag",
        )
        if tag is None:
            raise UpstreamRejected(f"tag {image.ref} not found (deleted after the push?)")
        digest = tag.digest
    return replace(image, repo_id=repo_id, digest=digest)


def _result(
    request: SyncRequest, outcome: str, entry: LedgerEntry | None = None, error: str = ""
) -> dict[str, str]:
    out = {"rule": request.rule, "destination": request.destination.ref, "outcome": outcome}
    if entry is not None and entry.task_id:
        out["task_id"] = entry.task_id
    if error:
        out["error"] = error
    return out


def replicate_request(
    request: SyncRequest, event_id: str, deps: ReplicatorDeps, deadline: float
) -> dict[str, str]:
    """Claim one request in the ledger, then submit it (``replicate_requests`` with one request)."""
    return replicate_requests([request], event_id, deps, deadline)[0]


def replicate_requests(
    requests: Sequence[SyncRequest], event_id: str, deps: ReplicatorDeps, deadline: float
) -> list[dict[str, str]]:
    """Claim every request in one batch, then submit the ones won; a claim that exists is a duplicate, a
    loop, or stale. One result per request, in order.

    The one path from a decision to a sync task: the replicator, backfill and ``acr-sync replicate`` use it.
    Store round trips are constant in the number of requests (docs/tables.md, "One pushed tag"): the
    claims, one budget decision, the creates, one batched record of the task ids.
    """
    now = deps.clock.now()
    # Claimed at the first check time the task will have, so recording the task id moves no index row.
    entries: dict[str, LedgerEntry] = {}
    for request in requests:
        entry = new_claim(request, event_id=event_id, now=now)
        if not is_copy(entry):  # a copy job's check time is the copier's (copy_jobs.launch)
            entry = replace(entry, next_check_at=now + FIRST_CHECK_S)
        entries.setdefault(request.claim_id, entry)
    results = {r.claim_id: r for r in deps.ledger.claim_many(list(entries.values()))}
    taken = [cid for cid, r in results.items() if r.status == "exists"]
    existing = deps.ledger.get_many(taken) if taken else {}
    mine = [entries[cid] for cid, r in results.items() if r.ok]
    copies = {e.claim_id: _launch_copy(e, deps) for e in mine if is_copy(e)}
    syncs = [e for e in mine if not is_copy(e)]
    done = {s.entry.claim_id: s for s in submit_claimed(deps.submitter, syncs, deadline=deadline)}
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for request in requests:
        cid = request.claim_id
        if cid in seen:  # two rules asked for the same destination image: the first one's task serves both
            out.append(_result(request, "duplicate"))
            continue
        seen.add(cid)
        if cid in copies:
            copy_outcome, row, error = copies[cid]
            out.append(_result(request, copy_outcome, row, error))
        elif cid in done:
            sub = done[cid]
            error = sub.entry.last_error if sub.outcome == "failed" else ""
            out.append(_result(request, sub.outcome, sub.entry, error))
        elif results[cid].status == "exists":
            out.append(_on_existing_claim(request, existing.get(cid), deps, deadline))
    failed = [r.error for r in results.values() if r.status == "error" and r.error is not None]
    if failed:
        raise failed[0]  # FC redelivers; the claims won above make that safe
    return out


def _launch_copy(entry: LedgerEntry, deps: ReplicatorDeps) -> tuple[str, LedgerEntry, str]:
    """A ``registry:`` destination: the claimed row goes to the copier (the watcher follows it)."""
    if deps.copies is None:
        reason = "copy destinations need the copier: this function was deployed without one"
        failed = entry.moved_to(
            State.FAILED, deps.clock.now(), last_error=reason, error_class="copy_rejected"
        )
        deps.ledger.update(failed, expected_revision=entry.revision)
        log.error("copy_not_configured", claim_id=entry.claim_id, destination=entry.dest_ref)
        return "failed", failed, reason
    from acrsync.service.copy_jobs import launch  # only when a rule has a copy destination (cold start)

    outcome, row = launch(entry, deps.copies)
    return outcome, row, row.last_error if outcome == "failed" else ""


def _on_existing_claim(
    request: SyncRequest, row: LedgerEntry | None, deps: ReplicatorDeps, deadline: float
) -> dict[str, str]:
    if row is None:  # expired by TTL between the two calls: treat as already handled long ago
        return _result(request, "duplicate")
    if is_reverse_of(row, request):
        log.info("loop_guard", image=request.source.ref, came_from=row.source_ref, claim_id=row.claim_id)
        return _result(request, "loop_guard", row)
    if is_copy(row):  # a copy job's stale claim is the watcher's (copy_jobs.follow), never a sync task's
        log.info("duplicate_delivery", claim_id=row.claim_id, state=row.state.value, task_id=row.task_id)
        return _result(request, "duplicate", row)
    if deps.submitter.needs_reconcile(row):
        done = deps.submitter.reconcile(row, deadline=deadline)
        return _result(request, done.outcome, done.entry)
    log.info("duplicate_delivery", claim_id=row.claim_id, state=row.state.value, task_id=row.task_id)
    return _result(request, "duplicate", row)


def _record_unreplicable(
    request: SyncRequest,
    event_id: str,
    reason: str,
    deps: ReplicatorDeps,
    error_class: str = "source_missing",
) -> dict[str, str]:
    """A failed ledger row (the watcher alerts it) for a request that cannot be submitted."""
    now = deps.clock.now()
    entry = new_claim(request, event_id=event_id, now=now)
    failed = entry.moved_to(State.FAILED, now, last_error=reason, error_class=error_class)
    try:
        deps.ledger.claim(failed)
    except AlreadyClaimed:
        return _result(request, "duplicate")
    event = "source_image_missing" if error_class == "source_missing" else "destination_name_invalid"
    log.error(
        event, rule=request.rule, image=request.source.ref, destination=request.destination.ref, error=reason
    )
    return _result(request, "failed", failed, reason)
