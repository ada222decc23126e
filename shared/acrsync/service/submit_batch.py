"""Submitting the rows one invocation has just claimed: one budget decision, the creates, one batched record.

The batched form of ``Submitter.submit(held=True)`` for a fan-out of D destinations (docs/tables.md,
"One pushed tag"): the claims were taken before (``Ledger.claim_many``), so every row here is this
invocation's own; ``CreateRepoSyncTask`` is called for each in turn; then every outcome — task ids, permanent
refusals, submissions in doubt — is written in one ``update_many``, each row on its own revision.
"""

from __future__ import annotations

from collections.abc import Sequence

from acrsync.domain.images import name_problem
from acrsync.domain.ledger import LedgerEntry
from acrsync.errors import ConflictError, RetryableError, UpstreamRejected
from acrsync.logging import get_logger
from acrsync.service.submit import (
    Submission,
    Submitter,
    abandoned_move,
    failed_move,
    log_rejected,
    submitted_move,
)

log = get_logger(__name__)


def submit_claimed(
    submitter: Submitter, entries: Sequence[LedgerEntry], *, deadline: float
) -> list[Submission]:
    """Create a sync task for each freshly claimed row, then record every outcome in one batch.

    After a retryable failure no further task is created: that row and the rows not yet tried are marked
    ``abandoned`` (reconciled against ``ListRepoSyncTask`` at the next delivery), the batch is recorded,
    and the error is raised so FC redelivers. A row whose record fails alone is retried once on its own;
    if that fails too the claim stays without a task id and is reconciled later (the task is adopted).
    """
    if not entries:
        return []
    clock, gate = submitter.clock, submitter.gate
    sound, moves = _refuse_bad_names(entries, clock.now())
    error: RetryableError | None = None
    try:
        if sound:
            gate.reserve(len(sound), deadline)  # D tokens, one budget decision
    except RetryableError as exc:
        error = exc
    for entry in sound:
        if error is not None:
            moves.append((entry, abandoned_move(entry, str(error), clock.now()), "abandoned"))
            continue
        api = submitter.registry(entry.source_region)
        try:
            task_id = gate.call(
                lambda api=api, entry=entry: submitter.create_task(api, entry),  # type: ignore[misc]
                deadline=deadline,
                what="CreateRepoSyncTask",
                idempotent=False,
            )
        except UpstreamRejected as exc:
            moves.append((entry, failed_move(entry, exc, clock.now()), "failed"))
            log_rejected(entry, exc)
            continue
        except RetryableError as exc:
            error = exc
            moves.append((entry, abandoned_move(entry, str(exc), clock.now()), "abandoned"))
            continue
        moves.append((entry, submitted_move(entry, task_id, clock.now()), "submitted"))
    done = _record(submitter, moves)
    if error is not None:
        raise error
    return done


def _refuse_bad_names(
    entries: Sequence[LedgerEntry], now: float
) -> tuple[list[LedgerEntry], list[tuple[LedgerEntry, LedgerEntry, str]]]:
    """Names outside the registry's grammar never reach ACR (as in ``Submitter.submit``): those rows fail
    as ``invalid_name``. Returns the rows to create and the failed moves."""
    sound: list[LedgerEntry] = []
    moves: list[tuple[LedgerEntry, LedgerEntry, str]] = []
    for entry in entries:
        problem = name_problem(entry.dest_namespace, entry.dest_repo, entry.dest_tag)
        if not problem:
            sound.append(entry)
            continue
        exc = UpstreamRejected(f"destination {problem}")
        moves.append((entry, failed_move(entry, exc, now, error_class="invalid_name"), "failed"))
        log_rejected(entry, exc)
    return sound, moves


def _record(submitter: Submitter, moves: list[tuple[LedgerEntry, LedgerEntry, str]]) -> list[Submission]:
    results = submitter.ledger.update_many([(moved, held.revision) for held, moved, _ in moves])
    out: list[Submission] = []
    for (held, moved, kind), result in zip(moves, results, strict=True):
        ok = result.ok
        if result.status == "error" and kind != "abandoned":
            ok = _retry_alone(submitter, held, moved)
        if not ok:
            if kind == "submitted":
                # The task exists; the claim stays without its id and is reconciled (adopted) later.
                log.error(
                    "sync_task_record_lost_race"
                    if result.status == "conflict"
                    else "sync_task_record_failed",
                    claim_id=held.claim_id,
                    task_id=moved.task_id,
                    error=str(result.error or ""),
                )
            out.append(Submission("lost_race" if result.status == "conflict" else "in_doubt", held))
            continue
        if kind == "submitted":
            log.info(
                "sync_task_submitted",
                claim_id=moved.claim_id,
                rule=moved.rule,
                source=moved.source_ref,
                destination=moved.dest_ref,
                task_id=moved.task_id,
                attempt=moved.attempts,
            )
        out.append(Submission(kind, moved))
    return out


def _retry_alone(submitter: Submitter, held: LedgerEntry, moved: LedgerEntry) -> bool:
    """One more try for a row its batch could not write (throttled alone): the single-row write."""
    try:
        submitter.ledger.update(moved, expected_revision=held.revision)
    except ConflictError:
        return False
    except RetryableError as exc:
        log.warning("ledger_row_write_failed", claim_id=held.claim_id, error=str(exc))
        return False
    return True
