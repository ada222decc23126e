"""The reconciler's API budget: at most its share of ACRSYNC_ACR_QPS, and first to wait when busy."""

from __future__ import annotations

import pytest

from acrsync import bootstrap
from acrsync.adapters.memory import MemoryBudgetStore
from acrsync.config import load_settings
from acrsync.errors import BudgetExhausted, ConfigError
from acrsync.service.clock import ManualClock
from acrsync.service.gate import CallGate


def gates(share_qps: int = 5) -> tuple[ManualClock, CallGate, CallGate]:
    budget, clock = MemoryBudgetStore(), ManualClock()
    return clock, CallGate(budget, clock, qps=10, batch=1), CallGate(budget, clock, qps=share_qps, batch=1)


def test_given_functions_using_more_than_the_share_when_the_reconciler_asks_then_it_waits_they_do_not() -> (
    None
):
    clock, functions, reconciler = gates()
    for _ in range(6):
        functions.acquire(clock.monotonic() + 0.01)
    with pytest.raises(BudgetExhausted):
        reconciler.acquire(clock.monotonic() + 0.1)
    for _ in range(4):  # the functions still get the whole rest of the budget at once
        functions.acquire(clock.monotonic() + 0.01)


def test_given_an_idle_account_when_the_reconciler_runs_flat_out_then_it_stays_within_its_share() -> None:
    clock, _, reconciler = gates()
    start = clock.now()
    for _ in range(200):
        reconciler.acquire(clock.monotonic() + 60)
    rate = 200 / (clock.now() - start)
    assert 5 / 1.25 * 0.9 <= rate <= 5.0  # CallGate's ceiling is qps / (1 + HOLD_S)


def test_given_the_default_settings_then_the_share_is_half_of_acr_qps(tmp_path: object) -> None:
    bootstrap.reset({"ACRSYNC_STORE": f"sqlite:///{tmp_path}/a.db", "ACRSYNC_ACR_QPS": "10"})
    try:
        assert bootstrap.reconciler_gate().qps == 5
    finally:
        bootstrap.reset()


@pytest.mark.parametrize("raw", ["0", "101", "half", "-5"])
def test_given_a_bad_share_when_settings_load_then_the_error_names_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match="ACRSYNC_RECONCILER_SHARE"):
        load_settings({"ACRSYNC_RECONCILER_SHARE": raw})


def test_given_a_share_with_a_percent_sign_then_it_is_accepted() -> None:
    assert load_settings({"ACRSYNC_RECONCILER_SHARE": "25%"}).reconciler_share == 25
