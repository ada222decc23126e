"""PlainBuffer, server side: read what the SDK writes, write what the SDK reads.

Writing reuses the SDK's own ``PlainBufferCodedOutputStream`` and ``PlainBufferCrc8``
(``tablestore/plainbuffer/``). Reading is our own small parser because the SDK's reader only ever reads
*responses*: it rejects ``INF_MIN``/``INF_MAX`` primary-key values (``read_primary_key_value``) and
raises ``NameError`` on a ``TAG_CELL_TYPE`` (``read_column`` refers to an undefined ``cell_type``), both
of which requests carry (GetRange bounds, UpdateRow deletes/increments). Checksums are verified with the
SDK's CRC-8 in the order its writer computes them (name, value, timestamp, cell type).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from acrsync.adapters.tablestore_client import import_tablestore

HEADER = 0x75
TAG_ROW_PK, TAG_ROW_DATA, TAG_CELL, TAG_CELL_NAME, TAG_CELL_VALUE = 1, 2, 3, 4, 5
TAG_CELL_TYPE, TAG_CELL_TIMESTAMP, TAG_DELETE_ROW_MARKER, TAG_ROW_CHECKSUM, TAG_CELL_CHECKSUM = 6, 7, 8, 9, 10
VT_INTEGER, VT_DOUBLE, VT_BOOLEAN, VT_STRING, VT_BLOB, VT_INF_MIN, VT_INF_MAX, VT_AUTO_INCREMENT = (
    0,
    1,
    2,
    3,
    7,
    9,
    10,
    11,
)
# Cell op types (plain_buffer_consts.py): delete one version, delete all versions, increment.
OP_DELETE_ONE, OP_DELETE_ALL, OP_INCREMENT = 3, 1, 4


class CodecError(ValueError):
    """The bytes are not a well-formed PlainBuffer row (the service answers OTSParameterInvalid)."""


@dataclass
class Cell:
    """One decoded cell: ``op`` is ``put``, ``delete``, ``delete_all`` or ``increment``."""

    name: str
    value: Any = None
    timestamp: int | None = None
    op: str = "put"


@dataclass
class DecodedRow:
    """A decoded row: primary key in order, cells, and whether it carries the delete marker."""

    primary_key: list[tuple[str, Any]] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)
    delete_marker: bool = False


def _crc() -> Any:
    return import_tablestore().plainbuffer.plain_buffer_crc8.PlainBufferCrc8


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = bytes(data)
        self.pos = 0
        self.tag = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise CodecError("PlainBuffer truncated")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def next_tag(self) -> int:
        self.tag = self.take(1)[0] if self.pos < len(self.data) else 0
        return self.tag

    def i32(self) -> int:
        return int(struct.unpack("<i", self.take(4))[0])

    def i64(self) -> int:
        return int(struct.unpack("<q", self.take(8))[0])


def _read_value(r: _Reader, crc: int) -> tuple[Any, int]:
    """A TAG_CELL_VALUE payload (length-prefixed variant); returns (value, cell checksum)."""
    sdk, c8 = import_tablestore(), _crc()
    r.i32()  # total length of type + payload; the type byte says how much follows
    vt = r.take(1)[0]
    crc = c8.crc_int8(crc, vt)
    if vt == VT_INTEGER:
        v: Any = r.i64()
        crc = c8.crc_int64(crc, v)
    elif vt in (VT_STRING, VT_BLOB):
        size = r.i32()
        raw = r.take(size)
        crc = c8.crc_string(c8.crc_int32(crc, size), raw)
        v = raw.decode("utf-8") if vt == VT_STRING else bytearray(raw)
    elif vt == VT_BOOLEAN:
        v = r.take(1)[0] != 0
        crc = c8.crc_int8(crc, 1 if v else 0)
    elif vt == VT_DOUBLE:
        bits = r.i64()
        crc = c8.crc_int64(crc, bits)
        v = struct.unpack("<d", struct.pack("<q", bits))[0]
    elif vt in (VT_INF_MIN, VT_INF_MAX, VT_AUTO_INCREMENT):
        v = {VT_INF_MIN: sdk.INF_MIN, VT_INF_MAX: sdk.INF_MAX, VT_AUTO_INCREMENT: sdk.PK_AUTO_INCR}[vt]
    else:
        raise CodecError(f"unsupported variant type {vt}")
    return v, crc


def _read_cell(r: _Reader) -> tuple[Cell, int]:
    c8 = _crc()
    if r.next_tag() != TAG_CELL_NAME:
        raise CodecError("expected TAG_CELL_NAME")
    name = r.take(r.i32()).decode("utf-8")
    crc = c8.crc_string(0, name)
    cell = Cell(name)
    r.next_tag()
    if r.tag == TAG_CELL_VALUE:
        cell.value, crc = _read_value(r, crc)
        r.next_tag()
    op_byte = None
    if r.tag == TAG_CELL_TYPE:
        op_byte = r.take(1)[0]
        cell.op = {OP_DELETE_ONE: "delete", OP_DELETE_ALL: "delete_all", OP_INCREMENT: "increment"}.get(
            op_byte, "?"
        )
        r.next_tag()
    if r.tag == TAG_CELL_TIMESTAMP:
        cell.timestamp = r.i64()
        crc = c8.crc_int64(crc, cell.timestamp)
        r.next_tag()
    if op_byte is not None:
        crc = c8.crc_int8(crc, op_byte)
    if r.tag != TAG_CELL_CHECKSUM or r.take(1)[0] != crc:
        raise CodecError(f"cell checksum mismatch for {name!r}")
    r.next_tag()
    return cell, crc


def read_row(data: bytes) -> DecodedRow:
    """Decode one request row (PutRow/UpdateRow/DeleteRow change, or a primary key)."""
    c8 = _crc()
    r = _Reader(data)
    if r.i32() != HEADER:
        raise CodecError("bad PlainBuffer header")
    if r.next_tag() != TAG_ROW_PK:
        raise CodecError("expected TAG_ROW_PK")
    row, row_crc = DecodedRow(), 0
    r.next_tag()
    while r.tag == TAG_CELL:
        cell, crc = _read_cell(r)
        row.primary_key.append((cell.name, cell.value))
        row_crc = c8.crc_int8(row_crc, crc)
    if r.tag == TAG_ROW_DATA:
        r.next_tag()
        while r.tag == TAG_CELL:
            cell, crc = _read_cell(r)
            row.cells.append(cell)
            row_crc = c8.crc_int8(row_crc, crc)
    if r.tag == TAG_DELETE_ROW_MARKER:
        row.delete_marker = True
        r.next_tag()
    row_crc = c8.crc_int8(row_crc, 1 if row.delete_marker else 0)
    if r.tag != TAG_ROW_CHECKSUM or r.take(1)[0] != row_crc:
        raise CodecError("row checksum mismatch")
    return row


def read_filter_value(data: bytes) -> Any:
    """A ``SingleColumnValueFilter.column_value``: a bare variant (``serialize_column_value``)."""
    r = _Reader(data)
    vt = r.take(1)[0]
    if vt == VT_INTEGER:
        return r.i64()
    if vt == VT_DOUBLE:
        return struct.unpack("<d", r.take(8))[0]
    if vt == VT_BOOLEAN:
        return r.take(1)[0] != 0
    if vt in (VT_STRING, VT_BLOB):
        raw = r.take(r.i32())
        return raw.decode("utf-8") if vt == VT_STRING else bytearray(raw)
    raise CodecError(f"unsupported filter value type {vt}")


def write_rows(rows: list[tuple[list[tuple[str, Any]], list[tuple[str, Any, int]]]]) -> bytes:
    """Encode rows for GetRow/GetRange/BatchGetRow responses with the SDK's writer (one header)."""
    pb = import_tablestore().plainbuffer
    builder = pb.plain_buffer_builder.PlainBufferBuilder
    if not rows:
        return b""
    size = 8 + sum(builder.compute_put_row_size(pk, attrs) for pk, attrs in rows)
    out = pb.plain_buffer_stream.PlainBufferOutputStream(size)
    coded = pb.plain_buffer_coded_stream.PlainBufferCodedOutputStream(out)
    coded.write_header()
    c8 = _crc()
    for pk, attrs in rows:
        crc = coded.write_primary_key(pk, 0)
        crc = coded.write_columns(attrs, crc)
        coded.write_row_checksum(c8.crc_int8(crc, 0))
    return bytes(out.get_buffer())


def write_primary_key(pk: list[tuple[str, Any]]) -> bytes:
    """Encode a primary key alone (``next_start_primary_key``, RT_PK return rows)."""
    builder = import_tablestore().plainbuffer.plain_buffer_builder.PlainBufferBuilder
    return bytes(builder.serialize_primary_key(pk))


def value_size(value: Any) -> int:
    """Billing size of a value (Tablestore: strings/binary by length, numbers 8 bytes, bool 1)."""
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if isinstance(value, bool):
        return 1
    if isinstance(value, (int, float)):
        return 8
    return 0


def cells_size(cells: list[tuple[str, Any]]) -> int:
    """Billing size of (name, value) cells: name bytes plus value bytes."""
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in cells)
