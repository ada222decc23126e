"""The watcher's economy over fakes: one write per task, batched sweeps, and polls it can skip safely."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from acrsync.domain.ledger import LedgerEntry, State, new_claim
from acrsync.domain.rules_eval import evaluate
from acrsync.ports import RowResult
from acrsync.service.watch import handle_watch
from acrsync.service.watch_batch import EVENT_SAFETY_S
from tests.fixtures import load_event
from tests.harness import World, make_world
from tests.unit.rules_fixtures import image, index, rule


@pytest.fixture
def world() -> World:
    return make_world()


def _events(world: World) -> list[dict[str, Any]]:
    completions: list[dict[str, Any]] = []
    world.model.on_sync_completed(completions.append)
    return completions


def _deliver(world: World, completions: list[dict[str, Any]], deps: Any = None) -> None:
    for event in completions:
        handle_watch(json.dumps(event), deps or world.watcher(), deadline=world.clock.monotonic() + 100)
    completions.clear()


def _polls(world: World) -> int:
    return len(world.model.requests_for("GetRepoSyncTask"))


def test_a_completion_event_takes_a_task_to_verified_in_one_ledger_write(world: World) -> None:
    # GIVEN two submitted tasks that ACR has finished
    completions = _events(world)
    world.push(load_event("acs.cr/push_completed.json"))
    world.model.run_pending()
    before = world.ledger.calls
    # WHEN their completion events arrive
    _deliver(world, completions)
    # THEN each is verified with: find by task, one batched write (+ the events mark, once per instance)
    assert world.ledger.calls - before == 2 * 2 + 1
    assert {r.state for r in world.rows()} == {State.VERIFIED}
    # AND the row went from submitted (revision 2) to verified at revision 4 in that single write
    assert {r.revision for r in world.rows()} == {4}


def test_while_events_flow_the_sweep_does_not_poll_a_task_without_its_event(world: World) -> None:
    # GIVEN completion events are flowing (one task finished and its event was handled)
    completions = _events(world)
    world.push(load_event("acs.cr/push_completed.json"))
    world.model.run_pending()
    _deliver(world, completions)
    # AND a second push whose tasks are still running
    world.push(load_event("acs.cr/push_completed.v1.3.0.json"))
    open_rows = [r for r in world.rows() if r.state is State.SUBMITTED]
    assert open_rows
    polls = _polls(world)
    # WHEN the sweep runs once they are due
    world.clock.advance(61)
    response = world.tick()
    # THEN none was polled, and nothing was written for them: each waits for its event
    assert _polls(world) == polls
    assert response["actions"].get("awaiting_event") == len(open_rows)
    assert {r.revision for r in world.rows() if r.state is State.SUBMITTED} == {2}
    # AND the next tick, still within EVENT_SAFETY_S of submission, leaves them too
    world.clock.advance(60)
    assert world.tick()["actions"].get("awaiting_event") == len(open_rows)
    assert _polls(world) == polls


def test_when_the_event_never_comes_the_sweep_still_verifies_the_task(world: World) -> None:
    # GIVEN events flowing, then a push whose completion events are lost
    completions = _events(world)
    world.push(load_event("acs.cr/push_completed.json"))
    world.model.run_pending()
    _deliver(world, completions)
    world.push(load_event("acs.cr/push_completed.v1.3.0.json"))
    world.model.run_pending()
    completions.clear()  # lost
    # WHEN the timer keeps ticking for longer than the safety period
    for _ in range(int(EVENT_SAFETY_S // 60) + 2):
        world.clock.advance(60)
        world.tick()
    # THEN every task is verified all the same
    assert {r.state for r in world.rows()} == {State.VERIFIED}


def test_without_events_the_sweep_polls_as_before(world: World) -> None:
    world.push(load_event("acs.cr/push_completed.json"))
    world.clock.advance(61)
    response = world.tick()
    assert "awaiting_event" not in response["actions"]
    assert _polls(world) == 2


def test_an_idle_tick_reads_the_watch_list_once(world: World) -> None:
    before = world.ledger.calls
    world.tick()
    assert world.ledger.calls - before == 1


def test_a_cached_repository_look_up_spends_no_budget_token(world: World) -> None:
    # GIVEN one watcher instance verifying two tasks into the same destination repositories
    completions = _events(world)
    deps = world.watcher()
    for event in ("acs.cr/push_completed.json", "acs.cr/push_completed.v1.3.0.json"):
        world.push(load_event(event))
    world.model.run_pending()
    # WHEN their events are handled
    _deliver(world, completions, deps)
    # THEN every call through the gate reached ACR: the cached GetRepository did not go through it
    acr = [r for r in world.model.requests if r.action != "CreateRepoSyncTask"]
    assert len([r for r in acr if r.action == "GetRepository"]) < 4
    assert deps.gate.calls == len(acr)


class _RacingLedger:
    """Wraps a ledger; before each batch write another writer moves every row first."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.inner = world.ledger

    def update_many(
        self, updates: Sequence[tuple[LedgerEntry, int]], *, lazy: bool = False
    ) -> list[RowResult]:
        for entry, expected in updates:
            current = self.inner.get(entry.claim_id)
            assert current is not None
            self.inner.update(
                current.moved_to(current.state, 1.0, last_error="other"), expected_revision=expected
            )
        return self.inner.update_many(updates, lazy=lazy)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_sweep_write_that_loses_its_race_is_counted_as_such(world: World) -> None:
    # GIVEN two due tasks, and another writer that moves each row before the sweep's batch lands
    world.push(load_event("acs.cr/push_completed.json"))
    world.model.run_pending()
    world.clock.advance(61)
    deps = world.watcher()
    racing = type(deps)(
        **{**{f: getattr(deps, f) for f in deps.__dataclass_fields__}, "ledger": _RacingLedger(world)}
    )
    # WHEN the sweep runs
    response = handle_watch(
        json.dumps({"triggerTime": "2026-11-28T00:00:00Z", "triggerName": "sweep", "payload": "{}"}),
        racing,
        deadline=world.clock.monotonic() + 100,
    ).as_response()
    # THEN its transitions were not written and are reported as lost races, not as verified
    assert response["actions"] == {"lost_race": 2}
    assert {r.state for r in world.rows()} == {State.SUBMITTED}


def test_while_events_flow_a_copy_job_is_still_followed_by_the_sweep(world: World) -> None:
    # GIVEN completion events flowing for a source instance, and a copy job (a `registry:` destination) of
    # that instance, submitted a minute ago: the copier, not ACR, finishes it, so no completion event comes
    (request,) = evaluate(
        index(rule(destinations=[{"registry": "harbor.example.com/dr"}])), image("team-a/web", "1.2.3")
    )
    now = world.clock.now()
    claimed = new_claim(request, event_id="evt-copy", now=now)
    submitted = claimed.moved_to(
        State.SUBMITTED, now, task_id="copy-1", attempts=1, extra={**claimed.extra, "submitted_at": str(now)}
    )
    world.ledger.claim(submitted)
    world.ledger.note_events(submitted.source_instance, now)
    # WHEN the sweep finds it due, still within EVENT_SAFETY_S of its submission
    world.clock.advance(60)
    response = world.tick()
    # THEN it is not left waiting for an event: the sweep hands it to the copy follower (none wired: skipped)
    assert "awaiting_event" not in response["actions"]
    assert response["actions"].get("skipped") == 1
