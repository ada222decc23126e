"""The Tablestore adapters beyond the shared contracts: faults, credentials, index repair, rules, tables."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from acrsync.adapters.tablestore_client import build_ots_client, create_tables, import_tablestore
from acrsync.adapters.tablestore_store import TablestoreBudgetStore, TablestoreLedger, TablestoreRuleStore
from acrsync.domain.ledger import LedgerEntry, State
from acrsync.errors import ConflictError, UpstreamRejected, UpstreamUnavailable
from acrsync.local.tablestore_standin import TablestoreStandIn
from tests.contract.ledger_contract import make_entry
from tests.contract.rule_store_contract import make_rule
from tests.contract.tablestore_conftest_fixtures import (
    TS_AK,
    TS_INSTANCE,
    TS_SK,
    ots_client,
    tablestore_standin,
    ts_prefix,
)

pytestmark = pytest.mark.loopback

__all__ = ["ots_client", "tablestore_standin", "ts_prefix"]

ts = import_tablestore()


@pytest.fixture
def busy_standin() -> Iterator[TablestoreStandIn]:
    """A stand-in of its own that answers ~30% of data requests with OTSServerBusy (seeded)."""
    with TablestoreStandIn(access_key_id=TS_AK, access_key_secret=TS_SK, instance=TS_INSTANCE, seed=7) as s:
        create_tables(s.client(), prefix="b_")
        s.busy_rate = 0.3
        yield s


def test_server_busy_is_retried_by_the_sdk_policy_and_nothing_is_lost(
    busy_standin: TablestoreStandIn,
) -> None:
    # GIVEN a ledger on a stand-in that refuses ~30% of requests; the SDK's NoDelayRetryPolicy makes the
    # DefaultRetryPolicy's decisions (retry OTSServerBusy on every API, 20 times) without its sleeps
    ledger = TablestoreLedger(busy_standin.client(retry_policy=ts.NoDelayRetryPolicy()), prefix="b_")
    # WHEN 12 rows are claimed and each submitted
    for i in range(12):
        entry = make_entry(f"{i:032x}", next_check_at=float(i))
        ledger.claim(entry)
        ledger.update(entry.moved_to(State.SUBMITTED, 1.0, task_id=f"rst-{i}"), expected_revision=1)
    # THEN faults were injected, and every row is there, submitted, findable and listed exactly once
    assert busy_standin.injected >= 5
    assert busy_standin.stats()["errors"].get("PutRow:OTSServerBusy", 0) > 0
    listed = ledger.list_open(limit=100)
    assert [e.claim_id for e in listed] == [f"{i:032x}" for i in range(12)]
    assert all(e.state is State.SUBMITTED for e in listed)
    assert all(ledger.find_by_task(f"rst-{i}") is not None for i in range(12))


def test_a_store_that_stays_busy_surfaces_as_upstream_unavailable(busy_standin: TablestoreStandIn) -> None:
    # GIVEN every request refused, and the SDK's retry policy without delays (it still gives up after 20)
    busy_standin.busy_rate = 1.0
    ledger = TablestoreLedger(busy_standin.client(retry_policy=ts.NoDelayRetryPolicy()), prefix="b_")
    # WHEN a claim is attempted THEN it is a retryable error naming the code
    with pytest.raises(UpstreamUnavailable) as info:
        ledger.claim(make_entry())
    assert info.value.code == "OTSServerBusy"


def test_a_wrong_secret_is_a_clean_permanent_error_without_the_secret(
    tablestore_standin: TablestoreStandIn, ts_prefix: str
) -> None:
    wrong = "wrong-secret-do-not-log-42"
    client = build_ots_client(tablestore_standin.endpoint, TS_INSTANCE, TS_AK, wrong)
    with pytest.raises(UpstreamRejected) as info:
        TablestoreLedger(client, prefix=ts_prefix).get("x")
    assert info.value.code == "OTSAuthFailed"
    assert wrong not in str(info.value)


def test_an_unreachable_endpoint_is_upstream_unavailable() -> None:
    client = build_ots_client("http://127.0.0.1:9", TS_INSTANCE, TS_AK, TS_SK, socket_timeout=0.5)
    with pytest.raises(UpstreamUnavailable):
        TablestoreLedger(client).get("x")


def test_create_tables_is_idempotent_and_reports_what_it_did(ots_client: Any) -> None:
    first = create_tables(ots_client, prefix="idem_")
    second = create_tables(ots_client, prefix="idem_")
    assert all(line.startswith("created: idem_") for line in first)
    assert len(first) == 6  # rules, ledger, open tasks, task index, budget, reconcile
    assert second == [line.replace("created", "exists") for line in first]


class _FailingPuts:
    """A fake ``OTSClient`` front: fails PutRow on one table (once armed), passes everything else through."""

    def __init__(self, real: Any, table: str) -> None:
        self._real, self._table, self.armed = real, table, False

    def put_row(self, table: str, *args: Any, **kwargs: Any) -> Any:
        if self.armed and table == self._table:
            raise ts.OTSServiceError(503, "OTSServerBusy", "Server is busy.", "injected")
        return self._real.put_row(table, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def test_a_failed_index_write_changes_nothing_and_can_be_retried(ots_client: Any, ts_prefix: str) -> None:
    # GIVEN a claimed row, and an open-task index that refuses writes
    front = _FailingPuts(ots_client, f"{ts_prefix}open_tasks")
    ledger = TablestoreLedger(front, prefix=ts_prefix)
    entry = make_entry(next_check_at=10.0)
    ledger.claim(entry)
    moved = entry.moved_to(State.SUBMITTED, 11.0, task_id="rst-1", next_check_at=50.0)
    front.armed = True
    # WHEN the move is attempted THEN it fails retryably before the ledger row changed
    with pytest.raises(UpstreamUnavailable):
        ledger.update(moved, expected_revision=1)
    assert ledger.get(entry.claim_id) == entry
    # AND the row is still listed (at its old check time); the retried move succeeds
    assert [e.claim_id for e in ledger.list_open(limit=10)] == [entry.claim_id]
    front.armed = False
    ledger.update(moved, expected_revision=1)
    assert ledger.list_open(limit=10) == [moved]


def test_the_sweep_ignores_and_removes_stale_index_rows(ots_client: Any, ts_prefix: str) -> None:
    # GIVEN a finished row whose index removal was lost (as after a crash), and one open row
    ledger = TablestoreLedger(ots_client, prefix=ts_prefix)
    done, live = make_entry("d" * 32, next_check_at=5.0), make_entry("e" * 32, next_check_at=7.0)
    ledger.claim(done)
    ledger.claim(live)
    ledger.update(replace(done, state=State.VERIFIED, revision=2), expected_revision=1)
    orphan = [("bucket", int("d" * 8, 16) % 4), ("next_check_ms", 5000), ("claim_id", "d" * 32)]
    ots_client.put_row(f"{ts_prefix}open_tasks", ts.Row(orphan, [("revision", 1)]))
    # WHEN the watcher lists open rows
    listed = ledger.list_open(limit=10)
    # THEN only the open row is returned and the stale index row is gone
    assert [e.claim_id for e in listed] == ["e" * 32]
    _, row, _ = ots_client.get_row(f"{ts_prefix}open_tasks", orphan)
    assert row is None


def test_a_second_instance_with_a_stale_view_still_loses_cleanly(ots_client: Any, ts_prefix: str) -> None:
    # GIVEN two function instances (separate adapters) that both read revision 1
    a, b = (TablestoreLedger(ots_client, prefix=ts_prefix) for _ in range(2))
    entry = make_entry(next_check_at=10.0)
    a.claim(entry)
    assert b.get(entry.claim_id) == entry
    a.update(entry.moved_to(State.SUBMITTED, 11.0, next_check_at=20.0), expected_revision=1)
    # WHEN the second writes from revision 1 THEN it conflicts and the index still lists the row once
    with pytest.raises(ConflictError):
        b.update(entry.moved_to(State.FAILED, 11.0, next_check_at=99.0), expected_revision=1)
    assert [(e.claim_id, e.next_check_at) for e in a.list_open(limit=10)] == [(entry.claim_id, 20.0)]


def test_budget_holds_across_separate_instances(
    tablestore_standin: TablestoreStandIn, ts_prefix: str
) -> None:
    # GIVEN 6 "function instances" (own client, own adapter) taking 5 times each from a budget of 12
    stores = [TablestoreBudgetStore(tablestore_standin.client(), prefix=ts_prefix) for _ in range(6)]
    taken: list[float] = []
    lock, barrier = threading.Lock(), threading.Barrier(len(stores))

    def worker(store: TablestoreBudgetStore) -> None:
        barrier.wait()
        for _ in range(5):
            wait = store.take("acr-openapi", limit=12, window_s=1.0, now=1000.0)
            with lock:
                taken.append(wait)

    threads = [threading.Thread(target=worker, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # THEN exactly the limit was spent and every refusal says when a token returns
    assert taken.count(0.0) == 12
    assert all(abs(w - 1.0) < 1e-6 for w in taken if w != 0.0)


def _rule_keys(client: Any, prefix: str) -> list[str]:
    start, end = [("rule_key", ts.INF_MIN)], [("rule_key", ts.INF_MAX)]
    _, _, rows, _ = client.get_range(f"{prefix}rules", ts.Direction.FORWARD, start, end)
    return [r.primary_key[0][1] for r in rows]


def test_rule_writes_leave_only_the_committed_generation(ots_client: Any, ts_prefix: str) -> None:
    # GIVEN three successive writes
    store = TablestoreRuleStore(ots_client, prefix=ts_prefix)
    for version in range(3):
        store.write(
            channels={},
            upsert=[make_rule("a"), make_rule(f"n{version}")],
            delete=[],
            expected_version=version,
            now=float(version),
        )
    # THEN the table holds the meta row and the rows of version 3 only, one per rule
    keys = _rule_keys(ots_client, ts_prefix)
    assert keys[0] == "#meta"
    assert len(keys) == 1 + len(store.read().rules) == 5
    assert all(k.startswith("v000000000003.") for k in keys[1:])


def test_a_rules_write_that_dies_before_commit_changes_nothing_visible(
    ots_client: Any, ts_prefix: str
) -> None:
    # GIVEN stored rules, and a meta-row commit that fails (rules rows are staged by BatchWriteRow first)
    front = _FailingPuts(ots_client, f"{ts_prefix}rules")
    store = TablestoreRuleStore(front, prefix=ts_prefix)
    store.write(channels={}, upsert=[make_rule("a")], delete=[], expected_version=0, now=1.0)
    front.armed = True
    # WHEN a write dies at the commit
    with pytest.raises(UpstreamUnavailable):
        store.write(channels={}, upsert=[make_rule("b")], delete=["a"], expected_version=1, now=2.0)
    # THEN readers still see version 1 exactly, and the next write succeeds and collects the debris
    stored = store.read()
    assert (stored.version, [r["name"] for r in stored.rules]) == (1, ["a"])
    front.armed = False
    assert store.write(channels={}, upsert=[make_rule("c")], delete=[], expected_version=1, now=3.0) == 2
    assert len(_rule_keys(ots_client, ts_prefix)) == 1 + 2


def test_a_sweep_between_a_claims_two_writes_keeps_its_open_index_row(
    ots_client: Any, ts_prefix: str
) -> None:
    # GIVEN a claim whose index row is written and whose ledger row is not yet (a sweep lands in between)
    replicator = TablestoreLedger(ots_client, prefix=ts_prefix)
    watcher = TablestoreLedger(ots_client, prefix=ts_prefix)
    original = replicator._index_add

    def index_add_then_concurrent_sweep(entry: LedgerEntry) -> None:
        original(entry)
        watcher.list_open(limit=100)

    replicator._index_add = index_add_then_concurrent_sweep  # type: ignore[method-assign]
    entry = make_entry("ab" * 16)
    replicator.claim(entry)
    # WHEN the claimant dies before submitting THEN the sweep still finds the claim to reconcile it
    assert [e.claim_id for e in watcher.list_open(limit=100)] == [entry.claim_id]
