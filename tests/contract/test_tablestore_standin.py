"""The stand-in speaks Tablestore as the real SDK expects: conditions, paging, errors, signatures, CU."""

from __future__ import annotations

from typing import Any

import pytest

from acrsync.adapters.tablestore_client import import_tablestore
from acrsync.local.tablestore_standin import TablestoreStandIn
from tests.contract.tablestore_conftest_fixtures import (
    TS_AK,
    TS_INSTANCE,
    ots_client,
    tablestore_standin,
    ts_prefix,
)

pytestmark = pytest.mark.loopback

__all__ = ["ots_client", "tablestore_standin", "ts_prefix"]

ts = import_tablestore()


def _service_error(fn: Any, *args: Any) -> Any:
    with pytest.raises(ts.OTSServiceError) as info:
        fn(*args)
    return info.value


def test_duplicate_insert_is_refused_with_the_documented_error(ots_client: Any, ts_prefix: str) -> None:
    # GIVEN a row inserted with EXPECT_NOT_EXIST
    table, row = f"{ts_prefix}ledger", ts.Row([("claim_id", "k1")], [("state", "claimed")])
    ots_client.put_row(table, row, ts.Condition(ts.RowExistenceExpectation.EXPECT_NOT_EXIST))
    # WHEN it is inserted again
    err = _service_error(
        ots_client.put_row, table, row, ts.Condition(ts.RowExistenceExpectation.EXPECT_NOT_EXIST)
    )
    # THEN the service answer is 403 OTSConditionCheckFail "Condition check failed." (reference §5.2)
    assert (err.get_http_status(), err.get_error_code(), err.get_error_message()) == (
        403,
        "OTSConditionCheckFail",
        "Condition check failed.",
    )


def test_column_conditions_honour_pass_if_missing_and_composites(ots_client: Any, ts_prefix: str) -> None:
    # GIVEN a row with revision 3 and no "owner" column
    table = f"{ts_prefix}ledger"
    ots_client.put_row(table, ts.Row([("claim_id", "k")], [("revision", 3)]))
    eq3 = ts.SingleColumnCondition("revision", 3, ts.ComparatorType.EQUAL, pass_if_missing=False)
    owner_missing_passes = ts.SingleColumnCondition(
        "owner", "me", ts.ComparatorType.EQUAL, pass_if_missing=True
    )
    owner_missing_fails = ts.SingleColumnCondition(
        "owner", "me", ts.ComparatorType.EQUAL, pass_if_missing=False
    )
    both = ts.CompositeColumnCondition(ts.LogicalOperator.AND)
    both.add_sub_condition(eq3)
    both.add_sub_condition(owner_missing_fails)
    either = ts.CompositeColumnCondition(ts.LogicalOperator.OR)
    either.add_sub_condition(eq3)
    either.add_sub_condition(owner_missing_fails)
    update = ts.Row([("claim_id", "k")], {"put": [("touched", True)]})
    # WHEN / THEN conditions that hold let the update through, the others fail it
    for cond in (eq3, owner_missing_passes, either):
        ots_client.update_row(table, update, ts.Condition(ts.RowExistenceExpectation.EXPECT_EXIST, cond))
    for cond in (owner_missing_fails, both):
        err = _service_error(
            ots_client.update_row, table, update, ts.Condition(ts.RowExistenceExpectation.IGNORE, cond)
        )
        assert err.get_error_code() == "OTSConditionCheckFail"


def test_update_row_puts_deletes_and_increments_cells(ots_client: Any, ts_prefix: str) -> None:
    table = f"{ts_prefix}ledger"
    ots_client.put_row(table, ts.Row([("claim_id", "k")], [("a", "x"), ("b", 1.5), ("n", 1)]))
    change = ts.Row(
        [("claim_id", "k")], {"put": [("c", False)], "delete_all": ["a"], "increment": [("n", 41)]}
    )
    ots_client.update_row(table, change, ts.Condition(ts.RowExistenceExpectation.EXPECT_EXIST))
    _, row, _ = ots_client.get_row(table, [("claim_id", "k")])
    assert {c[0]: c[1] for c in row.attribute_columns} == {"b": 1.5, "c": False, "n": 42}


