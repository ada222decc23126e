"""Outcome events through the outbox: the real EventBridge SDK → the loopback bus stand-in, with outages and
a crash between publish and the outbox update."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from acrsync.adapters.eventbridge import EventBridgeBus, build_eventbridge_client
from acrsync.adapters.memory import MemoryLedger
from acrsync.domain.ledger import FINAL_STATES, LedgerEntry, State
from acrsync.domain.outcomes import event_id, owed
from acrsync.local import demo
from acrsync.local.eventbridge_api import EventBridgeState, eventbridge_standin
from acrsync.local.openapi_standin import OpenApiStandin
from acrsync.ports import Ledger, RowResult
from acrsync.service.clock import ManualClock
from acrsync.service.outcomes import OutboxLedger, publish_outcomes
from acrsync.service.replicate import handle_push
from acrsync.service.submit import Submitter
from acrsync.service.watch import handle_watch
from tests.builders import ledger_entry
from tests.fixtures import load_event
from tests.harness import make_world

pytestmark = pytest.mark.loopback

BUS = "acr-sync-outcomes"
FAR = 1e12  # a deadline that never comes


@pytest.fixture
def bus() -> Iterator[tuple[EventBridgeState, OpenApiStandin]]:
    state = EventBridgeState()
    state.add_bus(BUS)
    with eventbridge_standin(state) as standin:
        yield state, standin


def client(standin: OpenApiStandin) -> EventBridgeBus:
    return EventBridgeBus(
        build_eventbridge_client(
            "cn-hangzhou",
            standin.url,
            access_key_id=standin.access_key_id,
            access_key_secret=standin.access_key_secret,
        )
    )


def row(n: int) -> LedgerEntry:
    return ledger_entry(f"{n:032x}", tag=f"v{n}", rule="r")


def move(ledger: Ledger, claim_id: str, *states: State, clock: ManualClock) -> None:
    for state in states:
        current = ledger.get(claim_id)
        assert current is not None
        clock.advance(1)
        ledger.update(current.moved_to(state, clock.now()), expected_revision=current.revision)


def outcomes_flow(ledger: Ledger, clock: ManualClock) -> dict[str, list[str]]:
    """Four replications: verified; failed; mismatch; failed then retried and verified (resolved)."""
    for n in range(4):
        ledger.claim(row(n))
    a, b, c, d = (f"{n:032x}" for n in range(4))
    move(ledger, a, State.SUBMITTED, State.SUCCEEDED, State.VERIFIED, clock=clock)
    move(ledger, b, State.SUBMITTED, State.FAILED, clock=clock)
    move(ledger, c, State.SUBMITTED, State.SUCCEEDED, State.MISMATCH, clock=clock)
    move(ledger, d, State.SUBMITTED, State.FAILED, clock=clock)
    return {a: ["verified"], b: ["failed"], c: ["mismatch"], d: ["failed", "verified", "resolved"]}


def received_ids(state: EventBridgeState) -> Counter[str]:
    return Counter(str(e["Id"]) for e in state.received.get(BUS, []))


def test_a_flow_publishes_exactly_its_outcomes_once_each(
    bus: tuple[EventBridgeState, OpenApiStandin],
) -> None:
    # GIVEN replications reaching verified, failed, mismatch, and a failure that later recovers
    state, standin = bus
    clock = ManualClock(start=1_800_000_000.0)
    ledger = OutboxLedger(MemoryLedger())
    expected = outcomes_flow(ledger, clock)
    publish_outcomes(ledger, client(standin), BUS, clock, deadline=FAR)
    d = f"{3:032x}"
    move(ledger, d, State.RETRYING, State.SUBMITTED, State.SUCCEEDED, State.VERIFIED, clock=clock)
    # WHEN the publisher runs (twice more: nothing is left to send the second time)
    publish_outcomes(ledger, client(standin), BUS, clock, deadline=FAR)
    publish_outcomes(ledger, client(standin), BUS, clock, deadline=FAR)
    # THEN the bus got exactly one event per (claim, outcome), typed and ided as documented
    got = state.received[BUS]
    assert Counter(str(e["Id"]) for e in got) == Counter(
        event_id(claim, outcome) for claim, outcomes in expected.items() for outcome in outcomes
    )
    types = Counter(str(e["Type"]) for e in got)
    assert types == Counter(
        {
            "acrsync:Replication:Verified": 2,
            "acrsync:Replication:Failed": 2,
            "acrsync:Replication:Mismatch": 1,
            "acrsync:Replication:Resolved": 1,
        }
    )
    # AND no row still owes anything, so none stays in the alert lane for events
    assert all(not owed(r) for r in ledger.scan())
    assert all(not owed(r) for r in ledger.list_open(limit=100, due_before=0.0))


class CrashAfterPublish(Ledger):
    """A ledger whose first outbox update after a publish dies, as a process killed at that instant would."""

    def __init__(self, inner: Ledger) -> None:
        self.inner = inner
        self.crashed = False

    def update(self, entry: LedgerEntry, *, expected_revision: int) -> None:
        if not self.crashed and "published" in entry.extra:
            self.crashed = True
            raise SystemExit("crash between PutEvents and the outbox update")
        self.inner.update(entry, expected_revision=expected_revision)

    def claim(self, entry: LedgerEntry) -> None:
        self.inner.claim(entry)

    def get(self, claim_id: str) -> LedgerEntry | None:
        return self.inner.get(claim_id)

    def find_by_task(self, task_id: str) -> LedgerEntry | None:
        return self.inner.find_by_task(task_id)

    def list_open(
        self, *, limit: int, due_before: float | None = None, due_after: float | None = None
    ) -> list[LedgerEntry]:
        return self.inner.list_open(limit=limit, due_before=due_before, due_after=due_after)

    def scan(self, *, since: float = 0.0, states: frozenset[State] | None = None) -> Iterator[LedgerEntry]:
        return self.inner.scan(since=since, states=states)


def test_outages_and_a_crash_delay_events_but_lose_none_and_repeat_only_the_crashed_batch(
    bus: tuple[EventBridgeState, OpenApiStandin],
) -> None:
    # GIVEN a bus failing 30% of PutEvents calls, and 40 replications with outcomes
    state, standin = bus
    state.fail_rate = 0.3
    clock = ManualClock(start=1_800_000_000.0)
    stored = MemoryLedger()
    crashing = CrashAfterPublish(stored)
    ledger = OutboxLedger(crashing)
    expected = set()
    for n in range(40):
        ledger.claim(row(n))
        outcome = State.VERIFIED if n % 2 else State.FAILED
        path = (
            [State.SUBMITTED, State.SUCCEEDED, State.VERIFIED] if n % 2 else [State.SUBMITTED, State.FAILED]
        )
        move(ledger, f"{n:032x}", *path, clock=clock)
        expected.add(event_id(f"{n:032x}", outcome.value))
    # WHEN the publisher runs tick after tick; the first tick dies right after a successful PutEvents
    crashed_batch: set[str] = set()
    for _ in range(40):
        before = set(received_ids(state))
        try:
            publish_outcomes(ledger, client(standin), BUS, clock, deadline=FAR)
        except SystemExit:
            crashed_batch = set(received_ids(state)) - before
            ledger = OutboxLedger(crashing)  # a new instance: nothing remembered from the dead one
        if not any(owed(r) for r in stored.scan()):
            break
    # THEN every outcome arrived; the only repeats are events of the batch whose update the crash lost
    got = received_ids(state)
    assert set(got) == expected
    assert crashing.crashed
    assert crashed_batch
    repeated = {i for i, count in got.items() if count > 1}
    assert repeated <= crashed_batch
    assert all(count <= 2 for count in got.values())
    # AND the outbox is empty: nothing is owed any more
    assert all(not owed(r) for r in stored.scan())


def test_a_batch_never_exceeds_put_events_limit(bus: tuple[EventBridgeState, OpenApiStandin]) -> None:
    # GIVEN 40 owed events WHEN published THEN the bus saw ceil(40/16) = 3 PutEvents calls
    state, standin = bus
    state.fail_rate = 0.0
    clock = ManualClock(start=1_800_000_000.0)
    ledger = OutboxLedger(MemoryLedger())
    for n in range(40):
        ledger.claim(row(n))
        move(ledger, f"{n:032x}", State.SUBMITTED, State.FAILED, clock=clock)
    sent = publish_outcomes(ledger, client(standin), BUS, clock, deadline=FAR)
    assert sent == 40
    assert len([r for r in standin.requests if r[2] == 200]) == 3


def test_the_demo_publishes_one_event_per_outcome_through_the_handlers(tmp_path: Path) -> None:
    # GIVEN the demo's flow through the replicator and watcher handlers, with ACRSYNC_EVENT_BUS set
    report = demo.run(tmp_path)
    # THEN its subscriber got exactly one event per final row, typed by the row's outcome, no id twice
    types = Counter(str(e["Type"]).rsplit(":", 1)[1].lower() for e in report.events)
    expected = Counter(r.state.value for r in report.rows)
    expected.update(n.extra["notice"] for n in report.notices if n.extra["notice"] in ("conflict", "pruned"))
    assert types == expected
    assert expected["unverifiable"] == 1  # the cross-account destination without a role_arn
    assert expected["conflict"] == 1  # the tag overwritten behind acr-sync's back
    assert len({e["Id"] for e in report.events}) == len(report.events)
    # AND the deployment it checked first passed every check
    assert {c.status for c in report.deployed} == {"PASS"}


class BatchCountingLedger(MemoryLedger):
    """A memory ledger that records each batched write it is asked for (and whether it was lazy)."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[tuple[int, bool]] = []

    def update_many(
        self, updates: Sequence[tuple[LedgerEntry, int]], *, lazy: bool = False
    ) -> list[RowResult]:
        self.batches.append((len(updates), lazy))
        return super().update_many(updates, lazy=lazy)


