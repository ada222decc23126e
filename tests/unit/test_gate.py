"""The API gate: a shared budget that holds across instances, and retries with backoff until a deadline."""

from __future__ import annotations

import random

import pytest

from acrsync.adapters.memory import MemoryBudgetStore
from acrsync.errors import BudgetExhausted, UpstreamUnavailable
from acrsync.service.clock import ManualClock
from acrsync.service.gate import CallGate


def test_two_instances_sharing_a_budget_never_exceed_qps_in_any_second() -> None:
    # GIVEN two function instances with their own gates over one budget store, 10 calls/s
    clock = ManualClock()
    store = MemoryBudgetStore()
    gates = [CallGate(store, clock, qps=10, rng=random.Random(i)) for i in range(2)]
    rng = random.Random(7)
    calls: list[float] = []
    # WHEN they call as fast as they are let, interleaved, with small random gaps
    for _ in range(400):
        gate = rng.choice(gates)
        gate.call(lambda: calls.append(clock.now()), deadline=clock.monotonic() + 60, what="x")
        clock.advance(rng.uniform(0, 0.02))
    # THEN no 1-second window holds more than 10 calls
    calls.sort()
    worst = max(sum(1 for u in calls if t <= u < t + 1.0) for t in calls)
    assert worst <= 10
    # AND the budget is used, not starved: at least 60% of the ceiling on average
    assert len(calls) / (calls[-1] - calls[0]) >= 6.0


def test_batches_spare_store_round_trips() -> None:
    clock = ManualClock()
    store = MemoryBudgetStore()
    gate = CallGate(store, clock, qps=12, batch=4)
    for _ in range(8):
        gate.call(lambda: None, deadline=clock.monotonic() + 10, what="x")
    assert store.calls == 2


def test_transient_failures_are_retried_until_success() -> None:
    clock = ManualClock()
    gate = CallGate(MemoryBudgetStore(), clock, qps=100)
    attempts = iter([UpstreamUnavailable("503"), UpstreamUnavailable("throttled", retry_after=2.0), "ok"])

    def flaky() -> str:
        result = next(attempts)
        if isinstance(result, Exception):
            raise result
        return result

    assert gate.call(flaky, deadline=clock.monotonic() + 30, what="x") == "ok"
    assert clock.slept >= 2.0  # retry_after honoured


def test_failures_past_the_deadline_raise_budget_exhausted() -> None:
    clock = ManualClock()
    gate = CallGate(MemoryBudgetStore(), clock, qps=100)

    def always() -> None:
        raise UpstreamUnavailable("503", retry_after=5.0)

    with pytest.raises(BudgetExhausted):
        gate.call(always, deadline=clock.monotonic() + 3, what="CreateRepoSyncTask")


@pytest.mark.parametrize("seed", range(6))
def test_reservations_of_any_size_and_hold_never_exceed_qps_in_any_second(seed: int) -> None:
    # GIVEN three instances over one budget, mixing single calls and reservations of 1..12 calls made
    # one after another with random gaps (long holds: a fan-out's creates, a sweep's reads)
    clock = ManualClock()
    store = MemoryBudgetStore()
    gates = [CallGate(store, clock, qps=10, rng=random.Random(seed * 10 + i)) for i in range(3)]
    rng = random.Random(seed)
    calls: list[float] = []
    for _ in range(120):
        gate = rng.choice(gates)
        n = rng.choice([1, 1, 2, 3, 5, 8, 12])
        if n > 1:
            gate.reserve(n, deadline=clock.monotonic() + 60, ahead=rng.choice([0, 2, 10]))
        for _ in range(n):
            gate.call(lambda: calls.append(clock.now()), deadline=clock.monotonic() + 60, what="x")
            clock.advance(rng.uniform(0, 0.08))
    # THEN no 1-second window holds more than 10 calls
    calls.sort()
    assert max(sum(1 for u in calls if t <= u < t + 1.0) for t in calls) <= 10


def test_a_reservation_serves_a_fan_out_with_one_store_round_trip() -> None:
    # GIVEN a gate at 10 calls/s and five creates to make, 50 ms apart
    clock = ManualClock()
    store = MemoryBudgetStore()
    gate = CallGate(store, clock, qps=10)
    # WHEN the tokens for all five are reserved first
    gate.reserve(5, deadline=clock.monotonic() + 10)
    for _ in range(5):
        gate.call(lambda: None, deadline=clock.monotonic() + 10, what="CreateRepoSyncTask")
        clock.advance(0.05)
    # THEN the budget store was asked once
    assert store.calls == 1
