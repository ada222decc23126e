"""Body handling for ``acrsync.domain.events``: bounded JSON decoding and redacted shape summaries. Pure.

Private to ``events``: import ``describe_shape`` from there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from acrsync.domain._event_fields import (
    DEFAULT_MAX_BYTES,
    R_DUPLICATE_KEY,
    R_EMPTY,
    R_MALFORMED_JSON,
    R_OVERSIZE,
    clean_key,
    excerpt,
    fail,
    json_type,
)
from acrsync.errors import InvalidEvent

_SHAPE_MAX_KEYS = 40
_SHAPE_MAX_DEPTH = 2


class _DuplicateKeyError(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json keeps the last of two equal keys silently; a crafted body could show EventBridge's pattern
    # matcher one value and us another, so a repeated key refuses the body.
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(key)
        out[key] = value
    return out


def decode_body(raw: object, max_bytes: int) -> object:
    """Bytes or str → a JSON value, the size checked before anything is parsed. Other values pass through.

    FC hands the handler ``bytes`` (reference §3.1); ``dict``/``list`` come from local callers and tests,
    which are not size-checked.
    """
    if isinstance(raw, (bytes, bytearray, memoryview)):
        body = bytes(raw)
        if len(body) > max_bytes:
            raise fail("", R_OVERSIZE, f"the body is {len(body)} bytes, over the {max_bytes}-byte limit")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise fail(
                "", R_MALFORMED_JSON, f"the body is not UTF-8 (bad byte at offset {e.start})"
            ) from None
    elif isinstance(raw, str):
        # len() first: a huge str is refused without encoding it.
        size = len(raw) if len(raw) > max_bytes else len(raw.encode("utf-8", "surrogatepass"))
        if size > max_bytes:
            raise fail("", R_OVERSIZE, f"the body is at least {size} bytes, over the {max_bytes}-byte limit")
        text = raw
    else:
        return raw
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise fail("", R_EMPTY, "the body is empty")
    return _loads(text)


def _loads(text: str) -> object:
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as e:
        # The parser's own words and the position; never e.doc, which is the body.
        where = f"line {e.lineno} column {e.colno} (char {e.pos})"
        raise fail("", R_MALFORMED_JSON, f"the body is not valid JSON: {e.msg} at {where}") from None
    except _DuplicateKeyError as e:
        message = f"key {excerpt(e.key)} appears twice in one object"
        raise fail(clean_key(e.key), R_DUPLICATE_KEY, message) from None
    except (ValueError, RecursionError):
        # Integers past Python's str-conversion limit; nesting past the recursion limit.
        message = "the body is not usable JSON (a number too long or nesting too deep)"
        raise fail("", R_MALFORMED_JSON, message) from None


def describe_shape(doc: object, _depth: int = 0) -> dict[str, object]:
    """A redacted summary of an event for a WARN log: key names and value types, never values.

    Only ``source``, ``type`` and ``specversion`` are quoted (short, escaped): they say what the event is.
    Takes the raw body too (bytes/str), and then says why it does not parse when it does not.
    """
    if _depth == 0 and isinstance(doc, (bytes, bytearray, memoryview, str)):
        size = len(doc) if not isinstance(doc, memoryview) else doc.nbytes
        try:
            doc = decode_body(doc, DEFAULT_MAX_BYTES)
        except InvalidEvent as e:
            return {"kind": "unparseable", "size": size, "reason": e.reason}
    if isinstance(doc, Mapping):
        return _describe_object(doc, _depth)
    if isinstance(doc, list):
        shape: dict[str, object] = {"kind": "list", "length": len(doc)}
        if doc and _depth < _SHAPE_MAX_DEPTH:
            shape["first"] = describe_shape(doc[0], _depth + 1)
        return shape
    return {"kind": json_type(doc)}


def _describe_object(doc: Mapping[Any, Any], depth: int) -> dict[str, object]:
    keys = list(doc)
    shape: dict[str, object] = {
        "kind": "object",
        "keys": {clean_key(k): json_type(doc[k]) for k in keys[:_SHAPE_MAX_KEYS]},
    }
    if len(keys) > _SHAPE_MAX_KEYS:
        shape["more_keys"] = len(keys) - _SHAPE_MAX_KEYS
    for name in ("source", "type", "specversion"):
        if isinstance(doc.get(name), str):
            shape[name] = excerpt(doc[name], 64)
    data = doc.get("data")
    if isinstance(data, (Mapping, list)) and depth < _SHAPE_MAX_DEPTH:
        shape["data"] = describe_shape(data, depth + 1)
    return shape
