"""Row-existence expectations and column conditions, evaluated as the service does.

Wire shapes: ``Condition{row_existence, column_condition}`` in ``table_store.proto`` and
``Filter{type, filter}`` / ``SingleColumnValueFilter`` / ``CompositeColumnValueFilter`` in
``table_store_filter.proto`` (the SDK builds them in ``encoder.py::_make_condition``). The SDK sends
``filter_if_missing = not pass_if_missing``. Reference §5.2 (Conditions).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from acrsync.local.tablestore.codec import read_filter_value

IGNORE, EXPECT_EXIST, EXPECT_NOT_EXIST = 0, 1, 2
FT_SINGLE, FT_COMPOSITE = 1, 2
LO_NOT, LO_AND, LO_OR = 1, 2, 3
CT_EXIST, CT_NOT_EXIST = 7, 8
_COMPARE: dict[int, Callable[[Any, Any], bool]] = {
    1: operator.eq,
    2: operator.ne,
    3: operator.gt,
    4: operator.ge,
    5: operator.lt,
    6: operator.le,
}


class FilterError(ValueError):
    """A malformed filter (the service answers OTSParameterInvalid)."""


def _kind(value: Any) -> str:
    # bool before int: Python's bool is an int, Tablestore's BOOLEAN is not an INTEGER.
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "binary"


def _norm(value: Any) -> Any:
    return bytes(value) if isinstance(value, bytearray) else value


def _single(proto: Any, attrs: Mapping[str, Any] | None) -> bool:
    present = attrs is not None and proto.column_name in attrs
    if proto.comparator == CT_EXIST:
        return present
    if proto.comparator == CT_NOT_EXIST:
        return not present
    if not present:
        return not proto.filter_if_missing
    assert attrs is not None
    compare = _COMPARE.get(proto.comparator)
    if compare is None:
        raise FilterError(f"unknown comparator {proto.comparator}")
    stored, wanted = attrs[proto.column_name], read_filter_value(proto.column_value)
    if _kind(stored) != _kind(wanted):
        # ⚠ modelled: values of different types never match (only NOT_EQUAL holds).
        return compare is operator.ne
    return bool(compare(_norm(stored), _norm(wanted)))


def column_filter_matches(filter_bytes: bytes, attrs: Mapping[str, Any] | None) -> bool:
    """Evaluate a serialized ``Filter`` against a row's attribute values (``None`` = no row)."""
    pb = _filter_pb()
    flt = pb.Filter()
    flt.ParseFromString(filter_bytes)
    if flt.type == FT_SINGLE:
        single = pb.SingleColumnValueFilter()
        single.ParseFromString(flt.filter)
        return _single(single, attrs)
    if flt.type == FT_COMPOSITE:
        comp = pb.CompositeColumnValueFilter()
        comp.ParseFromString(flt.filter)
        results = [column_filter_matches(sub.SerializeToString(), attrs) for sub in comp.sub_filters]
        if comp.combinator == LO_NOT:
            if len(results) != 1:
                raise FilterError("NOT takes exactly one sub condition")
            return not results[0]
        if comp.combinator == LO_AND:
            return all(results)
        if comp.combinator == LO_OR:
            return any(results)
        raise FilterError(f"unknown combinator {comp.combinator}")
    raise FilterError(f"unsupported filter type {flt.type}")


def condition_holds(condition: Any, attrs: Mapping[str, Any] | None) -> bool:
    """A ``Condition`` proto against the current row (``None`` when the row does not exist)."""
    exists = attrs is not None
    if condition.row_existence == EXPECT_EXIST and not exists:
        return False
    if condition.row_existence == EXPECT_NOT_EXIST and exists:
        return False
    if condition.HasField("column_condition") and condition.column_condition:
        return column_filter_matches(condition.column_condition, attrs)
    return True


def needs_read(condition: Any) -> bool:
    """Whether checking the condition reads the row (and so costs a read CU)."""
    return bool(condition.row_existence != IGNORE or condition.column_condition)


def _filter_pb() -> Any:
    from acrsync.adapters.tablestore_client import import_tablestore

    import_tablestore()
    import tablestore.protobuf.table_store_filter_pb2 as filter_pb

    return filter_pb
