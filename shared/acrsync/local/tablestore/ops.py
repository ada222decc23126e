"""One function per API: protobuf request in (``tablestore.protobuf.table_store_pb2``), protobuf response out.

Only what acr-sync's adapters use is implemented: CreateTable, ListTable, DescribeTable, DeleteTable,
GetRow, PutRow, UpdateRow, DeleteRow, GetRange, BatchGetRow, BatchWriteRow (reference §5.2, §5.4).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from acrsync.local.tablestore.codec import CodecError, read_row, write_primary_key, write_rows
from acrsync.local.tablestore.conditions import (
    FilterError,
    column_filter_matches,
    condition_holds,
    needs_read,
)
from acrsync.local.tablestore.engine import (
    Engine,
    StandInError,
    Table,
    apply_update,
    condition_failed,
    invalid,
    read_cost,
    write_cost,
)

_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}\Z")
_PK_TYPES = {1: "INTEGER", 2: "STRING", 3: "BINARY"}
RT_PK = 1


def _pb() -> Any:
    import tablestore.protobuf.table_store_pb2 as pb

    return pb


def _decode(data: bytes) -> Any:
    try:
        return read_row(data)
    except CodecError as exc:
        raise invalid(f"Invalid PlainBuffer: {exc}.") from None


def _now_ms() -> int:
    return int(time.time() * 1000)


def create_table(engine: Engine, req: Any) -> Any:
    """CreateTable: 409 OTSObjectAlreadyExist if the name is taken; usable immediately."""
    meta = req.table_meta
    if not _TABLE_NAME.match(meta.table_name):
        raise invalid(f"Invalid table name: '{meta.table_name}'.")
    if not 1 <= len(meta.primary_key) <= 4:
        raise invalid("The number of primary key columns must be in range: [1, 4].")
    schema = [(col.name, _PK_TYPES.get(col.type, "")) for col in meta.primary_key]
    if any(not kind for _, kind in schema):
        raise invalid("Unsupported primary key type.")
    opts = req.table_options
    with engine.lock:
        if meta.table_name in engine.tables:
            raise StandInError(409, "OTSObjectAlreadyExist", "Requested table already exists.")
        engine.tables[meta.table_name] = Table(
            meta.table_name,
            schema,
            ttl=opts.time_to_live if opts.HasField("time_to_live") else -1,
            max_versions=opts.max_versions if opts.HasField("max_versions") else 1,
            deviation=opts.deviation_cell_version_in_sec
            if opts.HasField("deviation_cell_version_in_sec")
            else 86400,
        )
    return _pb().CreateTableResponse()


def list_table(engine: Engine, req: Any) -> Any:
    """ListTable: every table name."""
    resp = _pb().ListTableResponse()
    with engine.lock:
        resp.table_names.extend(sorted(engine.tables))
    return resp


def describe_table(engine: Engine, req: Any) -> Any:
    """DescribeTable: schema, options (TTL kept as metadata), reserved throughput 0/0."""
    pb = _pb()
    reverse = {v: k for k, v in _PK_TYPES.items()}
    with engine.lock:
        table = engine.table(req.table_name)
        resp = pb.DescribeTableResponse()
        resp.table_meta.table_name = table.name
        for name, kind in table.schema:
            col = resp.table_meta.primary_key.add()
            col.name, col.type = name, reverse[kind]
        details = resp.reserved_throughput_details
        details.capacity_unit.read, details.capacity_unit.write = 0, 0
        details.last_increase_time = int(table.created_at)
        resp.table_options.time_to_live = table.ttl
        resp.table_options.max_versions = table.max_versions
        resp.table_options.deviation_cell_version_in_sec = table.deviation
    return resp


def delete_table(engine: Engine, req: Any) -> Any:
    """DeleteTable."""
    with engine.lock:
        engine.table(req.table_name)
        del engine.tables[req.table_name]
    return _pb().DeleteTableResponse()


def _row_out(table: Table, key: tuple[Any, ...], columns: list[str]) -> tuple[Any, list[Any]]:
    pk, cells = table.rows[key]
    names = sorted(n for n in cells if not columns or n in columns)
    return pk, [(n, cells[n][0], cells[n][1]) for n in names]


def _fill_consumed(resp: Any, read: int, write: int) -> None:
    resp.consumed.capacity_unit.read = read
    resp.consumed.capacity_unit.write = write


def get_row(engine: Engine, req: Any) -> Any:
    """GetRow: the row (``row = b''`` when absent, a required field) and its read CU."""
    resp = _pb().GetRowResponse()
    with engine.lock:
        table = engine.table(req.table_name)
        key = table.sort_key(_decode(req.primary_key).primary_key)
        rows = [_row_out(table, key, list(req.columns_to_get))] if key in table.rows else []
        if rows and req.HasField("filter") and not column_filter_matches(req.filter, table.attrs(key)):
            rows = []
    resp.row = write_rows(rows)
    _fill_consumed(resp, read_cost([(pk, [(c[0], c[1]) for c in attrs]) for pk, attrs in rows]), 0)
    return resp


def _write_one(
    engine: Engine, table: Table, kind: str, change: bytes, condition: Any
) -> tuple[Any, int, int]:
    """Apply one PutRow/UpdateRow/DeleteRow under the lock: (primary key, read CU, write CU)."""
    row = _decode(change)
    key = table.sort_key(row.primary_key)
    if kind == "delete" and condition.row_existence == 2:
        raise invalid("Invalid condition: EXPECT_NOT_EXIST while deleting row.")
    try:
        holds = condition_holds(condition, table.attrs(key))
    except (FilterError, CodecError) as exc:
        raise invalid(f"Invalid column condition: {exc}.") from None
    if not holds:
        raise condition_failed()
    now = _now_ms()
    if kind == "put":
        table.store(key, row.primary_key, {c.name: (c.value, c.timestamp or now) for c in row.cells})
    elif kind == "update":
        table.store(key, row.primary_key, apply_update(table.rows.get(key, (None, None))[1], row.cells, now))
    else:
        table.remove(key)
    billed = [(c.name, c.value) for c in row.cells if c.op in ("put", "increment")]
    billed += [(c.name, "") for c in row.cells if c.op not in ("put", "increment")]
    read, write = write_cost(row.primary_key, billed, conditional=needs_read(condition))
    return row.primary_key, read, write


def _single_write(kind: str, response: str, field: str) -> Callable[[Engine, Any], Any]:
    def handler(engine: Engine, req: Any) -> Any:
        with engine.lock:
            table = engine.table(req.table_name)
            pk, read, write = _write_one(engine, table, kind, getattr(req, field), req.condition)
        resp = getattr(_pb(), response)()
        _fill_consumed(resp, read, write)
        if req.HasField("return_content") and req.return_content.return_type == RT_PK:
            resp.row = write_primary_key(pk)
        return resp

    handler.__doc__ = f"{response[:-8]}: a conditional {kind} of one row."
    return handler


put_row = _single_write("put", "PutRowResponse", "row")
update_row = _single_write("update", "UpdateRowResponse", "row_change")
delete_row = _single_write("delete", "DeleteRowResponse", "primary_key")


def get_range(engine: Engine, req: Any) -> Any:
    """GetRange: rows in key order between the bounds, ``limit`` at a time, with the next start key."""
    resp = _pb().GetRangeResponse()
    with engine.lock:
        table = engine.table(req.table_name)
        start = table.sort_key(_decode(req.inclusive_start_primary_key).primary_key, bounds=True)
        end = table.sort_key(_decode(req.exclusive_end_primary_key).primary_key, bounds=True)
        forward = req.direction == 0
        if (start > end) if forward else (start < end):
            raise invalid("Begin key must less than end key in FORWARD.")
        keys, next_key = engine.range_keys(table, start, end, forward=forward, limit=req.limit)
        scanned = [_row_out(table, k, list(req.columns_to_get)) for k in keys]
        read = read_cost([(pk, [(c[0], c[1]) for c in attrs]) for pk, attrs in scanned])
        if req.HasField("filter"):
            scanned = [
                r
                for r, k in zip(scanned, keys, strict=True)
                if column_filter_matches(req.filter, table.attrs(k))
            ]
        resp.rows = write_rows(scanned)
        if next_key is not None:
            resp.next_start_primary_key = write_primary_key(table.rows[next_key][0])
    _fill_consumed(resp, read, 0)
    return resp


def batch_get_row(engine: Engine, req: Any) -> Any:
    """BatchGetRow: per-row results, each billed like a GetRow (at most 100 rows)."""
    resp = _pb().BatchGetRowResponse()
    if sum(len(t.primary_key) for t in req.tables) > 100:
        raise invalid("Rows count exceeds the upper limit: 100.")
    with engine.lock:
        for treq in req.tables:
            tresp = resp.tables.add()
            tresp.table_name = treq.table_name
            table = engine.table(treq.table_name)
            for raw in treq.primary_key:
                item = tresp.rows.add()
                pk = _decode(raw).primary_key
                key = table.sort_key(pk)
                fault = engine.row_fault(treq.table_name, pk)
                if fault is not None:  # one row refused, the others answered (per-row error, not a raise)
                    item.is_ok = False
                    item.error.code, item.error.message = fault.code, fault.message
                    continue
                rows = [_row_out(table, key, list(treq.columns_to_get))] if key in table.rows else []
                item.is_ok = True
                item.row = write_rows(rows)
                _fill_consumed(item, read_cost([(pk, [(c[0], c[1]) for c in a]) for pk, a in rows]), 0)
    return resp


# BatchWriteRow limits (Tablestore API reference, "BatchWriteRow": at most 200 rows and 4 MB of data per
# request; a row may appear once per request). The service refuses the whole request when one is broken.
BATCH_WRITE_MAX_ROWS = 200
BATCH_WRITE_MAX_BYTES = 4 * 1024 * 1024


def _check_batch_write_limits(req: Any) -> None:
    if sum(len(t.rows) for t in req.tables) > BATCH_WRITE_MAX_ROWS:
        raise invalid("Rows count exceeds the upper limit: 200.")
    if sum(len(r.row_change) for t in req.tables for r in t.rows) > BATCH_WRITE_MAX_BYTES:
        raise StandInError(413, "OTSRequestBodyTooLarge", "The total data size exceeds the limit: 4MB.")
    names = [t.table_name for t in req.tables]
    if len(set(names)) != len(names):
        raise invalid("Duplicated table name in one BatchWriteRow request.")
    for treq in req.tables:
        keys = [bytes(_pk_bytes(r.row_change)) for r in treq.rows]
        if len(set(keys)) != len(keys):
            # UNVERIFIED wording; the refusal itself is documented (no duplicate rows in one request).
            raise invalid(f"Duplicated primary key in table {treq.table_name} of one BatchWriteRow request.")


def _pk_bytes(change: bytes) -> bytes:
    return repr(_decode(change).primary_key).encode()


def batch_write_row(engine: Engine, req: Any) -> Any:
    """BatchWriteRow: each row conditional on its own; per-row failures are reported, not raised."""
    resp = _pb().BatchWriteRowResponse()
    _check_batch_write_limits(req)
    kinds = {1: "put", 2: "update", 3: "delete"}
    with engine.lock:
        for treq in req.tables:
            table = engine.table(treq.table_name)
            tresp = resp.tables.add()
            tresp.table_name = treq.table_name
            for rreq in treq.rows:
                item = tresp.rows.add()
                try:
                    fault = engine.row_fault(treq.table_name, _decode(rreq.row_change).primary_key)
                    if fault is not None:
                        raise fault
                    pk, read, write = _write_one(
                        engine, table, kinds[rreq.type], rreq.row_change, rreq.condition
                    )
                    item.is_ok = True
                    _fill_consumed(item, read, write)
                    if rreq.HasField("return_content") and rreq.return_content.return_type == RT_PK:
                        item.row = write_primary_key(pk)
                except StandInError as exc:
                    item.is_ok = False
                    item.error.code, item.error.message = exc.code, exc.message
                    _fill_consumed(item, exc.read_cu, exc.write_cu)
    return resp


HANDLERS: dict[str, tuple[str, Callable[[Engine, Any], Any]]] = {
    "CreateTable": ("CreateTableRequest", create_table),
    "ListTable": ("ListTableRequest", list_table),
    "DescribeTable": ("DescribeTableRequest", describe_table),
    "DeleteTable": ("DeleteTableRequest", delete_table),
    "GetRow": ("GetRowRequest", get_row),
    "PutRow": ("PutRowRequest", put_row),
    "UpdateRow": ("UpdateRowRequest", update_row),
    "DeleteRow": ("DeleteRowRequest", delete_row),
    "GetRange": ("GetRangeRequest", get_range),
    "BatchGetRow": ("BatchGetRowRequest", batch_get_row),
    "BatchWriteRow": ("BatchWriteRowRequest", batch_write_row),
}


def consumed_of(resp: Any) -> tuple[int, int]:
    """The (read, write) CU a response reports, summing batch items."""
    if hasattr(resp, "consumed"):
        return resp.consumed.capacity_unit.read, resp.consumed.capacity_unit.write
    read = write = 0
    for table in getattr(resp, "tables", []):
        for row in table.rows:
            read += row.consumed.capacity_unit.read
            write += row.consumed.capacity_unit.write
    return read, write
