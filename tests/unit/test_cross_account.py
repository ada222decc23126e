"""Cross-account destinations: read through the rule's role when there is one; never called verified
without it."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from acrsync.domain.ledger import LedgerEntry, State
from acrsync.domain.registry import TagInfo
from acrsync.local.fake_registry import FakeRegistry
from acrsync.ports import RegistryApi
from acrsync.service.doctor import PASS, WARN, run_checks
from acrsync.service.watch import WatchDeps, handle_watch
from tests.fixtures import load_event
from tests.harness import World, make_world
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


class CountingReader(FakeRegistry):
    """The other account's registry as a role would read it, counting ``GetRepoTag`` calls."""

    tag_reads = 0

    def get_repo_tag(self, instance_id: str, repo_id: str, tag: str) -> TagInfo | None:
        self.tag_reads += 1
        return super().get_repo_tag(instance_id, repo_id, tag)


def _completion_events(world: World, deps: WatchDeps) -> None:
    """Push the dated build (one cross-account destination), let ACR finish, deliver its completion event."""
    completions: list[dict[str, Any]] = []
    world.model.on_sync_completed(completions.append)
    world.push(load_event("acs.cr/push_completed.dated.json"))
    world.model.run_pending()
    assert completions
    for event in completions:
        handle_watch(json.dumps(event), deps, deadline=world.clock.monotonic() + 100)


def test_given_no_reader_when_the_completion_event_verifies_in_one_write_then_unverifiable() -> None:
    # GIVEN a cross-account destination and no role to read it with
    world = make_world()
    # WHEN its completion event takes the row from submitted to final in one batched write
    _completion_events(world, world.watcher())
    # THEN the row is unverifiable (never verified), written once (submitted at revision 2, final at 4)
    (row,) = [r for r in world.rows() if r.target_account]
    assert (row.state, row.revision) == (State.UNVERIFIABLE, 4)
    assert "without role_arn" in row.extra["verification"]
    assert world.model.requests_for("GetRepoTag") == []


def test_given_a_reader_when_the_completion_event_verifies_in_one_write_then_verified_through_it() -> None:
    # GIVEN a cross-account destination whose rule's role gives a reader of the other account
    world = make_world()
    readers: list[CountingReader] = []

    def cross_account(row: LedgerEntry) -> RegistryApi | None:
        readers.append(CountingReader(world.model, region=row.dest_region))
        return readers[-1]

    # WHEN its completion event arrives
    _completion_events(world, replace(world.watcher(), cross_account=cross_account))
    # THEN the destination tag was read through that reader and the row verified, in one write
    (row,) = [r for r in world.rows() if r.target_account]
    assert (row.state, row.revision) == (State.VERIFIED, 4)
    assert sum(r.tag_reads for r in readers) == 1
