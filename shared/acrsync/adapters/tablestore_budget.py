"""Tablestore ``BudgetStore``: one row per key holding the spend times (JSON) and a revision.

Each take reads the row, decides with ``domain.budget.spend_in_window`` and writes back conditionally on the
revision it read (``EXPECT_NOT_EXIST`` for a new key). A lost race means another instance spent meanwhile:
read again and decide again, a bounded number of times with jittered backoff.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any

from acrsync.adapters.tablestore_client import CONDITION_FAILED, call, import_tablestore, table_specs
from acrsync.domain.budget import spend_in_window
from acrsync.errors import UpstreamRejected, UpstreamUnavailable
from acrsync.ports import BudgetStore

MAX_ATTEMPTS = 64


class TablestoreBudgetStore(BudgetStore):
    """The ``BudgetStore`` port on Tablestore; ``client`` is an ``OTSClient`` (see ``build_ots_client``)."""

    def __init__(self, client: Any, *, prefix: str = "acrsync_", max_attempts: int = MAX_ATTEMPTS) -> None:
        self._ts = import_tablestore()
        self._client = client
        self._table = table_specs(prefix)["budget"].name
        self._max_attempts = max_attempts
        self._rng = random.Random()

    def _read(self, key: str) -> tuple[list[float], int]:
        _, row, _ = call("GetRow", self._client.get_row, self._table, [("budget_key", key)])
        if row is None:
            return [], 0
        cols = {c[0]: c[1] for c in row.attribute_columns}
        return [float(t) for t in json.loads(cols.get("spends", "[]"))], int(cols.get("revision", 0))

    def _write(self, key: str, spends: list[float], revision: int) -> bool:
        ts = self._ts
        if revision == 0:
            cond = ts.Condition("EXPECT_NOT_EXIST")
        else:
            cond = ts.Condition(
                "EXPECT_EXIST",
                ts.SingleColumnCondition(
                    "revision", revision, ts.ComparatorType.EQUAL, pass_if_missing=False
                ),
            )
        row = ts.Row([("budget_key", key)], [("spends", json.dumps(spends)), ("revision", revision + 1)])
        try:
            call("PutRow", self._client.put_row, self._table, row, cond)
        except UpstreamRejected as exc:
            if exc.code == CONDITION_FAILED:
                return False
            raise
        return True

    def take(self, key: str, *, limit: int, window_s: float, now: float, count: int = 1) -> float:
        """Spend ``count`` tokens of ``key`` (0.0) or say how long until enough return (nothing spent)."""
        for attempt in range(self._max_attempts):
            spends, revision = self._read(key)
            kept, wait = spend_in_window(spends, limit=limit, window_s=window_s, now=now, count=count)
            if wait > 0.0:
                return wait
            if self._write(key, kept[-limit:], revision):
                return 0.0
            # Someone else spent between our read and write; back off a little so racers spread out.
            time.sleep(self._rng.uniform(0.0, min(0.05, 0.001 * 2**attempt)))
        raise UpstreamUnavailable(
            f"budget {key!r} is contended: no write won in {self._max_attempts} tries",
            code="BudgetContention",
        )
