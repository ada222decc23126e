"""Copy jobs: ledger rows for ``registry:`` destinations, run by the copier function, followed by the watcher.

The same exactly-once discipline as sync tasks: the replicator claims the row *before* anything is copied,
moves it to ``submitted`` (``task_id`` = ``copy-<attempt>``) and hands the claim id to the copier
(``CopyLauncher``: FC async invocation in the cloud, in-process locally). The copier copies (streamed,
verified, resumable: ``service.copy``) and records ``verified`` / ``mismatch`` / ``retrying`` / ``failed``.
The watcher re-launches due ``retrying`` rows, and ``submitted`` rows whose copier never reported (the
invocation died) once ``COPY_TIMEOUT_S`` passed; attempts are bounded by the row's ``max_attempts``.
A second run of the same job is harmless: the copy skips what is already there.

Referrer rows (``referrer_of``, claimed by the reconciler: ``service/referrers.py``) are copy rows too: the
manifest is copied by digest and read back by digest, no tag is written, and their destination may also be
an ACR EE instance's registry (reached as sources are: ``ListInstanceEndpoint`` + ``GetAuthorizationToken``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from acrsync.domain.copies import is_copy, is_referrer
from acrsync.domain.images import COPY_REGION
from acrsync.domain.ledger import LedgerEntry, State
from acrsync.domain.oci import ManifestError, parse_registry_target
from acrsync.domain.watch import backoff
from acrsync.errors import ConflictError, UpstreamRejected, UpstreamUnavailable
from acrsync.logging import get_logger
from acrsync.ports import Clock, CopyLauncher, Ledger, RegistryClient
from acrsync.service.copy import Place, copy_image
from acrsync.service.submit import CLAIM_STALE_S

__all__ = ["CopyDeps", "dest_place", "follow", "is_copy", "launch", "run", "run_here"]

log = get_logger(__name__)

# Longer than the copier's FC timeout (s.yaml: 3600 s): a submitted copy older than this died unreported.
COPY_TIMEOUT_S = 3900.0
RETRY_BASE_S, RETRY_CAP_S = 60.0, 900.0


@dataclass(frozen=True, slots=True)
class CopyDeps:
    """What launching, running and following copy jobs needs (wired once per instance by the bootstrap).

    ``source(instance_id, region)`` gives the client of an ACR EE instance's registry (endpoint from
    ``ListInstanceEndpoint``, credentials from ``GetAuthorizationToken``); ``destination(registry,
    credentials_env)`` the client of a rules-file registry (credentials read from that variable).
    """

    ledger: Ledger
    clock: Clock
    launcher: CopyLauncher
    source: Callable[[str, str], RegistryClient]
    destination: Callable[[str, str], RegistryClient]


def _write(row: LedgerEntry, state: State, deps: CopyDeps, **changes: Any) -> LedgerEntry | None:
    moved = row.moved_to(state, deps.clock.now(), **changes)
    try:
        deps.ledger.update(moved, expected_revision=row.revision)
    except ConflictError:
        return None
    return moved


def _submit(row: LedgerEntry, deps: CopyDeps) -> LedgerEntry | None:
    now = deps.clock.now()
    attempt = row.attempts + 1
    return _write(
        row,
        State.SUBMITTED,
        deps,
        task_id=f"copy-{attempt}",
        attempts=attempt,
        next_check_at=now + COPY_TIMEOUT_S,
        extra={**row.extra, "submitted_at": str(now)},
    )


def run_here(row: LedgerEntry, deps: CopyDeps) -> str:
    """Submit a claimed row and copy it in this process, now (the reconciler's referrers: a few KB each);
    the outcome as ``run`` gives it. Retries are the watcher's, through the copier, as for any copy row."""
    moved = _submit(row, deps)
    return "lost_race" if moved is None else run(moved.claim_id, deps)


def launch(row: LedgerEntry, deps: CopyDeps) -> tuple[str, LedgerEntry]:
    """Move a claimed/retrying/timed-out row to ``submitted`` and hand it to the copier."""
    moved = _submit(row, deps)
    if moved is None:
        return "lost_race", row
    attempt = moved.attempts
    try:
        deps.launcher.launch(moved.claim_id)
    except (
        UpstreamUnavailable
    ) as exc:  # the row stays submitted: the watcher re-launches it after the timeout
        log.warning("copy_launch_failed", claim_id=row.claim_id, error=str(exc))
    except UpstreamRejected as exc:  # FC refused for good (no such function, no permission): say so now,
        # rather than let the row wait out three copier timeouts and fail as "did not finish"
        reason = (
            f"the copier could not be started ({exc}): check that ACRSYNC_COPIER_FUNCTION names the deployed "
            "copier and that the role may fc:InvokeFunction on it (deploy/README.md), then acr-sync retry"
        )
        _failed_attempt(moved, deps, reason, transient=False)
        return "failed", deps.ledger.get(row.claim_id) or moved
    log.info("copy_launched", claim_id=row.claim_id, attempt=attempt, destination=row.dest_ref)
    return "submitted", deps.ledger.get(row.claim_id) or moved


def run(claim_id: str, deps: CopyDeps) -> str:
    """The copier's use case: copy one row's image and record the outcome; returns it (for the response)."""
    row = deps.ledger.get(claim_id)
    if row is None or not is_copy(row):
        log.warning("copy_job_unknown", claim_id=claim_id)
        return "unknown"
    if row.state is not State.SUBMITTED:  # already finished, or re-launched meanwhile: nothing to do
        log.info("copy_job_not_open", claim_id=claim_id, state=row.state.value)
        return "not_open"
    try:
        src = Place(
            deps.source(row.source_instance, row.source_region), row.source_namespace + "/" + row.source_repo
        )
        dst = dest_place(row, deps)
        result = copy_image(
            src,
            row.source_tag,
            dst,
            "" if is_referrer(row) else row.dest_tag,  # a referrer is found by its subject, never by a tag
            companions=bool(row.extra.get("companions")),
            expect_digest=row.digest,
        )
    except UpstreamUnavailable as exc:
        return _failed_attempt(row, deps, str(exc), transient=True)
    except UpstreamRejected as exc:
        return _failed_attempt(row, deps, str(exc), transient=False)
    except ManifestError as exc:  # the registry served a manifest we cannot read: the same on every attempt
        return _failed_attempt(row, deps, f"unreadable manifest: {str(exc)[:300]}", transient=False)
    return _finish(row, deps, result.digest, result.stats.as_extra())


def dest_place(row: LedgerEntry, deps: CopyDeps) -> Place:
    """Where a copy row's destination is: a rules-file registry, or an ACR instance's own registry."""
    if row.dest_region != COPY_REGION and "registry" not in row.extra:  # an ACR instance (referrer rows)
        return Place(deps.source(row.dest_instance, row.dest_region), f"{row.dest_namespace}/{row.dest_repo}")
    client = deps.destination(
        row.extra.get("registry", row.dest_instance), row.extra.get("credentials_env", "")
    )
    return Place(client, _dest_repo(row))


def _dest_repo(row: LedgerEntry) -> str:
    target = parse_registry_target(row.extra.get("registry", row.dest_instance))
    return target.repository(f"{row.dest_namespace}/{row.dest_repo}")


def _finish(row: LedgerEntry, deps: CopyDeps, digest: str, stats: dict[str, str]) -> str:
    # Due at once: should this invocation die before recording the verification, the watcher verifies.
    done = _write(
        row,
        State.SUCCEEDED,
        deps,
        last_error="",
        error_class="",
        next_check_at=deps.clock.now(),
        extra={**row.extra, **stats},
    )
    if done is None:
        return "lost_race"
    if digest != row.digest:
        reason = f"destination tag reads {digest or 'nothing'} after the copy, source pushed {row.digest}"
        _write(done, State.MISMATCH, deps, last_error=reason, error_class="mismatch", alerted=False)
        log.error("copy_mismatch", claim_id=row.claim_id, error=reason)
        return "mismatch"
    _write(done, State.VERIFIED, deps, extra={**done.extra, "verified_digest": digest})
    return "verified"


def _failed_attempt(row: LedgerEntry, deps: CopyDeps, reason: str, *, transient: bool) -> str:
    now = deps.clock.now()
    if transient and row.attempts < row.max_attempts:
        wait = backoff(row.attempts, RETRY_BASE_S, RETRY_CAP_S)
        _write(
            row,
            State.RETRYING,
            deps,
            last_error=reason[:500],
            error_class="copy_transient",
            next_check_at=now + wait,
        )
        log.warning(
            "copy_retry_scheduled", claim_id=row.claim_id, error=reason, wait_s=wait, attempt=row.attempts
        )
        return "retrying"
    error_class = "copy_unavailable" if transient else "copy_rejected"
    _write(row, State.FAILED, deps, last_error=reason[:500], error_class=error_class, alerted=False)
    log.error(
        "copy_failed", claim_id=row.claim_id, error=reason, error_class=error_class, attempts=row.attempts
    )
    return "failed"


def follow(row: LedgerEntry, deps: CopyDeps) -> str:
    """The watcher's move for a copy row: re-launch due retries and copies that died unreported."""
    now = deps.clock.now()
    if row.next_check_at > now:
        return "waiting"
    if row.state is State.CLAIMED and now - row.created_at < CLAIM_STALE_S:
        return "in_flight"  # the replicator that claimed it may still be launching it
    if row.state is State.SUBMITTED and row.attempts >= row.max_attempts:  # died unreported, every time
        reason = f"the copier did not finish in {int(COPY_TIMEOUT_S)} s, {row.attempts} attempts"
        _write(row, State.FAILED, deps, last_error=reason, error_class="copy_timeout", alerted=False)
        return "failed"
    if row.state in (State.RETRYING, State.CLAIMED, State.SUBMITTED):  # due retry, or died unreported
        outcome, _ = launch(row, deps)
        return "resubmitted" if outcome == "submitted" else outcome
    if row.state is State.SUCCEEDED:  # the copier died between recording the copy and its verification
        return _verify(row, deps)
    return "skipped"


def _verify(row: LedgerEntry, deps: CopyDeps) -> str:
    dst = dest_place(row, deps)
    digest = dst.client.head_manifest(dst.repo, row.digest if is_referrer(row) else row.dest_tag) or ""
    if digest == row.digest:
        _write(row, State.VERIFIED, deps, extra={**row.extra, "verified_digest": digest})
        return "verified"
    reason = f"destination has {digest or 'nothing'}, source pushed {row.digest}"
    _write(row, State.MISMATCH, deps, last_error=reason, error_class="mismatch", alerted=False)
    return "mismatch"
