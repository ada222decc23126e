"""Tablestore ``StateStore``: one row per key in ``acrsync_reconcile`` (``doc`` JSON, ``revision``).

A write is a ``PutRow`` conditioned on the revision read (``EXPECT_NOT_EXIST`` for a new key), exactly as
the budget rows are written: a lost race is a ``ConflictError`` for the caller to decide about.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from acrsync.adapters.tablestore_client import CONDITION_FAILED, call, import_tablestore, table_specs
from acrsync.errors import ConflictError, UpstreamRejected
from acrsync.ports import StateStore


class TablestoreStateStore(StateStore):
    """The ``StateStore`` port on Tablestore; ``client`` is an ``OTSClient``."""

    def __init__(self, client: Any, *, prefix: str = "acrsync_") -> None:
        self._ts = import_tablestore()
        self._client = client
        self._table = table_specs(prefix)["reconcile"].name

    def read(self, key: str) -> tuple[dict[str, Any], int]:
        _, row, _ = call("GetRow", self._client.get_row, self._table, [("state_key", key)])
        if row is None:
            return {}, 0
        cols = {c[0]: c[1] for c in row.attribute_columns}
        return json.loads(str(cols.get("doc", "{}"))), int(cols.get("revision", 0))

    def write(self, key: str, doc: Mapping[str, Any], *, expected_revision: int) -> int:
        ts = self._ts
        if expected_revision == 0:
            cond = ts.Condition("EXPECT_NOT_EXIST")
        else:
            cond = ts.Condition(
                "EXPECT_EXIST",
                ts.SingleColumnCondition(
                    "revision", expected_revision, ts.ComparatorType.EQUAL, pass_if_missing=False
                ),
            )
        text = json.dumps(doc, sort_keys=True)
        row = ts.Row([("state_key", key)], [("doc", text), ("revision", expected_revision + 1)])
        try:
            call("PutRow", self._client.put_row, self._table, row, cond)
        except UpstreamRejected as exc:
            if exc.code == CONDITION_FAILED:
                raise ConflictError(f"state {key!r}: revision moved on from {expected_revision}") from None
            raise
        return expected_revision + 1