def test_the_batched_watcher_publishes_each_outcome_once(
    bus: tuple[EventBridgeState, OpenApiStandin],
) -> None:
    # GIVEN the replicator and watcher services over an outbox ledger (ACRSYNC_EVENT_BUS set) whose watcher
    # publishes on every tick to the loopback bus; Beijing's team-a is broken, so its tasks fail
    state, standin = bus
    state.fail_rate = 0.0
    world = make_world()
    world.model.fail_destination("cri-demo-bj", "team-a", "namespace not exist")
    inner = BatchCountingLedger()
    world.ledger = inner
    ledger = OutboxLedger(inner)
    submitter = Submitter(ledger, world.registry, world.gate, world.clock)
    pushes = replace(world.replicator(), ledger=ledger, submitter=submitter)
    publish = partial(publish_outcomes, ledger, client(standin), BUS, world.clock)
    watcher = replace(
        world.watcher(),
        ledger=ledger,
        submitter=submitter,
        publish=lambda deadline: publish(deadline=deadline),
    )
    completions: list[dict[str, Any]] = []
    world.model.on_sync_completed(completions.append)
    for name in ("push_completed.json", "push_completed.v1.3.0.json", "push_completed.dated.json"):
        handle_push(load_event(f"acs.cr/{name}"), pushes, deadline=world.clock.monotonic() + 55)
    # WHEN ACR finishes: the first push's completion events arrive, the others' are lost (the sweep's turn)
    world.model.run_pending()
    first = {r.task_id for r in inner.scan() if r.source_tag == "v1.2.3"}
    for event in completions:
        if event["data"].get("SyncTaskId") in first:
            handle_watch(json.dumps(event), watcher, deadline=world.clock.monotonic() + 100)
    for _ in range(12):  # twelve minutes of timer ticks: the sweep, the alert windows, the publisher
        world.clock.advance(61)
        tick = json.dumps({"triggerTime": "2026-11-28T00:00:00Z", "triggerName": "sweep", "payload": "{}"})
        handle_watch(tick, watcher, deadline=world.clock.monotonic() + 115)
    # THEN both batched paths ran (completion events: lazy; the sweep: not lazy)
    assert {lazy for _, lazy in inner.batches} == {True, False}
    # AND the bus got exactly one event per final row, typed by its state, each id once
    rows = list(inner.scan())
    assert all(r.state in FINAL_STATES for r in rows)
    got = state.received[BUS]
    assert Counter(str(e["Type"]).rsplit(":", 1)[1].lower() for e in got) == Counter(
        r.state.value for r in rows
    )
    assert Counter(str(e["Id"]) for e in got) == Counter(event_id(r.claim_id, r.state.value) for r in rows)
    assert {r.state for r in rows} == {State.VERIFIED, State.FAILED, State.UNVERIFIABLE}
    # AND nothing is owed any more
    assert all(not owed(r) for r in rows)
