"""The reconciler's referrer step: tagless OCI 1.1 referrers follow their image, level-triggered.

``cosign sign`` / ``notation sign`` / ``oras attach`` in OCI 1.1 mode push a manifest whose ``subject`` is
the image, after the image was pushed, and create no tag (so, most likely, no push event). Each pass, as
each source repository is audited, its tags updated within ``ACRSYNC_REFERRERS_WINDOW_HOURS`` whose
destinations have ``companions`` on are the candidates (``domain.referrers.follows``: from the audit's own
``ListRepoTag``, no call of their own); their ledger rows, read by key, say which were replicated
(``verified``). For every such subject this lists the subject's referrers at the source
(``GET /v2/<name>/referrers/<digest>``: once per source image however many destinations) and at each
destination, and copies each one missing there: claimed first (one key per subject, referrer and
destination), then copied and read back by digest in this process (``copy_jobs.run_here`` over
``service.copy``: blobs and manifests already there are skipped). A failed copy stays on its row: the
watcher retries and alerts it as any copy row. Copy destinations are reached through their registry client;
ACR destinations through the destination instance's own registry. A registry without the referrers API
(404) is logged once per slice and skipped; other registry failures skip that subject or destination.

Registry calls per recent subject when nothing is missing: 1 at the source + 1 per destination (and one
``GetAuthorizationToken`` per ACR instance per hour). Ledger reads: one ``get_many`` per source repository
with recent candidates (⌈candidates/100⌉ BatchGetRow) plus one per destination with missing referrers —
never a range read, so a pass costs the same however long the ledger's history is.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from acrsync.domain.ledger import LedgerEntry
from acrsync.domain.oci import Descriptor, ManifestError
from acrsync.domain.referrers import (
    Candidate,
    Subject,
    in_window,
    place,
    recent_subjects,
    referrer_claim,
    referrer_row,
)
from acrsync.errors import AlreadyClaimed, UpstreamRejected, UpstreamUnavailable
from acrsync.logging import get_logger
from acrsync.service.copy import Place
from acrsync.service.copy_jobs import CopyDeps, dest_place, run_here

log = get_logger(__name__)

# A registry that failed (after the client's own retries), refused us, or answered an unreadable index:
# that subject or destination is skipped this pass, the next pass tries again.
_UNREADABLE = (UpstreamUnavailable, UpstreamRejected, ManifestError)
_OUTCOMES = {"verified": "copied", "retrying": "retrying", "failed": "failed", "mismatch": "failed"}


@dataclass(frozen=True, slots=True)
class ReferrerDeps:
    """The copy machinery (ledger, clock, registry clients; its launcher is not used here) and the window."""

    copies: CopyDeps
    window_s: float


@dataclass
class ReferrerStep:
    """One slice's work on referrers: counts for the pass summary, and where to resume."""

    counts: dict[str, int] = field(default_factory=dict)
    stopped: bool = False  # the slice ran out of time before the last subject
    resume_after: str = ""  # then: the last subject done ("" if none)
    unsupported: set[str] = field(default_factory=set)  # registries already logged as lacking the API

    def add(self, what: str, n: int = 1) -> None:
        """Count ``n`` of ``what`` (``subjects``, ``copied``, ``present``, ``failed``, ...)."""
        self.counts[what] = self.counts.get(what, 0) + n


def follow_referrers(
    deps: ReferrerDeps,
    candidates: Sequence[Candidate],
    *,
    event_id: str,
    after: str,
    time_left: Callable[[], bool],
) -> ReferrerStep:
    """Copy the missing referrers of the subjects among ``candidates`` (one source repository's recently
    updated tags, ``domain.referrers.follows``) after ``after`` (a subject key) while ``time_left()``.

    The ledger is read once: ``get_many`` of the candidates' claim keys (one BatchGetRow per 100)."""
    step = ReferrerStep()
    if deps.window_s <= 0 or not candidates:
        return step
    since = deps.copies.clock.now() - deps.window_s
    by_key = {c.claim_id: c for c in candidates}
    rows = deps.copies.ledger.get_many(list(by_key))
    fresh = (row for key, row in rows.items() if in_window(row, by_key[key], since))
    for subject in recent_subjects(fresh, after=after):
        if not time_left():
            step.stopped, step.resume_after = True, after
            return step
        _subject(deps, subject, step, event_id)
        after = subject.key
    return step


