"""Tablestore ``RuleStore``: one rule per row, a meta row that is the single commit point.

Rows of table ``<prefix>rules`` (PK ``rule_key``):

* ``#meta``: ``version``, ``updated_at``, ``channels`` (JSON), ``generation``, ``count``.
* ``v<version:012d>.<generation>/<position:05d>``: ``name``, ``body`` (JSON) — one row per rule, written
  under a fresh prefix by every write.

Order of a write (Tablestore has no multi-row transaction across partitions, so this is how the write is
all-or-nothing): (1) read and check the version; (2) *stage* every rule row under a new prefix no reader
looks at; (3) *commit* by a conditional put of the meta row (``version == expected``, or
``EXPECT_NOT_EXIST`` for the first write) that points at the new prefix; (4) garbage-collect older
prefixes, best effort. A crash before (3) leaves invisible rows; a lost race at (3) is ``ConflictError``
and nothing visible changed. Readers read the meta row, then its prefix; if a concurrent collector removed
that prefix meanwhile (row count short), they read again.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from acrsync.adapters.memory_rules import merged_order
from acrsync.adapters.tablestore_client import CONDITION_FAILED, call, import_tablestore, table_specs
from acrsync.adapters.tablestore_ranges import call_error, range_rows
from acrsync.errors import ConflictError, UpstreamUnavailable
from acrsync.logging import get_logger
from acrsync.ports import RuleStore, StoredRules

log = get_logger(__name__)

META = "#meta"
BATCH_WRITE_MAX = 200
READ_ATTEMPTS = 3


def _prefix(version: int, generation: str) -> str:
    return f"v{version:012d}.{generation}/"


class TablestoreRuleStore(RuleStore):
    """The ``RuleStore`` port on Tablestore; ``client`` is an ``OTSClient`` (see ``build_ots_client``)."""

    def __init__(self, client: Any, *, prefix: str = "acrsync_") -> None:
        self._ts = import_tablestore()
        self._client = client
        self._table = table_specs(prefix)["rules"].name

    def _meta(self, columns: list[str] | None = None) -> dict[str, Any] | None:
        _, row, _ = call("GetRow", self._client.get_row, self._table, [("rule_key", META)], columns)
        return None if row is None else {c[0]: c[1] for c in row.attribute_columns}

    def _rows_between(self, start: str, end: str, columns: list[str] | None = None) -> list[Any]:
        rows = range_rows(
            self._client, self._table, [("rule_key", start)], [("rule_key", end)], columns=columns
        )
        return list(rows)

    def version(self) -> int:
        """One GetRow of the meta row's ``version`` column."""
        meta = self._meta(["version"])
        return int(meta["version"]) if meta else 0

    def read(self) -> StoredRules:
        """The meta row, then the rule rows under its prefix (one GetRange), in stored order."""
        for _ in range(READ_ATTEMPTS):
            meta = self._meta()
            if meta is None:
                return StoredRules(version=0, updated_at=0.0, channels={}, rules=())
            prefix = _prefix(int(meta["version"]), str(meta["generation"]))
            rows = self._rows_between(prefix, prefix[:-1] + "0")  # "0" sorts right after "/"
            if len(rows) == int(meta["count"]):
                bodies = [json.loads(next(c[1] for c in r.attribute_columns if c[0] == "body")) for r in rows]
                return StoredRules(
                    version=int(meta["version"]),
                    updated_at=float(meta["updated_at"]),
                    channels=json.loads(meta["channels"]),
                    rules=tuple(bodies),
                )
            # A newer write committed and collected this prefix between our two reads: read again.
        raise UpstreamUnavailable("rules kept changing while being read", code="RulesInFlux")

    def write(
        self,
        *,
        channels: Mapping[str, Mapping[str, Any]],
        upsert: Sequence[Mapping[str, Any]],
        delete: Sequence[str],
        expected_version: int,
        now: float,
    ) -> int:
        """Stage the new rule rows, commit with a conditional meta put, collect old rows (see module doc)."""
        stored = self.read()
        if stored.version != expected_version:
            raise ConflictError(
                f"rules changed meanwhile: stored {stored.version}, expected {expected_version}"
            )
        ordered = merged_order(stored.rules, upsert, delete)
        version, generation = expected_version + 1, uuid.uuid4().hex[:12]
        prefix = _prefix(version, generation)
        keys = [f"{prefix}{i:05d}" for i in range(len(ordered))]
        puts = [
            self._ts.PutRowItem(
                self._ts.Row(
                    [("rule_key", k)], [("name", str(r["name"])), ("body", json.dumps(r, sort_keys=True))]
                ),
                self._ts.Condition("IGNORE"),
            )
            for k, r in zip(keys, ordered, strict=True)
        ]
        self._batch(puts)
        if not self._commit(version, generation, len(ordered), channels, now):
            self._batch(
                [
                    self._ts.DeleteRowItem(self._ts.Row([("rule_key", k)]), self._ts.Condition("IGNORE"))
                    for k in keys
                ]
            )
            raise ConflictError(f"rules changed meanwhile: version {expected_version} was superseded")
        self._collect(version, prefix)
        return version

    def _commit(
        self, version: int, generation: str, count: int, channels: Mapping[str, Any], now: float
    ) -> bool:
        ts = self._ts
        if version == 1:
            cond = ts.Condition("EXPECT_NOT_EXIST")
        else:
            cond = ts.Condition(
                "EXPECT_EXIST",
                ts.SingleColumnCondition(
                    "version", version - 1, ts.ComparatorType.EQUAL, pass_if_missing=False
                ),
            )
        cols = [
            ("version", version),
            ("updated_at", float(now)),
            ("channels", json.dumps(channels, sort_keys=True)),
            ("generation", generation),
            ("count", count),
        ]
        try:
            call("PutRow", self._client.put_row, self._table, ts.Row([("rule_key", META)], cols), cond)
        except Exception as exc:
            if getattr(exc, "code", "") == CONDITION_FAILED:
                return False
            raise
        return True

    def _batch(self, items: list[Any]) -> None:
        for i in range(0, len(items), BATCH_WRITE_MAX):
            request = self._ts.BatchWriteRowRequest()
            request.add(self._ts.TableInBatchWriteRowItem(self._table, items[i : i + BATCH_WRITE_MAX]))
            result = call("BatchWriteRow", self._client.batch_write_row, request)
            failed = [row for rows in (result.get_put()[1], result.get_delete()[1]) for row in rows]
            if failed:
                raise call_error(failed[0])

    def _collect(self, version: int, keep: str) -> None:
        """Delete rule rows of older versions and of losers at this version; newer (in-flight) rows stay."""
        try:
            stale = [
                r.primary_key[0][1]
                for r in self._rows_between("v", "w", ["name"])
                if int(r.primary_key[0][1][1:13]) <= version and not r.primary_key[0][1].startswith(keep)
            ]
            self._batch(
                [
                    self._ts.DeleteRowItem(self._ts.Row([("rule_key", k)]), self._ts.Condition("IGNORE"))
                    for k in stale
                ]
            )
        except Exception as exc:  # noqa: BLE001 - best effort by design, see the comment
            # Leftover rows are invisible to readers (no meta row points at them); the next write collects.
            log.warning("rules_collect_failed", version=version, error=str(exc))
