"""The ``unverifiable`` state on every ledger backend: stored and read back, never in the open-task index."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from acrsync.adapters.memory import MemoryLedger
from acrsync.adapters.sqlite_store import SqliteDatabase, SqliteLedger
from acrsync.adapters.tablestore_ledger import TablestoreLedger
from acrsync.domain.images import DestinationImage, SourceImage, SyncRequest
from acrsync.domain.ledger import State, new_claim
from acrsync.ports import Ledger
from tests.contract.tablestore_conftest_fixtures import ots_client, tablestore_standin, ts_prefix

__all__ = ["ots_client", "tablestore_standin", "ts_prefix"]


def entry(n: int) -> Any:
    src = SourceImage("cri-s", "cn-hangzhou", "team-a", "web", f"v{n}", "sha256:" + "1" * 64, "crr-1")
    dst = DestinationImage("cri-x", "cn-beijing", "team-a", "web", f"v{n}")
    return new_claim(SyncRequest("r", src, dst, target_account="2222"), event_id="e", now=1.0)


def check(ledger: Ledger) -> None:
    row = entry(1)
    ledger.claim(row)
    for state in (State.SUBMITTED, State.SUCCEEDED, State.UNVERIFIABLE):
        moved = replace(row.moved_to(state, 2.0), task_id="rst-1")
        ledger.update(moved, expected_revision=row.revision)
        row = moved
    got = ledger.get(row.claim_id)
    assert got is not None
    assert got.state is State.UNVERIFIABLE
    assert ledger.list_open(limit=10) == []
    assert [r.claim_id for r in ledger.scan(states=frozenset({State.UNVERIFIABLE}))] == [row.claim_id]


def test_memory() -> None:
    check(MemoryLedger())


def test_sqlite(tmp_path: Path) -> None:
    check(SqliteLedger(SqliteDatabase.create(tmp_path / "l.db")))


@pytest.mark.loopback
def test_tablestore(ots_client: Any, ts_prefix: str) -> None:
    check(TablestoreLedger(ots_client, prefix=ts_prefix))
