"""Outcome events through the outbox: the real EventBridge SDK → the loopback bus stand-in, with outages and
a crash between publish and the outbox update."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from acrsync.adapters.eventbridge import EventBridgeBus, build_eventbridge_client
from acrsync.adapters.memory import MemoryLedger
from acrsync.domain.ledger import LedgerEntry, State
from acrsync.domain.outcomes import event_id, owed
from acrsync.local import demo
from acrsync.local.eventbridge_api import EventBridgeState, eventbridge_standin
from acrsync.local.openapi_standin import OpenApiStandin
from acrsync.ports import Ledger
from acrsync.service.clock import ManualClock
from acrsync.service.outcomes import OutboxLedger, publish_outcomes

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
    return LedgerEntry(
        claim_id=f"{n:032x}",
        rule="r",
        source_instance="cri-src",
        source_region="cn-hangzhou",
        source_namespace="team-a",
        source_repo="web",
        source_tag=f"v{n}",
        digest="sha256:" + "a" * 64,
        dest_instance="cri-dst",
        dest_region="cn-shanghai",
        dest_namespace="team-a",
        dest_repo="web",
        dest_tag=f"v{n}",
    )


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
