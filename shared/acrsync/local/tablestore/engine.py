"""The stand-in's storage engine: tables of rows sorted by primary key, conditional writes, CU accounting.

Semantics follow the service as the reference (§5.2, §5.3) and the SDK describe it: PutRow replaces a row,
UpdateRow edits cells, DeleteRow removes; every write may carry a row-existence expectation and a column
condition; GetRange is [start, end) forward or (end, start] backward, at most ``limit`` (and 5000) rows
with ``next_start_primary_key`` for the rest. Capacity units follow Tablestore billing: 1 CU per 4 KB
(rounded up) of row data read or written; a condition check reads the row (1 read CU); a failed
condition costs 1 read + 1 write CU. Data lives in memory behind one lock.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from acrsync.adapters.tablestore_client import import_tablestore
from acrsync.local.tablestore.codec import Cell, cells_size

MAX_RANGE_ROWS = 5000
_TYPES: dict[str, Callable[[Any], bool]] = {
    "INTEGER": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "STRING": lambda v: isinstance(v, str),
    "BINARY": lambda v: isinstance(v, (bytes, bytearray)),
}


class StandInError(Exception):
    """A service error: HTTP status, Tablestore error code and message (reference §5.3)."""

    def __init__(self, status: int, code: str, message: str, *, read_cu: int = 0, write_cu: int = 0) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.read_cu, self.write_cu = read_cu, write_cu


def invalid(message: str) -> StandInError:
    """400 OTSParameterInvalid."""
    return StandInError(400, "OTSParameterInvalid", message)


def condition_failed() -> StandInError:
    """403 OTSConditionCheckFail, verbatim from the SDK's own test suite (reference §5.2)."""
    return StandInError(403, "OTSConditionCheckFail", "Condition check failed.", read_cu=1, write_cu=1)


def cu(size: int) -> int:
    """Capacity units for ``size`` bytes: 1 per 4 KB, rounded up, at least 1."""
    return max(1, math.ceil(size / 4096))


@dataclass
class Table:
    """One table: schema, options (metadata only: TTL is recorded, not enforced) and rows."""

    name: str
    schema: list[tuple[str, str]]
    ttl: int = -1
    max_versions: int = 1
    deviation: int = 86400
    created_at: float = field(default_factory=time.time)
    rows: dict[tuple[Any, ...], tuple[list[tuple[str, Any]], dict[str, tuple[Any, int]]]] = field(
        default_factory=dict
    )
    keys: list[tuple[Any, ...]] = field(default_factory=list)

    def sort_key(self, pk: list[tuple[str, Any]], *, bounds: bool = False) -> tuple[Any, ...]:
        """Validate ``pk`` against the schema and return its order key (INF_MIN < values < INF_MAX)."""
        if [n for n, _ in pk] != [n for n, _ in self.schema]:
            raise invalid(
                f"Validate PK name fail. Input: {[n for n, _ in pk]}, Meta: {[n for n, _ in self.schema]}."
            )
        sdk = import_tablestore()
        out: list[Any] = []
        for (_name, value), (_, kind) in zip(pk, self.schema, strict=True):
            if bounds and value in (sdk.INF_MIN, sdk.INF_MAX):
                out.append((0,) if value is sdk.INF_MIN else (2,))
                continue
            if not _TYPES[kind](value):
                raise invalid(f"Validate PK type fail. Input: {type(value).__name__}, Meta: {kind}.")
            out.append(
                (
                    1,
                    value.encode("utf-8")
                    if kind == "STRING"
                    else bytes(value)
                    if kind == "BINARY"
                    else value,
                )
            )
        return tuple(out)

    def attrs(self, key: tuple[Any, ...]) -> dict[str, Any] | None:
        """The row's attribute values, or None when there is no row."""
        row = self.rows.get(key)
        return None if row is None else {n: v for n, (v, _) in row[1].items()}

    def store(
        self, key: tuple[Any, ...], pk: list[tuple[str, Any]], cells: dict[str, tuple[Any, int]]
    ) -> None:
        """Insert or replace a row, keeping ``keys`` sorted."""
        if key not in self.rows:
            bisect.insort(self.keys, key)
        self.rows[key] = (pk, cells)

    def remove(self, key: tuple[Any, ...]) -> None:
        """Delete a row if present."""
        if self.rows.pop(key, None) is not None:
            del self.keys[bisect.bisect_left(self.keys, key)]


