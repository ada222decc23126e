"""Cross-account destinations: read through the rule's role when there is one; never called verified
without it."""

from __future__ import annotations

from acrsync.domain.ledger import State
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
