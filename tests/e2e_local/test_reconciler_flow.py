"""The reconciler through ``handler(bytes, context)``: real ACR SDK -> emulator, SQLite cursor and ledger."""

from __future__ import annotations

import json
from typing import Any

import pytest

from acrsync import bootstrap
from acrsync.adapters.sqlite_store import SqliteDatabase
from acrsync.adapters.state_store import SqliteStateStore
from acrsync.local import fc
from acrsync.local.stack import LocalCloud
from tests.fixtures import load_event

pytestmark = pytest.mark.loopback

TICK = json.dumps(
    {"triggerTime": "2026-11-30T10:00:00Z", "triggerName": "reconcile", "payload": '{"mode":"reconcile"}'}
)


def creates(cloud: LocalCloud) -> list[Any]:
    return [r for r in cloud.model.requests_for("CreateRepoSyncTask") if r.outcome == "ok"]


def reconcile(cloud: LocalCloud) -> dict[str, Any]:
    return fc.invoke("reconciler", TICK.encode(), cloud.env)


def test_given_pushes_no_event_announced_when_the_reconciler_ticks_then_each_arrives_once(
    cloud: LocalCloud,
) -> None:
    # GIVEN images in the source that no push event ever announced (the seeded fixtures and two more)
    cloud.model.push("cri-demo-src", "team-a", "web", "v1.7.0")
    cloud.model.push("cri-demo-src", "team-a", "api", "stable")
    # WHEN the reconciler's timer fires, then ACR and the watcher finish, then the timer fires again
    first = reconcile(cloud)
    cloud.model.run_pending()
    for _ in range(3):
        fc.invoke("watcher", load_event("timer/sweep.json"), cloud.env)
    second = reconcile(cloud)
    # THEN the first pass repaired them, through the real SDK, and the second found nothing to do
    assert first["status"] == "ok"
    assert first["completed"] is True
    assert first["events_missed"] >= 4
    targets = [
        (r.params["TargetInstanceId"], r.params["TargetRepoName"], r.params["TargetTag"])
        for r in creates(cloud)
    ]
    assert ("cri-demo-sh", "web", "v1.7.0") in targets
    assert ("cri-demo-bj", "api", "stable") in targets
    assert len(targets) == len(set(targets))
    assert second["completed"] is True
    assert second["outcomes"] == {}
    assert len(creates(cloud)) == len(targets)
    # AND the cross-account destination is reported unverifiable, never verified
    assert first["kinds"].get("unverifiable", 0) >= 1
    # AND the pass is recorded for `status`
    state = SqliteStateStore(SqliteDatabase(bootstrap.settings().store.location))
    assert state.read("reconciler:last_pass")[0]["pass_id"] == second["pass_id"]


def test_given_a_non_timer_event_when_delivered_then_it_is_refused_with_a_reason(cloud: LocalCloud) -> None:
    response = fc.invoke("reconciler", load_event("acs.cr/push_completed.json"), cloud.env)
    assert response["status"] == "refused"
    assert "timer ticks" in response["reason"]
    assert creates(cloud) == []
