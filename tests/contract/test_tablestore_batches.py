"""Batches on Tablestore: the stand-in's BatchWriteRow/BatchGetRow limits and per-row errors, and the
ledger's batched operations when one row of a batch fails alone (throttled, or its condition fails)."""

from __future__ import annotations

from typing import Any

import pytest

from acrsync.adapters.tablestore_batch import WriteOp, batch_write
from acrsync.adapters.tablestore_client import import_tablestore
from acrsync.adapters.tablestore_store import TablestoreLedger
from acrsync.domain.ledger import ALERT_LANE, State
from acrsync.errors import UpstreamUnavailable
from acrsync.local.tablestore_standin import TablestoreStandIn
from tests.contract.ledger_contract import make_entry
from tests.contract.tablestore_conftest_fixtures import ots_client, tablestore_standin, ts_prefix

pytestmark = pytest.mark.loopback

__all__ = ["ots_client", "tablestore_standin", "ts_prefix"]

ts = import_tablestore()
# claim ids whose open-index bucket (int(id[:8], 16) % 4) is 0, 1 and 2
A, B, C = "00000000" + "a" * 24, "00000001" + "b" * 24, "00000002" + "c" * 24


def _puts(table: str, n: int, *, size: int = 10) -> Any:
    request = ts.BatchWriteRowRequest()
    items = [
        ts.PutRowItem(ts.Row([("claim_id", f"k{i}")], [("v", "x" * size)]), ts.Condition("IGNORE"))
        for i in range(n)
    ]
    request.add(ts.TableInBatchWriteRowItem(table, items))
    return request


def _service_error(fn: Any, *args: Any) -> Any:
    with pytest.raises(ts.OTSServiceError) as info:
        fn(*args)
    return info.value


def test_batch_write_refuses_more_than_200_rows_whole(ots_client: Any, ts_prefix: str) -> None:
    err = _service_error(ots_client.batch_write_row, _puts(f"{ts_prefix}ledger", 201))
    assert (err.get_http_status(), err.get_error_code()) == (400, "OTSParameterInvalid")
    assert ots_client.get_row(f"{ts_prefix}ledger", [("claim_id", "k0")])[1] is None


def test_batch_write_refuses_more_than_4_mb_whole(ots_client: Any, ts_prefix: str) -> None:
    # 5 rows of 1 MB each: under the row limit, over the size limit
    err = _service_error(ots_client.batch_write_row, _puts(f"{ts_prefix}ledger", 5, size=1024 * 1024))
    assert (err.get_http_status(), err.get_error_code()) == (413, "OTSRequestBodyTooLarge")


def test_batch_write_refuses_one_row_twice(ots_client: Any, ts_prefix: str) -> None:
    request = ts.BatchWriteRowRequest()
    row = ts.Row([("claim_id", "same")], [("v", 1)])
    items = [ts.PutRowItem(row, ts.Condition("IGNORE")), ts.PutRowItem(row, ts.Condition("IGNORE"))]
    request.add(ts.TableInBatchWriteRowItem(f"{ts_prefix}ledger", items))
    err = _service_error(ots_client.batch_write_row, request)
    assert err.get_error_code() == "OTSParameterInvalid"


def test_per_row_errors_are_reported_per_row_not_raised(
    ots_client: Any, ts_prefix: str, tablestore_standin: TablestoreStandIn
) -> None:
    # GIVEN one row that the service will refuse as busy, and one whose condition fails
    table = f"{ts_prefix}ledger"
    ots_client.put_row(table, ts.Row([("claim_id", "taken")], [("v", 0)]))
    tablestore_standin.fail_row(table, "busy")
    ops = [
        WriteOp(table, "put", ts.Row([("claim_id", k)], [("v", 1)]), ts.Condition("EXPECT_NOT_EXIST"))
        for k in ("fine", "busy", "taken")
    ]
    # WHEN they are written in one batch
    results = batch_write(ots_client, ops)
    # THEN each row has its own answer and the good row landed
    assert [(r.ok, r.code) for r in results] == [
        (True, ""),
        (False, "OTSServerBusy"),
        (False, "OTSConditionCheckFail"),
    ]
    assert ots_client.get_row(table, [("claim_id", "fine")])[1] is not None
    assert ots_client.get_row(table, [("claim_id", "busy")])[1] is None