@dataclass
class Stats:
    """Per-API request counts and capacity units, as the stand-in billed them."""

    requests: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    read_cu: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    write_cu: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def snapshot(self) -> dict[str, Any]:
        """A plain copy with totals."""
        return {
            "requests": dict(self.requests),
            "errors": dict(self.errors),
            "read_cu": dict(self.read_cu),
            "write_cu": dict(self.write_cu),
            "total_requests": sum(self.requests.values()),
            "total_read_cu": sum(self.read_cu.values()),
            "total_write_cu": sum(self.write_cu.values()),
        }


def apply_update(
    current: dict[str, tuple[Any, int]] | None, cells: list[Cell], now_ms: int
) -> dict[str, tuple[Any, int]]:
    """UpdateRow cell semantics: put, delete (one version), delete_all, increment (INTEGER only)."""
    out = dict(current or {})
    for cell in cells:
        if cell.op == "put":
            out[cell.name] = (cell.value, cell.timestamp or now_ms)
        elif cell.op in ("delete", "delete_all"):
            out.pop(cell.name, None)
        elif cell.op == "increment":
            base = out.get(cell.name, (0, 0))[0]
            if not isinstance(base, int) or isinstance(base, bool) or not isinstance(cell.value, int):
                raise invalid("Increment only applies to INTEGER columns.")
            out[cell.name] = (base + cell.value, now_ms)
        else:
            raise invalid(f"Unknown cell operation for column {cell.name}.")
    return out


def write_cost(
    pk: list[tuple[str, Any]], cells: list[tuple[str, Any]], *, conditional: bool
) -> tuple[int, int]:
    """(read CU, write CU) of one successful row write."""
    return (1 if conditional else 0), cu(cells_size(pk) + cells_size(cells))


def read_cost(rows: list[tuple[list[tuple[str, Any]], list[tuple[str, Any]]]]) -> int:
    """Read CU of returning ``rows`` (at least 1 even when nothing was found)."""
    return cu(sum(cells_size(pk) + cells_size(attrs) for pk, attrs in rows))


class Engine:
    """All tables of one instance, one lock; the HTTP layer calls these with decoded requests."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tables: dict[str, Table] = {}
        self.stats = Stats()
        # (table, first primary-key value) -> [error code, rows left to fail]: per-row faults in batches.
        self.row_faults: dict[tuple[str, Any], list[Any]] = {}

    def row_fault(self, table: str, pk: list[tuple[str, Any]]) -> StandInError | None:
        """A planted per-row error for this row of a batch (consumed once per use), else None."""
        if not pk:
            return None
        planted = self.row_faults.get((table, pk[0][1]))
        if planted is None or planted[1] <= 0:
            return None
        planted[1] -= 1
        return StandInError(
            503, planted[0], "Server is busy." if planted[0] == "OTSServerBusy" else planted[0]
        )

    def table(self, name: str) -> Table:
        """The table, or 404 OTSObjectNotExist (reference §5.3)."""
        table = self.tables.get(name)
        if table is None:
            raise StandInError(404, "OTSObjectNotExist", "Requested table does not exist.")
        return table

    def range_keys(
        self, table: Table, start: tuple[Any, ...], end: tuple[Any, ...], *, forward: bool, limit: int
    ) -> tuple[list[tuple[Any, ...]], tuple[Any, ...] | None]:
        """Keys in [start, end) (forward) or (end, start] (backward); plus the next start key, if any."""
        if forward:
            lo, hi = bisect.bisect_left(table.keys, start), bisect.bisect_left(table.keys, end)
            keys = table.keys[lo:hi]
        else:
            lo, hi = bisect.bisect_right(table.keys, end), bisect.bisect_right(table.keys, start)
            keys = list(reversed(table.keys[lo:hi]))
        cap = min(limit, MAX_RANGE_ROWS) if limit > 0 else MAX_RANGE_ROWS
        return keys[:cap], (keys[cap] if len(keys) > cap else None)
