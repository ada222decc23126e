"""Range and batch reads with paging, shared by the Tablestore adapters.

GetRange returns at most ``limit`` (and at most 5000 rows / 4 MB) per call plus ``next_start_primary_key``
while more remain (reference §5.2); BatchGetRow takes at most 100 keys per call.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from acrsync.adapters.tablestore_client import call, import_tablestore

BATCH_GET_MAX = 100
PAGE = 1000


def range_rows(
    client: Any,
    table: str,
    start: list[tuple[str, Any]],
    end: list[tuple[str, Any]],
    *,
    max_rows: int | None = None,
    columns: list[str] | None = None,
) -> Iterator[Any]:
    """Rows in ``[start, end)``, forward, following ``next_start_primary_key`` until done or ``max_rows``."""
    ts = import_tablestore()
    seen = 0
    next_start: list[tuple[str, Any]] | None = start
    while next_start is not None and (max_rows is None or seen < max_rows):
        limit = PAGE if max_rows is None else min(PAGE, max_rows - seen)
        _, next_start, rows, _ = call(
            "GetRange", client.get_range, table, ts.Direction.FORWARD, next_start, end, columns, limit
        )
        for row in rows:
            seen += 1
            yield row


def full_range(client: Any, table: str, pk_names: Sequence[str]) -> Iterator[Any]:
    """Every row of a table."""
    ts = import_tablestore()
    start = [(n, ts.INF_MIN) for n in pk_names]
    end = [(n, ts.INF_MAX) for n in pk_names]
    return range_rows(client, table, start, end)


def batch_get(client: Any, table: str, keys: Sequence[list[tuple[str, Any]]]) -> list[Any]:
    """The rows that exist among ``keys`` (chunks of 100 per BatchGetRow call)."""
    ts = import_tablestore()
    found: list[Any] = []
    for i in range(0, len(keys), BATCH_GET_MAX):
        request = ts.BatchGetRowRequest()
        request.add(ts.TableInBatchGetRowItem(table, list(keys[i : i + BATCH_GET_MAX]), max_version=1))
        result = call("BatchGetRow", client.batch_get_row, request)
        for item in result.get_result_by_table(table):
            if not item.is_ok:
                raise call_error(item)
            if item.row is not None:
                found.append(item.row)
    return found


def call_error(item: Any) -> Exception:
    """A per-row batch failure as an acr-sync error (batch calls do not raise per row)."""
    from acrsync.adapters.tablestore_client import NOT_EXIST, RETRYABLE_CODES, missing_table
    from acrsync.errors import UpstreamRejected, UpstreamUnavailable

    code = str(item.error_code)
    if code == NOT_EXIST:
        return missing_table(str(getattr(item, "table_name", "") or ""), "batch row")
    msg = f"tablestore batch row: {code} {item.error_message}"
    return (
        UpstreamUnavailable(msg, code=code) if code in RETRYABLE_CODES else UpstreamRejected(msg, code=code)
    )
