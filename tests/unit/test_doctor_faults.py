"""``doctor`` keeps its promise that one broken thing never hides the others: with several ACR calls failing
at once (RAM denials, 5xx, throttling, the unexpected), every row is still there, each failing row says why
and what to do, the table prints, and the exit code is 1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from acrsync import bootstrap
from acrsync.local.acr_faults import FORBIDDEN, SERVER_ERROR, THROTTLE, UNAVAILABLE
from acrsync.local.fake_registry import FakeRegistry
from acrsync.service.doctor import FAIL, PASS, WARN, Check, failed, run_checks
from acrsync.service.doctor_guard import RAM_FIX, TRANSIENT_FIX, UNEXPECTED_FIX
from tests.unit.store_world import EXAMPLE_RULES, cli, pin, store_env
from tests.unit.test_doctor import DST, SRC, deps, healthy_model, rules


@pytest.fixture(autouse=True)
def _fresh_instance() -> Iterator[None]:
    yield
    bootstrap.reset()


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def star_rules() -> list[dict[str, Any]]:
    """The two rules of test_doctor plus a "**" rule whose namespaces come from ListRepository."""
    star = rules()[0] | {"name": "everything"}
    star["source"] = {"instance": SRC, "repositories": ["**"]}
    star["destinations"] = [{"instance": DST, "region": "cn-shanghai", "namespace": "{namespace}"}]
    return [*rules(), star]


EXPECTED_ROWS = {
    "store",
    "rules",
    "credentials",
    f"source edition {SRC}",
    "destination region cn-shanghai",
    f"destination namespace {DST}/team-a",
    f"destination namespace {DST}/ops",
    f"destination repository {DST}/ops/mirror",
    "alert channel ops",
    "alert channel default",
}


def test_healthy_world_has_every_row_and_passes() -> None:
    checks = run_checks(deps(healthy_model(), star_rules()))
    assert set(by_name(checks)) >= EXPECTED_ROWS, sorted(by_name(checks))
    assert not failed(checks), [c for c in checks if c.status != PASS]


def test_several_failing_acr_calls_at_once_leave_every_row_present_with_its_fix() -> None:
    # GIVEN ListRepository denied by RAM, GetInstance throttled, one GetNamespace 503 and GetRepository 500
    model = healthy_model()
    model.faults.script(FORBIDDEN, action="ListRepository", times=5)
    model.faults.script(THROTTLE, action="GetInstance", times=1)
    model.faults.script(UNAVAILABLE, action="GetNamespace", times=1)
    model.faults.script(SERVER_ERROR, action="GetRepository", times=1)
    # WHEN doctor runs
    checks = run_checks(deps(model, star_rules()))
    rows = by_name(checks)
    # THEN no row is missing: the checks after each failure still ran
    assert set(rows) >= EXPECTED_ROWS, sorted(rows)
    # AND each failure is its own FAIL row, saying why and what to do
    assert rows["credentials"].status == FAIL
    assert "Throttling" in rows["credentials"].detail
    assert rows["credentials"].fix == TRANSIENT_FIX
    assert rows[f"source edition {SRC}"].status == PASS  # the next GetInstance went through
    assert rows[f"destination namespace {DST}/team-a"].status == FAIL
    assert "ServiceUnavailable" in rows[f"destination namespace {DST}/team-a"].detail
    assert rows[f"destination namespace {DST}/ops"].status == PASS
    assert rows[f"destination repository {DST}/ops/mirror"].status == FAIL
    assert "SystemError" in rows[f"destination repository {DST}/ops/mirror"].detail
    denied = [c for c in checks if "Forbidden.RAM" in c.detail]
    assert [(c.name, c.status, c.fix) for c in denied] == [(f"destination namespace {DST}", FAIL, RAM_FIX)]
    assert "rule everything" in denied[0].detail
    assert rows["alert channel ops"].status == PASS
    assert failed(checks)


def test_a_denied_get_instance_still_runs_the_destination_checks() -> None:
    model = healthy_model()
    model.faults.script(FORBIDDEN, action="GetInstance", times=10)
    rows = by_name(run_checks(deps(model)))
    assert rows["credentials"].status == FAIL
    assert rows["credentials"].fix == RAM_FIX
    assert rows[f"source edition {SRC}"].status == FAIL
    assert rows[f"destination namespace {DST}/team-a"].status == PASS


class Exploding(FakeRegistry):
    """A registry whose namespace reads hit a bug (not an acr-sync error)."""

    def get_namespace(self, instance_id: str, name: str) -> Any:
        raise KeyError(name)


def test_an_unexpected_exception_in_one_check_is_a_fail_row_not_a_crash() -> None:
    model = healthy_model()
    checks = run_checks(deps(model, registry=lambda region: Exploding(model, region=region)))
    rows = by_name(checks)
    broken = [c for c in checks if c.name.startswith(f"destination namespace {DST}")]
    assert broken
    assert {c.status for c in broken} == {FAIL}
    assert all("KeyError" in c.detail and c.fix == UNEXPECTED_FIX for c in broken)
    assert rows["alert channel ops"].status == PASS  # checked after the crash


def test_alert_channels_that_cannot_be_read_are_a_fail_row() -> None:
    def unreadable(name: str) -> Any:
        raise OSError("store went away")

    base = deps(healthy_model())
    checks = run_checks(
        type(base)(**{f: getattr(base, f) for f in base.__dataclass_fields__} | {"channels": unreadable})
    )
    (row,) = [c for c in checks if c.name == "alert channels"]
    assert (row.status, row.fix) == (FAIL, UNEXPECTED_FIX)
    assert "store went away" in row.detail


def test_cross_account_destination_that_cannot_be_read_stays_a_warning() -> None:
    model = healthy_model()
    model.faults.script(FORBIDDEN, action="GetNamespace", times=5)
    doc = rules()[:1]
    doc[0]["destinations"][0]["account"] = "1234567890123999"
    rows = by_name(run_checks(deps(model, doc)))
    assert rows[f"destination namespace {DST}/team-a"].status == WARN


def store_with_rules(tmp_path: Path) -> dict[str, str]:
    env = store_env(tmp_path / "acrsync.db")
    assert cli(env, "rules", "apply", str(EXAMPLE_RULES)).exit_code == 0
    return env


def test_doctor_command_prints_the_whole_table_and_exits_1_when_calls_fail(tmp_path: Path) -> None:
    # GIVEN the demo rules in a store, and an account where ListRepository is denied and GetNamespace 503s
    env = store_with_rules(tmp_path)
    world = pin(env)
    world.model.faults.script(FORBIDDEN, action="ListRepository", times=5)
    world.model.faults.script(UNAVAILABLE, action="GetNamespace", times=50)
    # WHEN the operator runs doctor, as a table and as JSON
    table = cli(env, "doctor", world=world)
    data = cli(env, "doctor", "--json", world=world)
    # THEN both exit 1 and carry every row: the store, the rules, the regions, the channels — not one error
    assert table.exit_code == data.exit_code == 1, table.output
    checks = json.loads(data.stdout)["checks"]
    names = {c["name"] for c in checks}
    assert {"store", "rules", "credentials", "destination region cn-shanghai", "alert channel ops"} <= names
    assert {c["status"] for c in checks if c["name"] in ("store", "rules")} == {PASS}
    assert any("Forbidden.RAM" in c["detail"] and c["fix"] == RAM_FIX for c in checks)
    assert any("ServiceUnavailable" in c["detail"] and c["status"] == FAIL for c in checks)
    for name in (
        "store",
        "credentials",
        "destination region cn-beijing",
        "Forbidden.RAM",
        "ServiceUnavailable",
    ):
        assert name in table.stdout
    assert "error:" not in table.output
    assert isinstance(table.exception, SystemExit)
