"""Store benchmark: round trips and capacity units per pushed tag with fan-out 3, Tablestore-on-loopback.

One pushed tag fans out to three destinations. The replicator checks the rules version, claims three
ledger keys, takes three API-budget tokens and records three task ids; a duplicate delivery bounces off
the claims; the watcher (another function instance: no cache) finds each task by id and moves it to
succeeded, then verified; the sweep lists open rows with 1,000 finished rows of history beside them.
Round trips and read/write CU are what the stand-in billed (1 CU per 4 KB, conditional checks read).

Run: ``.venv/bin/python bench/bench_store.py``
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from acrsync.adapters.tablestore_client import create_tables
from acrsync.adapters.tablestore_store import TablestoreBudgetStore, TablestoreLedger, TablestoreRuleStore
from acrsync.domain.ledger import LedgerEntry, State
from acrsync.errors import AlreadyClaimed
from acrsync.local.tablestore_standin import TablestoreStandIn

FAN_OUT = 3
HISTORY = 1000


def _entry(i: int, now: float) -> LedgerEntry:
    return LedgerEntry(
        claim_id=f"{(i * 2654435761) % 2**128:032x}",
        rule="releases",
        source_instance="cri-src",
        source_region="cn-hangzhou",
        source_namespace="team-a",
        source_repo="web",
        source_tag="v1.2.3",
        digest="sha256:" + "a" * 64,
        dest_instance=f"cri-dst{i}",
        dest_region="cn-shanghai",
        dest_namespace="team-a",
        dest_repo="web",
        dest_tag="v1.2.3",
        created_at=now,
        updated_at=now,
        next_check_at=now + 30.0,
    )


def _measure(standin: TablestoreStandIn, fn: Callable[[], object]) -> dict[str, int]:
    standin.reset_stats()
    fn()
    s = standin.stats()
    return {
        "round_trips": s["total_requests"],
        "read_cu": s["total_read_cu"],
        "write_cu": s["total_write_cu"],
    }


def _phases(standin: TablestoreStandIn, client: Any) -> dict[str, dict[str, int]]:
    rules, budget = TablestoreRuleStore(client), TablestoreBudgetStore(client)
    replicator, watcher = TablestoreLedger(client), TablestoreLedger(client)
    rules.write(channels={}, upsert=[{"name": "releases"}], delete=[], expected_version=0, now=0.0)
    now = 1000.0
    claims = [_entry(i, now) for i in range(FAN_OUT)]
    submitted = [c.moved_to(State.SUBMITTED, now + 1, task_id=f"rst-{i}") for i, c in enumerate(claims)]

    def duplicate() -> None:
        # A redelivered event: every claim bounces (AlreadyClaimed is the expected outcome here).
        for c in claims:
            with contextlib.suppress(AlreadyClaimed):
                replicator.claim(c)

    def watch() -> None:
        for s in submitted:
            row = watcher.find_by_task(s.task_id)
            assert row is not None
            done = row.moved_to(State.SUCCEEDED, now + 60)
            watcher.update(done, expected_revision=row.revision)
            watcher.update(done.moved_to(State.VERIFIED, now + 61), expected_revision=done.revision)

    return {
        "rules_version_check": _measure(standin, rules.version),
        "claim_x3": _measure(standin, lambda: [replicator.claim(c) for c in claims]),
        "budget_take_x3": _measure(
            standin, lambda: [budget.take("acr", limit=100, window_s=1.0, now=now) for _ in claims]
        ),
        "record_task_id_x3": _measure(
            standin, lambda: [replicator.update(s, expected_revision=1) for s in submitted]
        ),
        "duplicate_delivery_x3": _measure(standin, duplicate),
        "sweep_3_open": _measure(standin, lambda: TablestoreLedger(client).list_open(limit=100)),
        "watcher_find_succeed_verify_x3": _measure(standin, watch),
    }


def _sweep_with_history(standin: TablestoreStandIn, client: Any) -> dict[str, int]:
    ledger = TablestoreLedger(client, prefix="hist_")
    for i in range(HISTORY):
        e = _entry(10_000 + i, 1.0)
        ledger.claim(e)
        ledger.update(replace(e, state=State.FAILED, alerted=True, revision=2), expected_revision=1)
    for i in range(FAN_OUT):
        ledger.claim(_entry(20_000 + i, 1.0))
    return _measure(standin, lambda: TablestoreLedger(client, prefix="hist_").list_open(limit=100))


def _embedded_round_trips() -> dict[str, dict[str, int]]:
    """The same happy path on the in-memory fake and on SQLite: round trips (no capacity units there)."""
    import tempfile
    from pathlib import Path

    from acrsync.adapters.memory import MemoryBudgetStore, MemoryLedger
    from acrsync.adapters.sqlite_store import SqliteBudgetStore, SqliteDatabase, SqliteLedger

    out: dict[str, dict[str, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        db = SqliteDatabase.create(Path(tmp) / "bench.db")
        memory_ledger, memory_budget = MemoryLedger(), MemoryBudgetStore()
        backends: dict[str, tuple[Any, Any, Callable[[], int]]] = {
            "memory": (memory_ledger, memory_budget, lambda: memory_ledger.calls + memory_budget.calls),
            "sqlite": (SqliteLedger(db), SqliteBudgetStore(db), lambda: db.calls),
        }
        for name, (ledger, budget, count) in backends.items():
            before = count()
            now = 1000.0
            for i in range(FAN_OUT):
                entry = _entry(i, now)
                ledger.claim(entry)
                budget.take("acr", limit=100, window_s=1.0, now=now)
                sub = entry.moved_to(State.SUBMITTED, now + 1, task_id=f"rst-{i}")
                ledger.update(sub, expected_revision=1)
                row = ledger.find_by_task(sub.task_id)
                assert row is not None
                done = row.moved_to(State.SUCCEEDED, now + 60)
                ledger.update(done, expected_revision=row.revision)
                ledger.update(done.moved_to(State.VERIFIED, now + 61), expected_revision=done.revision)
            out[name] = {"round_trips": count() - before}
    return out


def run() -> dict[str, Any]:
    """Start a stand-in, run every phase, return the per-phase and per-pushed-tag numbers."""
    with TablestoreStandIn() as standin:
        client = standin.client()
        create_tables(client)
        create_tables(client, prefix="hist_")
        phases = _phases(standin, client)
        history = _sweep_with_history(standin, client)
    happy = [
        "claim_x3",
        "budget_take_x3",
        "record_task_id_x3",
        "watcher_find_succeed_verify_x3",
    ]
    per_tag = {k: sum(phases[p][k] for p in happy) for k in ("round_trips", "read_cu", "write_cu")}
    return {
        "per_pushed_tag_happy_path_embedded": _embedded_round_trips(),
        "backend": "tablestore-on-loopback",
        "fan_out": FAN_OUT,
        "phases": phases,
        "per_pushed_tag_happy_path": per_tag,
        f"sweep_3_open_beside_{HISTORY}_finished": history,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