def test_batch_write_splits_at_200_rows(
    ots_client: Any, ts_prefix: str, tablestore_standin: TablestoreStandIn
) -> None:
    table = f"{ts_prefix}ledger"
    ops = [
        WriteOp(table, "put", ts.Row([("claim_id", f"r{i:03d}")], [("v", i)]), ts.Condition("IGNORE"))
        for i in range(450)
    ]
    before = tablestore_standin.stats()["requests"].get("BatchWriteRow", 0)
    assert all(r.ok for r in batch_write(ots_client, ops))
    assert tablestore_standin.stats()["requests"]["BatchWriteRow"] - before == 3


def test_claim_many_with_one_row_throttled_claims_the_others(
    ots_client: Any, ts_prefix: str, tablestore_standin: TablestoreStandIn
) -> None:
    # GIVEN a batch of three claims, one taken already and one whose ledger write will be throttled
    ledger = TablestoreLedger(ots_client, prefix=ts_prefix)
    ledger.claim(make_entry(C, rule="first"))
    tablestore_standin.fail_row(f"{ts_prefix}ledger", B)
    # WHEN claimed together
    results = ledger.claim_many([make_entry(A), make_entry(B), make_entry(C, rule="second")])
    # THEN A is ours, B failed retryably (not claimed), C was someone else's
    assert [r.status for r in results] == ["ok", "error", "exists"]
    assert isinstance(results[1].error, UpstreamUnavailable)
    assert ledger.get(B) is None
    # AND B's retry claims it; every claimed row is on the watch list
    assert [r.status for r in ledger.claim_many([make_entry(B)])] == ["ok"]
    assert sorted(r.claim_id for r in ledger.list_open(limit=10, due_after=ALERT_LANE)) == [A, B, C]


def test_a_row_whose_index_write_fails_is_not_claimed(
    ots_client: Any, ts_prefix: str, tablestore_standin: TablestoreStandIn
) -> None:
    # GIVEN the open-task index refuses the row of bucket 1 (B) once
    ledger = TablestoreLedger(ots_client, prefix=ts_prefix)
    tablestore_standin.fail_row(f"{ts_prefix}open_tasks", 1)
    # WHEN A and B are claimed in one batch
    results = ledger.claim_many([make_entry(A), make_entry(B)])
    # THEN B's ledger row was never written (an index row is never missing for a row that needs watching)
    assert [r.status for r in results] == ["ok", "error"]
    assert ledger.get(B) is None
    assert [r.claim_id for r in ledger.list_open(limit=10)] == [A]


def test_update_many_with_one_row_throttled_leaves_it_as_it_was_and_listed(
    ots_client: Any, ts_prefix: str, tablestore_standin: TablestoreStandIn
) -> None:
    # GIVEN two claimed rows
    ledger = TablestoreLedger(ots_client, prefix=ts_prefix)
    a, b = make_entry(A, next_check_at=10.0), make_entry(B, next_check_at=10.0)
    ledger.claim_many([a, b])
    tablestore_standin.fail_row(f"{ts_prefix}ledger", B)
    # WHEN both record a task id in one batch and B's ledger write is throttled
    moved = [
        e.moved_to(State.SUBMITTED, 11.0, task_id=f"rst-{e.claim_id[:8]}", next_check_at=50.0) for e in (a, b)
    ]
    results = ledger.update_many([(m, 1) for m in moved])
    # THEN A moved, B is unchanged and still listed at its old check time (plus an extra index row, harmless)
    assert [r.status for r in results] == ["ok", "error"]
    assert ledger.get(B) == b
    assert {(r.claim_id, r.next_check_at) for r in ledger.list_open(limit=10)} == {(A, 50.0), (B, 10.0)}
    # AND a retry of B alone succeeds
    assert [r.status for r in ledger.update_many([(moved[1], 1)])] == ["ok"]


