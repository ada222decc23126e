"""The Tablestore ledger's batched operations: the same write order as one row, one request per step.

Per batch (docs/tables.md, "Batched writes"):

1. one BatchWriteRow of every *addition* — new open-index rows and new task-index rows (no condition);
2. one BatchWriteRow of the ledger rows, each with its own condition (``EXPECT_NOT_EXIST`` for a claim,
   ``EXPECT_EXIST`` + ``revision == expected`` for an update) — only for rows whose additions all landed;
3. one BatchWriteRow of *removals* — old open-index keys of rows whose step 2 succeeded, each
   conditional on ``revision <= expected`` (best effort: a leftover is an extra row the sweep removes).

BatchWriteRow is not atomic, so each row is decided by its own result; a row whose step 1 failed is not
attempted in step 2 (reported ``error``, retryable), which keeps the invariant of the single-row path:
an index row is never missing for a ledger row that needs watching.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from acrsync.adapters import tablestore_events
from acrsync.adapters.tablestore_batch import WriteOp, WriteResult, batch_get_many, batch_write
from acrsync.adapters.tablestore_client import CONDITION_FAILED, NOT_EXIST, RETRYABLE_CODES, missing_table
from acrsync.domain.ledger import LedgerEntry, needs_watch
from acrsync.errors import UpstreamRejected, UpstreamUnavailable
from acrsync.logging import get_logger
from acrsync.ports import RowResult

if TYPE_CHECKING:
    from acrsync.adapters.tablestore_ledger import TablestoreLedger

log = get_logger(__name__)


def _row_error(result: WriteResult, what: str) -> Exception:
    if result.code == NOT_EXIST:  # a table never created: the store is not set up, say which command fixes it
        return missing_table("", f"batch row ({what})")
    msg = f"tablestore batch row ({what}): {result.code} {result.message}"
    if result.code in RETRYABLE_CODES:
        return UpstreamUnavailable(msg, code=result.code)
    return UpstreamRejected(msg, code=result.code)


def _ms(t: float) -> int:
    return round(t * 1000)


def _additions(
    ledger: TablestoreLedger, entry: LedgerEntry, old_ms: int | None, old_task: str, now_ms: int
) -> list[WriteOp]:
    ts = ledger._ts
    ops: list[WriteOp] = []
    new_ms = _ms(entry.next_check_at) if needs_watch(entry) else None
    if new_ms is not None and new_ms != old_ms:
        attrs = [("revision", entry.revision), ("written_ms", now_ms)]
        row = ts.Row(ledger._open_pk(entry.claim_id, new_ms), attrs)
        ops.append(WriteOp(ledger._open, "put", row, ts.Condition("IGNORE")))
    if entry.task_id and entry.task_id != old_task:
        row = ts.Row([("task_id", entry.task_id)], [("claim_id", entry.claim_id)])
        ops.append(WriteOp(ledger._tasks, "put", row, ts.Condition("IGNORE")))
    return ops


def _stage_additions(
    ledger: TablestoreLedger, plans: Sequence[tuple[LedgerEntry, list[WriteOp]]]
) -> dict[str, Exception]:
    """Step 1 for every row at once; the rows whose additions did not all land, with why."""
    flat = [(entry.claim_id, op) for entry, ops in plans for op in ops]
    if not flat:
        return {}
    results = batch_write(ledger._client, [op for _, op in flat])
    failed: dict[str, Exception] = {}
    for (claim_id, _), result in zip(flat, results, strict=True):
        if not result.ok and claim_id not in failed:
            failed[claim_id] = _row_error(result, "index")
    return failed


def claim_many(ledger: TablestoreLedger, entries: Sequence[LedgerEntry]) -> list[RowResult]:
    """Index rows, then every claim with its own ``EXPECT_NOT_EXIST``: 2 requests for up to 100 rows."""
    ts = ledger._ts
    now_ms = _ms(ledger._wall())
    failed = _stage_additions(ledger, [(e, _additions(ledger, e, None, "", now_ms)) for e in entries])
    todo = [e for e in entries if e.claim_id not in failed]
    cond = ts.Condition("EXPECT_NOT_EXIST")
    results = batch_write(
        ledger._client, [WriteOp(ledger._ledger, "put", ledger._row(e), cond) for e in todo]
    )
    by_id: dict[str, RowResult] = {cid: RowResult(cid, "error", exc) for cid, exc in failed.items()}
    for entry, result in zip(todo, results, strict=True):
        if result.ok:
            ledger._remember(entry)
            by_id[entry.claim_id] = RowResult(entry.claim_id, "ok")
        elif result.code == CONDITION_FAILED:
            # Our index row may share its key with the winner's (same claim, same check time): keep it.
            by_id[entry.claim_id] = RowResult(entry.claim_id, "exists")
        else:
            by_id[entry.claim_id] = RowResult(entry.claim_id, "error", _row_error(result, "claim"))
    return [by_id[e.claim_id] for e in entries]


def get_many(ledger: TablestoreLedger, claim_ids: Sequence[str]) -> dict[str, LedgerEntry]:
    """BatchGetRow of the ledger rows (100 keys per request)."""
    keys = list(dict.fromkeys(claim_ids))
    if not keys:
        return {}
    rows = batch_get_many(ledger._client, [(ledger._ledger, [[("claim_id", k)] for k in keys])])
    found = {e.claim_id: e for e in (ledger._entry(r) for r in rows[ledger._ledger])}
    for entry in found.values():
        ledger._remember(entry)
    return found


def update_many(
    ledger: TablestoreLedger, updates: Sequence[tuple[LedgerEntry, int]], *, lazy: bool
) -> list[RowResult]:
    """Additions, conditional ledger writes, removals: 3 requests (2 when nothing moves or ``lazy``)."""
    ts = ledger._ts
    previous = _previous_many(ledger, [e.claim_id for e, _ in updates])
    now_ms = _ms(ledger._wall())
    plans = [(e, _additions(ledger, e, *previous[e.claim_id], now_ms)) for e, _ in updates]
    failed = _stage_additions(ledger, plans)
    todo = [(e, rev) for e, rev in updates if e.claim_id not in failed]
    ops = []
    for entry, expected in todo:
        cond = ts.Condition(
            "EXPECT_EXIST",
            ts.SingleColumnCondition("revision", expected, ts.ComparatorType.EQUAL, pass_if_missing=False),
        )
        ops.append(WriteOp(ledger._ledger, "put", ledger._row(entry), cond))
    marks = tablestore_events.pending_ops(ledger)  # completion-event marks ride along (another table)
    results = batch_write(ledger._client, ops + marks)[: len(ops)]
    by_id: dict[str, RowResult] = {cid: RowResult(cid, "error", exc) for cid, exc in failed.items()}
    removals: list[WriteOp] = []
    for (entry, expected), result in zip(todo, results, strict=True):
        cid = entry.claim_id
        if not result.ok:
            ledger._forget(cid)
            status = "conflict" if result.code == CONDITION_FAILED else "error"
            error = None if status == "conflict" else _row_error(result, "update")
            by_id[cid] = RowResult(cid, status, error)
            continue
        by_id[cid] = RowResult(cid, "ok")
        old_ms = previous[cid][0]
        new_ms = _ms(entry.next_check_at) if needs_watch(entry) else None
        # lazy: a row that left the watch set keeps its old index row until the sweep meets it (when due)
        # and removes it in that sweep's one batched delete, instead of a request of its own now.
        if old_ms is not None and old_ms != new_ms and not (lazy and new_ms is None):
            removals.append(_removal(ledger, cid, old_ms, expected))
        ledger._remember(entry)
    remove_index_rows(ledger, removals)
    return [by_id[e.claim_id] for e, _ in updates]


def _removal(ledger: TablestoreLedger, claim_id: str, ms: int, up_to_revision: int) -> WriteOp:
    ts = ledger._ts
    cond = ts.Condition(
        "IGNORE", ts.SingleColumnCondition("revision", up_to_revision, ts.ComparatorType.LESS_EQUAL)
    )
    return WriteOp(ledger._open, "delete", ts.Row(ledger._open_pk(claim_id, ms)), cond)


def remove_stale(ledger: TablestoreLedger, stale: Sequence[tuple[str, int, int]]) -> None:
    """Delete ``(claim_id, ms, up_to_revision)`` open-index rows in one request (the sweep's repairs)."""
    remove_index_rows(ledger, [_removal(ledger, cid, ms, rev) for cid, ms, rev in stale])


def remove_index_rows(ledger: TablestoreLedger, removals: list[WriteOp]) -> None:
    """Step 3, best effort: a failed removal leaves an extra row for the sweep, never a missing one."""
    if not removals:
        return
    try:
        results = batch_write(ledger._client, removals)
    except Exception as exc:  # noqa: BLE001 - best effort by design (see the module docstring)
        log.warning("open_index_cleanup_failed", rows=len(removals), error=str(exc))
        return
    failed = [r for r in results if not r.ok and r.code != CONDITION_FAILED]
    if failed:
        log.warning(
            "open_index_cleanup_failed", rows=len(failed), error=f"{failed[0].code} {failed[0].message}"
        )


def _previous_many(ledger: TablestoreLedger, claim_ids: Sequence[str]) -> dict[str, tuple[int | None, str]]:
    """Each row's current (open-index ms, task id): from the instance's memory, one BatchGetRow for misses."""
    known = {cid: ledger._known(cid) for cid in claim_ids}
    misses = [cid for cid, k in known.items() if k is None]
    fetched = get_many(ledger, misses) if misses else {}
    out: dict[str, tuple[int | None, str]] = {}
    for cid in claim_ids:
        hit = known[cid]
        if hit is not None:
            out[cid] = hit
        elif cid in fetched:
            e = fetched[cid]
            out[cid] = (_ms(e.next_check_at) if needs_watch(e) else None, e.task_id)
        else:
            out[cid] = (None, "")
    return out
