"""The watcher and submitter under faults a review found: no doubled task, no sweep blocked by one row."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from acrsync.domain.ledger import State
from acrsync.errors import RetryableError, UpstreamRejected, UpstreamUnavailable
from acrsync.local.acr_faults import THROTTLE
from acrsync.local.fake_world import ROOT, World, make_world
from acrsync.service.submit import CLAIM_STALE_S
from acrsync.service.watch import check_row, handle_watch
from tests.harness import Crash, break_get_repository, failure_texts, hook_registries

EVENT = (ROOT / "events" / "acs.cr" / "push_completed.json").read_text()
PERMANENT = "namespace not exist"
TRANSIENT = "network timeout while pulling layer"


def creates_to(world: World, instance: str) -> list[Any]:
    return [r for r in world.creates() if r.params["TargetInstanceId"] == instance]


def event_with(digest: str, event_id: str) -> str:
    doc = json.loads(EVENT)
    doc["id"] = event_id
    doc["data"]["Digest"] = digest
    return json.dumps(doc)


def _retrying_bj(world):
    world.model.fail_destination("cri-demo-bj", "team-a", TRANSIENT, times=1)
    world.push(EVENT)
    world.model.run_pending()
    world.clock.advance(61)
    world.tick()
    bj = next(r for r in world.rows() if r.dest_instance == "cri-demo-bj")
    assert bj.state is State.RETRYING
    assert len(creates_to(world, "cri-demo-bj")) == 1
    world.clock.advance(61)  # the retry is due
    return bj


def test_crash_after_create_while_resubmitting_a_retry_is_reconciled_not_doubled() -> None:
    world = make_world()
    _retrying_bj(world)

    def die(spec, task_id):
        raise Crash

    hook_registries(world, after_create=die)
    with pytest.raises(Crash):
        world.tick()  # CreateRepoSyncTask succeeded, the process died before recording it
    hook_registries(world)
    world.clock.advance(61)
    world.tick()
    # THEN while the crashed attempt could still be alive, nothing is submitted again
    assert len(creates_to(world, "cri-demo-bj")) == 2  # the original task + the crashed retry's task
    # AND once it is stale, the retry's task is found and adopted rather than created a third time
    world.clock.advance(CLAIM_STALE_S + 1)
    world.tick()
    bj = next(r for r in world.rows() if r.dest_instance == "cri-demo-bj")
    assert len(creates_to(world, "cri-demo-bj")) == 2
    newest = max(
        (t for t in world.model.tasks.values() if t.target_instance_id == "cri-demo-bj"),
        key=lambda t: t.create_ms,
    )
    assert bj.task_id == newest.task_id
    assert bj.state in (State.SUBMITTED, State.VERIFIED)


def test_two_checkers_of_one_retrying_row_create_one_task() -> None:
    # e.g. the timer sweep and a redelivered completion event (find_by_task still returns the RETRYING row),
    # or two overlapping sweeps, or `acr-sync retry --now` racing the sweep
    world = make_world()
    snapshot = _retrying_bj(world)
    deps = world.watcher()
    deadline = world.clock.monotonic() + 100
    first = check_row(snapshot, deps, deadline)
    second = check_row(snapshot, deps, deadline)  # same stale snapshot, as a concurrent reader would hold
    # THEN the second checker loses the row before calling ACR: one retry task, not two
    assert (first, second) == ("resubmitted", "lost_race")
    assert len(creates_to(world, "cri-demo-bj")) == 2  # the original task + one retry


def test_reconcile_never_adopts_the_task_of_an_earlier_push_of_the_tag() -> None:
    world = make_world()
    world.push(EVENT)  # digest A, two tasks
    first = {r.dest_instance: r.task_id for r in world.rows()}
    # two minutes later the tag is re-pushed with digest B; CreateRepoSyncTask is throttled throughout
    digest_b = "sha256:" + "b" * 64
    world.model.push("cri-demo-src", "team-a", "web", "v1.2.3", digest_b)
    world.clock.advance(120)
    world.model.faults.script(THROTTLE, action="CreateRepoSyncTask", times=1000)
    with pytest.raises(RetryableError):
        world.push(event_with(digest_b, "evt-b"))
    world.model.faults.clear()
    world.push(event_with(digest_b, "evt-b"))  # FC redelivers: the abandoned claim is reconciled
    b_rows = [r for r in world.rows() if r.digest == digest_b]
    assert len(b_rows) == 2
    for r in b_rows:
        assert r.task_id != first[r.dest_instance], f"{r.dest_instance}: B row adopted A's task {r.task_id}"
    assert len(world.creates()) == 4


def test_a_reconciled_row_whose_task_never_runs_is_alerted_as_stuck() -> None:
    world = make_world()
    armed = [True]

    def die(spec, task_id):
        if armed[0]:
            armed[0] = False
            raise Crash

    hook_registries(world, after_create=die)
    with pytest.raises(Crash):
        world.push(EVENT)
    hook_registries(world)
    world.clock.advance(CLAIM_STALE_S + 1)
    out = world.push(EVENT)
    assert sorted(r["outcome"] for r in out["results"]) == ["reconciled", "submitted"]
    # ACR never runs the tasks
    for _ in range(60):
        world.clock.advance(61)
        world.tick()
    stuck = {r.dest_instance: r.error_class for r in world.rows()}
    assert stuck == {"cri-demo-bj": "stuck", "cri-demo-sh": "stuck"}, stuck
    assert len(failure_texts(world)) == 2


def test_one_unreachable_destination_region_does_not_block_the_other_rows() -> None:
    world = make_world()

    # Shanghai's region endpoint goes down (GetRepository 503 every time)
    down = UpstreamUnavailable("ServiceUnavailable", code="ServiceUnavailable")
    break_get_repository(world, "cn-shanghai", down)
    world.push(EVENT)
    world.model.run_pending()
    for _ in range(3):
        world.clock.advance(61)
        world.tick()
    sh = next(r for r in world.rows() if r.dest_instance == "cri-demo-sh")
    assert sh.state is State.SUCCEEDED  # cannot be verified while the region is down: fine
    # A later push: its Beijing task fails permanently (namespace missing) - must be alerted.
    world.model.fail_destination("cri-demo-bj", "team-a", PERMANENT)
    digest = "sha256:" + "d" * 64
    world.model.push("cri-demo-src", "team-a", "web", "v1.2.4", digest)
    doc = json.loads(EVENT)
    doc["id"] = "evt-2"
    doc["data"].update({"Tag": "v1.2.4", "Digest": digest})
    world.push(json.dumps(doc))
    world.model.run_pending()
    for _ in range(15):
        world.clock.advance(61)
        world.tick()
    victim = next(r for r in world.rows() if r.dest_instance == "cri-demo-bj" and r.source_tag == "v1.2.4")
    assert victim.state is State.FAILED, f"Beijing row stuck in {victim.state} behind the Shanghai outage"
    assert len(failure_texts(world)) >= 1


TICK = json.dumps({"triggerTime": "2026-11-28T00:00:00Z", "triggerName": "sweep", "payload": "{}"})


def test_owed_alerts_do_not_crowd_live_tasks_out_of_the_sweep() -> None:
    world = make_world()
    world.notifier.fail_next = 10_000  # DingTalk outage
    world.model.fail_destination("cri-demo-bj", "team-a", PERMANENT)
    world.model.fail_destination("cri-demo-sh", "team-a", PERMANENT)
    world.push(EVENT)
    world.model.run_pending()

    def tick(limit: int) -> None:
        deps = dataclasses.replace(world.watcher(), sweep_limit=limit)
        handle_watch(TICK, deps, deadline=world.clock.monotonic() + 115)

    world.clock.advance(61)
    tick(2)
    assert {r.state for r in world.rows()} == {State.FAILED}  # 2 rows owing an alert (= sweep_limit)
    # a new push, whose tasks succeed
    world.model.fail_destination("cri-demo-bj", "team-a", "", times=0)
    world.model.fail_destination("cri-demo-sh", "team-a", "", times=0)
    digest = "sha256:" + "d" * 64
    world.model.push("cri-demo-src", "team-a", "web", "v1.2.4", digest)
    doc = json.loads(EVENT)
    doc["id"] = "evt-2"
    doc["data"].update({"Tag": "v1.2.4", "Digest": digest})
    world.push(json.dumps(doc))
    world.model.run_pending()
    for _ in range(10):
        world.clock.advance(61)
        tick(2)
    new = [r for r in world.rows() if r.source_tag == "v1.2.4"]
    assert {r.state for r in new} == {State.VERIFIED}, [r.state for r in new]


def test_a_permission_error_while_verifying_is_a_reported_failure_not_a_crash() -> None:
    world = make_world()

    forbidden = UpstreamRejected("ACR GetRepository failed: Forbidden.RAM (HTTP 403)", code="Forbidden.RAM")
    break_get_repository(world, "cn-shanghai", forbidden)
    world.model.fail_destination("cri-demo-bj", "team-a", PERMANENT)
    world.push(EVENT)
    world.model.run_pending()
    errors = []
    for _ in range(10):
        world.clock.advance(61)
        try:
            world.tick()
        except Exception as exc:  # noqa: BLE001 - FC would log it and move on
            errors.append(type(exc).__name__)
    assert errors == [], errors
    # THEN the unverifiable Shanghai copy is a reported failure of its own (beside Beijing's task error)
    sh = next(r for r in world.rows() if r.dest_instance == "cri-demo-sh")
    assert (sh.state, sh.error_class) == (State.FAILED, "verify_rejected")
    texts = failure_texts(world)
    assert any("cri-demo-sh" in t and "Forbidden.RAM" in t for t in texts), texts