def test_lazy_updates_leave_the_old_index_row_to_the_sweep(
    ots_client: Any, ts_prefix: str, tablestore_standin: TablestoreStandIn
) -> None:
    # GIVEN a submitted row due at 10 s
    ledger = TablestoreLedger(ots_client, prefix=ts_prefix)
    row = make_entry(A, next_check_at=10.0).moved_to(
        State.SUBMITTED, 1.0, task_id="rst-1", next_check_at=10.0
    )
    ledger.claim(row)
    # WHEN it is verified lazily
    tablestore_standin.reset_stats()
    ledger.update_many([(row.moved_to(State.VERIFIED, 2.0), row.revision)], lazy=True)
    # THEN that cost one request (the ledger write: nothing to add, removal left for later)
    assert tablestore_standin.stats()["total_requests"] == 1
    # AND the sweep neither returns it nor keeps its index row
    assert TablestoreLedger(ots_client, prefix=ts_prefix).list_open(limit=10) == []
    _, _, rows, _ = ots_client.get_range(
        f"{ts_prefix}open_tasks",
        ts.Direction.FORWARD,
        [("bucket", ts.INF_MIN), ("next_check_ms", ts.INF_MIN), ("claim_id", ts.INF_MIN)],
        [("bucket", ts.INF_MAX), ("next_check_ms", ts.INF_MAX), ("claim_id", ts.INF_MAX)],
    )
    assert rows == []


class _Crash(BaseException):
    """The process dies here."""


def test_a_crash_between_the_index_batch_and_the_claim_batch_leaves_only_invisible_index_rows(
    ots_client: Any, ts_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import acrsync.adapters.tablestore_ledger_batch as batched

    # GIVEN a claim batch whose process dies right after its index rows were written
    real, calls = batched.batch_write, []

    def dying(client: Any, ops: Any) -> Any:
        calls.append(len(ops))
        if len(calls) == 2:
            raise _Crash
        return real(client, ops)

    monkeypatch.setattr(batched, "batch_write", dying)
    with pytest.raises(_Crash):
        TablestoreLedger(ots_client, prefix=ts_prefix).claim_many([make_entry(A), make_entry(B)])
    monkeypatch.setattr(batched, "batch_write", real)
    # THEN another process sees no open row (the orphan index rows wait out their grace period unread)
    other = TablestoreLedger(ots_client, prefix=ts_prefix)
    assert other.list_open(limit=10) == []
    # AND the redelivery claims both
    assert [r.status for r in other.claim_many([make_entry(A), make_entry(B)])] == ["ok", "ok"]
    assert sorted(r.claim_id for r in other.list_open(limit=10)) == [A, B]


def test_event_marks_cost_the_sweep_nothing_and_survive_a_new_instance(
    ots_client: Any, ts_prefix: str, tablestore_standin: TablestoreStandIn
) -> None:
    # GIVEN a mark written by one watcher instance
    writer = TablestoreLedger(ots_client, prefix=ts_prefix)
    writer.note_events("cri-src", 1000.0)
    writer.flush_event_notes()
    other = TablestoreLedger(ots_client, prefix=ts_prefix)
    # WHEN another instance reads its watch list (both lanes) and then asks for the marks
    tablestore_standin.reset_stats()
    assert other.list_open(limit=10, due_before=2000.0) == []
    assert other.events_seen() == {"cri-src": 1000.0}
    # THEN the marks came with the four range reads: no request of their own
    assert tablestore_standin.stats()["requests"] == {"GetRange": 4}
    # AND a fresh instance that has read nothing yet asks once
    assert TablestoreLedger(ots_client, prefix=ts_prefix).events_seen() == {"cri-src": 1000.0}


def test_an_events_mark_rides_along_with_the_next_ledger_write(
    ots_client: Any, ts_prefix: str, tablestore_standin: TablestoreStandIn
) -> None:
    # GIVEN a submitted row, and a completion event noted for its instance
    ledger = TablestoreLedger(ots_client, prefix=ts_prefix)
    row = make_entry(A).moved_to(State.SUBMITTED, 1.0, task_id="rst-1", next_check_at=10.0)
    ledger.claim(row)
    tablestore_standin.reset_stats()
    ledger.note_events("cri-src", 1000.0)
    # WHEN the row is verified (lazily, as the event path does) and the notes flushed
    ledger.update_many([(row.moved_to(State.VERIFIED, 2.0), row.revision)], lazy=True)
    ledger.flush_event_notes()
    # THEN one request carried both
    assert tablestore_standin.stats()["requests"] == {"BatchWriteRow": 1}
    assert TablestoreLedger(ots_client, prefix=ts_prefix).events_seen() == {"cri-src": 1000.0}
