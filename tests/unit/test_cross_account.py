"""Cross-account destinations: read through the rule's role when there is one; never called verified
without it."""

from __future__ import annotations

from acrsync.domain.ledger import State
from acrsync.service.doctor import PASS, WARN, run_checks
from tests.fixtures import load_event
from tests.harness import make_world
from tests.unit.reconcile_fixtures import settle


def test_given_a_cross_account_destination_without_a_reader_when_its_task_succeeds_then_unverifiable() -> (
    None
):
    world = make_world()
    world.push(load_event("acs.cr/push_completed.dated.json"))
    settle(world)
    (row,) = [r for r in world.rows() if r.target_account]
    assert row.state is State.UNVERIFIABLE
    assert "without role_arn" in row.extra["verification"]
    assert all(r.params["InstanceId"] != row.dest_instance for r in world.model.requests_for("GetRepoTag"))
    assert world.notifier.sent == []


def test_given_cross_account_destinations_when_doctor_runs_then_without_a_role_it_warns_unverifiable() -> (
    None
):
    from tests.unit.test_doctor import DST, by_name, deps, healthy_model, rules

    with_role = rules(account="2222222222222222", role_arn="acs:ram::2222222222222222:role/reader")
    without = rules(account="3333333333333333")
    checks = by_name(run_checks(deps(healthy_model(), [with_role[0], {**without[0], "name": "other"}])))
    assert checks[f"cross-account destination {DST}@cn-shanghai (account 2222222222222222)"].status == PASS
    warned = checks[f"cross-account destination {DST}@cn-shanghai (account 3333333333333333)"]
    assert warned.status == WARN
    assert "never verified" in warned.detail
    assert "role_arn: acs:ram::3333333333333333:role/NAME" in warned.fix
