"""BatchWriteRow with per-row results, chunked to the service's limits.

Tablestore's BatchWriteRow takes at most 200 rows and 4 MB per request, one ``TableInBatchWriteRowItem``
per table (a second one for the same table replaces the first: reference §5.2), and reports every row on
its own — ``is_ok`` or an error code — without raising. Rows are *not* written atomically: some may land
while others fail, which is why every caller here decides from the per-row results alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from acrsync.adapters.tablestore_client import call, import_tablestore

BATCH_WRITE_MAX_ROWS = 200
BATCH_WRITE_MAX_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class WriteOp:
    """One row of a batch: ``kind`` is ``put`` or ``delete``; ``condition`` a ``tablestore.Condition``."""

    table: str
    kind: str
    row: Any
    condition: Any


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What the service said of one row: ``ok``, or its error code and message."""

    ok: bool
    code: str = ""
    message: str = ""


def _value_size(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    return 8


def row_size(row: Any) -> int:
    """Bytes a row carries (names and values of its key and columns): what the 4 MB limit counts."""
    cells = list(row.primary_key) + list(row.attribute_columns or [])
    return sum(len(str(c[0]).encode("utf-8")) + _value_size(c[1]) for c in cells)


def _chunks(ops: Sequence[WriteOp]) -> list[list[int]]:
    """Indexes of ``ops`` split so no request exceeds 200 rows or 4 MB."""
    out: list[list[int]] = []
    current: list[int] = []
    size = 0
    for i, op in enumerate(ops):
        n = row_size(op.row)
        if current and (len(current) >= BATCH_WRITE_MAX_ROWS or size + n > BATCH_WRITE_MAX_BYTES):
            out.append(current)
            current, size = [], 0
        current.append(i)
        size += n
    if current:
        out.append(current)
    return out


def batch_write(client: Any, ops: Sequence[WriteOp]) -> list[WriteResult]:
    """Write ``ops`` in as few BatchWriteRow calls as the limits allow; one result per op, in order.

    Raises (through ``call``) only when a whole request fails; rows of earlier chunks may then have been
    written, which callers treat like any other per-row uncertainty.
    """
    ts = import_tablestore()
    results: list[WriteResult | None] = [None] * len(ops)
    for chunk in _chunks(ops):
        by_table: dict[str, list[int]] = {}
        for i in chunk:
            by_table.setdefault(ops[i].table, []).append(i)
        request = ts.BatchWriteRowRequest()
        for table, indexes in by_table.items():
            items = [
                ts.PutRowItem(ops[i].row, ops[i].condition)
                if ops[i].kind == "put"
                else ts.DeleteRowItem(ops[i].row, ops[i].condition)
                for i in indexes
            ]
            request.add(ts.TableInBatchWriteRowItem(table, items))
        response = call("BatchWriteRow", client.batch_write_row, request)
        for table, indexes in by_table.items():
            answered = sorted(
                list(response.table_of_put.get(table, [])) + list(response.table_of_delete.get(table, [])),
                key=lambda item: item.index,
            )
            for i, item in zip(indexes, answered, strict=True):
                results[i] = WriteResult(
                    bool(item.is_ok), str(item.error_code or ""), str(item.error_message or "")
                )
    return [r if r is not None else WriteResult(False, "OTSMissingResult", "no answer") for r in results]


def batch_get_many(
    client: Any, requests: Sequence[tuple[str, Sequence[list[tuple[str, Any]]]]]
) -> dict[str, list[Any]]:
    """BatchGetRow over several tables at once (≤100 keys in all per call): the rows found, per table.

    A row the service could not read (a per-row error) fails the call: reads are safe to repeat.
    """
    from acrsync.adapters.tablestore_ranges import BATCH_GET_MAX, call_error

    ts = import_tablestore()
    flat = [(table, key) for table, keys in requests for key in keys]
    found: dict[str, list[Any]] = {table: [] for table, _ in requests}
    for start in range(0, len(flat), BATCH_GET_MAX):
        by_table: dict[str, list[list[tuple[str, Any]]]] = {}
        for table, key in flat[start : start + BATCH_GET_MAX]:
            by_table.setdefault(table, []).append(key)
        request = ts.BatchGetRowRequest()
        for table, keys in by_table.items():
            request.add(ts.TableInBatchGetRowItem(table, keys, max_version=1))
        result = call("BatchGetRow", client.batch_get_row, request)
        for table in by_table:
            for item in result.get_result_by_table(table):
                if not item.is_ok:
                    raise call_error(item)
                if item.row is not None:
                    found[table].append(item.row)
    return found
