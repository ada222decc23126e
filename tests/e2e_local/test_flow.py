"""The whole flow through ``handler(bytes, context)``: real ACR SDK -> emulator, SQLite, DingTalk sink."""

from __future__ import annotations

import json
import multiprocessing
from typing import Any

import pytest

from acrsync import bootstrap
from acrsync.domain.ledger import State
from acrsync.local import fc
from acrsync.local.stack import LocalCloud
from acrsync.service.clock import ManualClock
from tests.e2e_local._deliver import deliver
from tests.fixtures import load_event

pytestmark = pytest.mark.loopback


def creates(cloud: LocalCloud) -> list[Any]:
    return [r for r in cloud.model.requests_for("CreateRepoSyncTask") if r.outcome == "ok"]


def tick(cloud: LocalCloud) -> dict[str, Any]:
    return fc.invoke("watcher", load_event("timer/sweep.json"), cloud.env)


def test_handler_replicates_a_push_exactly_as_fc_calls_it(cloud: LocalCloud) -> None:
    response = fc.invoke("replicator", load_event("acs.cr/push_completed.json"), cloud.env)
    assert response["status"] == "ok"
    assert sorted(r.params["TargetInstanceId"] for r in creates(cloud)) == ["cri-demo-bj", "cri-demo-sh"]
    # the real SDK signed every request (the emulator refuses bad signatures)
    assert all(r.outcome == "ok" for r in cloud.model.requests)


def test_twenty_deliveries_from_several_processes_submit_one_task_per_destination(cloud: LocalCloud) -> None:
    # GIVEN the same event delivered 20 times: 4 processes x 5 deliveries, all at once, one SQLite ledger
    event = load_event("acs.cr/push_completed.multi_destination.json")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        results = pool.starmap(deliver, [(cloud.env, event, 5)] * 4)
    # THEN every delivery returned normally and each destination has exactly one task
    assert [s for batch in results for s in batch] == ["ok"] * 20
    pairs = [(r.params["Tag"], r.params["TargetInstanceId"], r.params["TargetTag"]) for r in creates(cloud)]
    assert pairs
    assert len(pairs) == len(set(pairs))


def test_every_bad_event_is_refused_through_the_handler(cloud: LocalCloud) -> None:
    from tests.fixtures import event_names

    for name in event_names("invalid"):
        response = fc.invoke("replicator", load_event(name), cloud.env)
        assert response["status"] == "refused", name
    assert cloud.model.requests == []


def test_failing_destination_is_retried_alerted_once_then_resolved(
    cloud: LocalCloud, clock: ManualClock
) -> None:
    completions: list[dict[str, Any]] = []
    cloud.model.on_sync_completed(completions.append)
    # GIVEN Beijing fails (a permanent TaskIssue) once, then works
    cloud.model.fail_destination("cri-demo-bj", "team-a", "namespace not exist", times=1)
    # WHEN an image is pushed, ACR runs the tasks, completion events and timer ticks reach the watcher
    fc.invoke("replicator", load_event("acs.cr/push_completed.json"), cloud.env)
    cloud.model.run_pending()
    for event in completions:
        fc.invoke("watcher", json.dumps(event).encode(), cloud.env)
    clock.advance(61)
    tick(cloud)
    # THEN one signed alert reached DingTalk
    messages = cloud.sink.messages
    assert len(messages) == 1
    assert "namespace not exist" in messages[0].text
    # WHEN the operator retries and ACR succeeds
    from acrsync.service.operate import retry

    retry(bootstrap.stores().ledger, clock, rule="team-a-releases")
    completions.clear()
    for _ in range(3):
        tick(cloud)
        cloud.model.run_pending()
        # completion events are flowing here, so the watcher waits for the retried task's event
        for event in completions:
            fc.invoke("watcher", json.dumps(event).encode(), cloud.env)
        completions.clear()
        clock.advance(31)
    tick(cloud)
    # THEN a resolved message follows and everything is verified
    titles = [m.title for m in cloud.sink.messages]
    assert len(titles) == 2
    assert "resolved" in titles[1]
    states = {e.state for e in bootstrap.stores().ledger.scan()}
    assert states == {State.VERIFIED}