def test_get_range_pages_with_next_start_primary_key(ots_client: Any, ts_prefix: str) -> None:
    # GIVEN 7 rows in bucket 1 and 3 in bucket 2
    table = f"{ts_prefix}open_tasks"
    for i in range(10):
        pk = [("bucket", 1 if i < 7 else 2), ("next_check_ms", 100 - i), ("claim_id", f"c{i}")]
        ots_client.put_row(table, ts.Row(pk, [("revision", 1)]))
    start = [("bucket", 1), ("next_check_ms", ts.INF_MIN), ("claim_id", ts.INF_MIN)]
    end = [("bucket", 1), ("next_check_ms", ts.INF_MAX), ("claim_id", ts.INF_MAX)]
    # WHEN bucket 1 is read 3 rows at a time
    pages: list[list[int]] = []
    next_start: Any = start
    while next_start is not None:
        _, next_start, rows, _ = ots_client.get_range(table, ts.Direction.FORWARD, next_start, end, None, 3)
        pages.append([r.primary_key[1][1] for r in rows])
    # THEN the rows come in key order, three per page, and bucket 2 is outside the range
    assert pages == [[94, 95, 96], [97, 98, 99], [100]]


def test_missing_table_is_object_not_exist(ots_client: Any) -> None:
    err = _service_error(ots_client.get_row, "no_such_table", [("claim_id", "k")])
    assert (err.get_http_status(), err.get_error_code(), err.get_error_message()) == (
        404,
        "OTSObjectNotExist",
        "Requested table does not exist.",
    )


def test_creating_an_existing_table_is_object_already_exist(ots_client: Any, ts_prefix: str) -> None:
    meta = ts.TableMeta(f"{ts_prefix}ledger", [("claim_id", "STRING")])
    err = _service_error(
        ots_client.create_table, meta, ts.TableOptions(), ts.ReservedThroughput(ts.CapacityUnit(0, 0))
    )
    assert (err.get_http_status(), err.get_error_code()) == (409, "OTSObjectAlreadyExist")


def test_a_primary_key_of_the_wrong_type_is_parameter_invalid(ots_client: Any, ts_prefix: str) -> None:
    err = _service_error(ots_client.put_row, f"{ts_prefix}ledger", ts.Row([("claim_id", 7)], [("a", 1)]))
    assert (err.get_http_status(), err.get_error_code()) == (400, "OTSParameterInvalid")


def test_describe_table_reports_the_ttl_given_at_creation(ots_client: Any, ts_prefix: str) -> None:
    described = ots_client.describe_table(f"{ts_prefix}ledger")
    assert described.table_options.time_to_live == 90 * 86400
    assert [c[0] for c in described.table_meta.schema_of_primary_key] == ["claim_id"]


def test_a_wrong_secret_is_refused_as_auth_failed(tablestore_standin: TablestoreStandIn) -> None:
    # GIVEN a client that signs with the wrong secret
    client = ts.OTSClient(tablestore_standin.endpoint, TS_AK, "not-the-secret-1234", TS_INSTANCE)
    # WHEN it calls THEN the signature check refuses it
    err = _service_error(client.list_table)
    assert (err.get_http_status(), err.get_error_code()) == (403, "OTSAuthFailed")


def test_a_wrong_instance_name_is_refused(tablestore_standin: TablestoreStandIn) -> None:
    client = tablestore_standin.client()
    client.protocol.instance_name = "someone-else"
    err = _service_error(client.list_table)
    assert err.get_error_code() == "OTSAuthFailed"


def test_capacity_units_follow_the_4kb_rule(
    ots_client: Any, ts_prefix: str, tablestore_standin: TablestoreStandIn
) -> None:
    # GIVEN a 9 KB row written conditionally
    table = f"{ts_prefix}ledger"
    row = ts.Row([("claim_id", "big")], [("blob", "x" * 9000)])
    tablestore_standin.reset_stats()
    consumed, _ = ots_client.put_row(table, row, ts.Condition(ts.RowExistenceExpectation.EXPECT_NOT_EXIST))
    read_cu, _, _ = ots_client.get_row(table, [("claim_id", "big")])
    # THEN the write costs ceil(9 KB / 4 KB) = 3 write CU plus 1 read CU for the check, the read 3 read CU
    assert (consumed.read, consumed.write) == (1, 3)
    assert read_cu.read == 3
    # AND a failed condition costs 1 read + 1 write CU (Tablestore's PutRow page, "服务能力单元消耗": a write
    # whose row-existence check fails consumes 1 write CU and 1 read CU)
    with pytest.raises(ts.OTSServiceError):
        ots_client.put_row(table, row, ts.Condition(ts.RowExistenceExpectation.EXPECT_NOT_EXIST))
    stats = tablestore_standin.stats()
    assert (stats["read_cu"]["PutRow"], stats["write_cu"]["PutRow"]) == (2, 4)