def referrer_step(
    deps: ReferrerDeps,
    candidates: Sequence[Candidate],
    cursor: MutableMapping[str, Any],
    counts: dict[str, int],
    *,
    event_id: str,
    time_left: Callable[[], bool],
) -> bool:
    """The reconciler's use, after a repository's audit: resume after the cursor's ``referrers_after``, add
    the counts to ``counts``; False when time ran out (the cursor then holds the last subject done, and the
    repository is audited again by the next slice); True clears ``referrers_after``."""
    step = follow_referrers(
        deps,
        candidates,
        event_id=event_id,
        after=str(cursor.get("referrers_after", "")),
        time_left=time_left,
    )
    for what, n in step.counts.items():
        counts[what] = counts.get(what, 0) + n
    if step.stopped:
        cursor["referrers_after"] = step.resume_after
    else:
        cursor.pop("referrers_after", None)
    return not step.stopped


def close_clients(deps: ReferrerDeps) -> None:
    """Idle registry connections do not outlive the slice (FC freezes the instance between ticks)."""
    for factory in (deps.copies.source, deps.copies.destination):
        close = getattr(factory, "close", None)
        if close is not None:
            close()


def _subject(deps: ReferrerDeps, subject: Subject, step: ReferrerStep, event_id: str) -> None:
    row = subject.first
    step.add("subjects")
    try:
        src = Place(
            deps.copies.source(row.source_instance, row.source_region),
            f"{row.source_namespace}/{row.source_repo}",
        )
        wanted = _listed(src, row.digest, step)
    except _UNREADABLE as exc:
        step.add("unreadable")
        log.warning("referrers_source_unreadable", subject=subject.key, error=str(exc))
        return
    if not wanted:
        return
    for dest_row in subject.rows:
        try:
            _destination(deps, subject, dest_row, wanted, step=step, event_id=event_id)
        except _UNREADABLE as exc:
            step.add("unreadable")
            log.warning("referrers_destination_unreadable", destination=place(dest_row), error=str(exc))


def _listed(where: Place, digest: str, step: ReferrerStep) -> list[Descriptor] | None:
    """The referrers of ``digest`` at ``where``; None (logged once per registry) without the API."""
    step.add("registry_calls")
    found = where.client.list_referrers(where.repo, digest)
    if found is None and where.client.host not in step.unsupported:
        step.unsupported.add(where.client.host)
        step.add("unsupported")
        log.warning(
            "referrers_api_unsupported",
            registry=where.client.host,
            repository=where.repo,
            detail="GET /v2/<name>/referrers/<digest> answered 404: tagless referrers are not followed "
            "to or from this registry (cosign's .sig/.att/.sbom tags still are)",
        )
    return found


def _destination(
    deps: ReferrerDeps,
    subject: Subject,
    dest_row: LedgerEntry,
    wanted: list[Descriptor],
    *,
    step: ReferrerStep,
    event_id: str,
) -> None:
    dst = dest_place(dest_row, deps.copies)
    # Without the API at the destination nothing is known to be there: the ledger's keys decide alone.
    present = {d.digest for d in _listed(dst, dest_row.digest, step) or []}
    missing = [d for d in wanted if d.digest not in present]
    step.add("present", len(wanted) - len(missing))
    if not missing:
        return
    keys = {d.digest: referrer_claim(dest_row.digest, d.digest, place(dest_row)) for d in missing}
    claimed = deps.copies.ledger.get_many(list(keys.values()))
    for ref in missing:
        if keys[ref.digest] in claimed:  # copied (or failed and alerted, or retrying) by an earlier pass
            step.add("claimed_before")
            continue
        now = deps.copies.clock.now()
        claim = referrer_row(dest_row, ref, event_id=event_id, now=now)
        try:
            deps.copies.ledger.claim(claim)
        except AlreadyClaimed:  # another reconciler run took it a moment ago
            step.add("claimed_before")
            continue
        outcome = run_here(claim, deps.copies)
        step.add(_OUTCOMES.get(outcome, outcome))
        log.info(
            "referrer_followed",
            subject=subject.key,
            referrer=ref.digest,
            artifact_type=ref.artifact_type,
            destination=place(dest_row),
            outcome=outcome,
            claim_id=claim.claim_id,
        )
