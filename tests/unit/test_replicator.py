"""The replicator's use case over fakes: exactly one sync task per matched destination, whatever happens."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest

from acrsync.domain.ledger import State
from acrsync.errors import RetryableError
from acrsync.local.acr_faults import SERVER_ERROR, THROTTLE
from acrsync.service.replicate import handle_push
from acrsync.service.submit import CLAIM_STALE_S
from tests.fixtures import event_names, load_event
from tests.harness import Crash, World, crash_once, hook_registries, make_world, push_event

DIGEST = "sha256:" + "1" * 64


@pytest.fixture
def world() -> World:
    return make_world()


def test_push_submits_one_task_per_matched_destination(world: World) -> None:
    # WHEN team-a/web:v1.2.3 is pushed (team-a-releases: Shanghai and Beijing)
    response = world.push(load_event("acs.cr/push_completed.json"))
    # THEN both destinations got a task, recorded in the ledger
    assert response["status"] == "ok"
    assert sorted(r["outcome"] for r in response["results"]) == ["submitted", "submitted"]
    assert len(world.creates()) == 2
    assert {r.state for r in world.rows()} == {State.SUBMITTED}
    assert all(r.task_id.startswith("rst-") for r in world.rows())


def test_push_sends_the_documented_create_repo_sync_task_parameters(world: World) -> None:
    world.push(load_event("acs.cr/push_completed.json"))
    params = {r.params["TargetInstanceId"]: r.params for r in world.creates()}
    sh = params["cri-demo-sh"]
    # TargetNamespace (not ...Name), booleans as true/false, priority from the rule (reference §2.3)
    assert sh["TargetNamespace"] == "team-a"
    assert sh["TargetRepoName"] == "web"
    assert sh["TargetTag"] == "v1.2.3"
    assert sh["TargetRegionId"] == "cn-shanghai"
    assert sh["Override"] == "false"
    assert sh["Priority"] == "2"
    assert "TargetNamespaceName" not in sh


def test_unmatched_push_makes_no_api_call(world: World) -> None:
    # GIVEN a tag every rule excludes
    response = world.push(load_event("acs.cr/push_completed.latest.json"))
    assert response["results"] == []
    assert world.model.requests == []


def test_duplicate_delivery_submits_one_task(world: World) -> None:
    event = load_event("acs.cr/push_completed.json")
    outcomes = [world.push(event) for _ in range(20)]
    assert len(world.creates()) == 2
    assert all(r["outcome"] == "duplicate" for o in outcomes[1:] for r in o["results"])


def test_concurrent_duplicate_deliveries_submit_exactly_one_task_per_destination(world: World) -> None:
    # GIVEN 20 deliveries of one event racing on 20 threads
    event = load_event("acs.cr/push_completed.json")
    barrier = threading.Barrier(20)

    def deliver() -> None:
        barrier.wait()
        world.push(event)

    threads = [threading.Thread(target=deliver) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # THEN one task per destination
    targets = sorted(r.params["TargetInstanceId"] for r in world.creates())
    assert targets == ["cri-demo-bj", "cri-demo-sh"]


def test_two_tags_with_one_digest_get_one_task_per_destination_tag(world: World) -> None:
    world.model.push("cri-demo-src", "team-a", "web", "v1.5.0", DIGEST)
    world.model.push("cri-demo-src", "team-a", "web", "v1.5.1", DIGEST)
    world.push(push_event("v1.5.0", DIGEST))
    world.push(push_event("v1.5.1", DIGEST))
    tags = sorted((r.params["TargetInstanceId"], r.params["TargetTag"]) for r in world.creates())
    assert tags == [
        ("cri-demo-bj", "v1.5.0"),
        ("cri-demo-bj", "v1.5.1"),
        ("cri-demo-sh", "v1.5.0"),
        ("cri-demo-sh", "v1.5.1"),
    ]


def test_missing_digest_and_repo_id_are_read_from_acr(world: World) -> None:
    world.push(load_event("acs.cr/push_completed.missing_digest.json"))
    world.push(load_event("acs.cr/push_completed.missing_repo_id.json"))
    actions = [r.action for r in world.model.requests]
    assert "GetRepoTag" in actions
    assert "GetRepository" in actions
    assert all(r.digest.startswith("sha256:") for r in world.rows())


@pytest.mark.parametrize("when", ["before", "after"])
def test_crash_around_submit_loses_nothing_and_doubles_nothing(world: World, when: str) -> None:
    # GIVEN the process dies right before (or right after) CreateRepoSyncTask for the first destination
    hook_registries(world, **crash_once(when))
    event = load_event("acs.cr/push_completed.json")
    with pytest.raises(Crash):
        world.push(event)
    # WHEN FC redelivers at once, the claim still looks in flight: nothing is submitted twice
    world.push(event)
    # AND when it redelivers after the claim went stale, the claim is reconciled
    world.clock.advance(CLAIM_STALE_S + 1)
    world.push(event)
    # THEN every destination has exactly one task, and the ledger knows each task id
    targets = sorted(r.params["TargetInstanceId"] for r in world.creates())
    assert targets == ["cri-demo-bj", "cri-demo-sh"]
    rows = world.rows()
    assert {r.state for r in rows} == {State.SUBMITTED}
    assert sorted(r.task_id for r in rows) == sorted(t.task_id for t in world.model.tasks.values())


def test_the_watcher_sweep_reconciles_a_claim_nobody_redelivers(world: World) -> None:
    hook_registries(world, **crash_once("after"))
    with pytest.raises(Crash):
        world.push(load_event("acs.cr/push_completed.json"))
    world.clock.advance(CLAIM_STALE_S + 1)
    world.tick()
    world.push(load_event("acs.cr/push_completed.json"))
    assert len(world.creates()) == 2
    assert all(r.task_id for r in world.rows())


@pytest.mark.parametrize("rate", [0.1, 0.3])
def test_throttling_and_5xx_still_end_with_a_task_for_every_destination(world: World, rate: float) -> None:
    # GIVEN ACR throttles and fails with 5xx at random, and FC redelivers whatever raised
    world.model.faults.throttle_rate = rate / 2
    world.model.faults.server_error_rate = rate / 2
    events = [push_event(f"v1.{i}.0", "sha256:" + f"{i:064x}") for i in range(10)]
    for i in range(10):
        world.model.push("cri-demo-src", "team-a", "web", f"v1.{i}.0", "sha256:" + f"{i:064x}")
    for event in events:
        for _ in range(10):  # FC's retries, generously
            try:
                world.push(event)
                break
            except Exception:  # noqa: BLE001 - the point: whatever escapes is retried by FC
                world.clock.advance(1)
    # THEN 10 tags x 2 destinations, each exactly once
    pairs = [(r.params["Tag"], r.params["TargetInstanceId"]) for r in world.creates()]
    assert len(pairs) == 20
    assert len(set(pairs)) == 20


def test_permanent_refusal_ends_in_a_failed_row_and_a_normal_return(world: World) -> None:
    # GIVEN an event whose RepoId does not exist in the source instance
    event = push_event("v1.2.3", "sha256:" + "c9" * 32).replace(b'"Tag"', b'"RepoId": "crr-gone", "Tag"')
    response = world.push(event)
    assert response["status"] == "ok"
    assert {r["outcome"] for r in response["results"]} == {"failed"}
    rows = world.rows()
    assert {r.state for r in rows} == {State.FAILED}
    assert all(r.error_class == "submit_rejected" and r.last_error for r in rows)
    # AND a redelivery does not retry it
    world.push(event)
    assert world.creates() == []


def test_budget_exhaustion_raises_retryable_and_redelivery_completes(world: World) -> None:
    world.model.faults.script(THROTTLE, action="CreateRepoSyncTask", times=1000)
    with pytest.raises(RetryableError):
        world.push(load_event("acs.cr/push_completed.json"))
    world.model.faults.clear()
    world.push(load_event("acs.cr/push_completed.json"))
    assert len(world.creates()) == 2
    assert {r.state for r in world.rows()} == {State.SUBMITTED}


def test_an_ambiguous_create_failure_is_reconciled_not_retried_blindly(world: World) -> None:
    # GIVEN CreateRepoSyncTask answers 500 once: it may or may not have created the task
    world.model.faults.script(SERVER_ERROR, action="CreateRepoSyncTask", times=1)
    # WHEN the event is delivered, the invocation does not retry the create itself but asks FC to redeliver
    with pytest.raises(RetryableError):
        world.push(load_event("acs.cr/push_completed.json"))
    # THEN the redelivery reconciles against ListRepoSyncTask and submits what is missing, once each
    world.push(load_event("acs.cr/push_completed.json"))
    assert "ListRepoSyncTask" in [r.action for r in world.model.requests]
    assert sorted(r.params["TargetInstanceId"] for r in world.creates()) == ["cri-demo-bj", "cri-demo-sh"]


def test_throttled_creates_are_retried_within_the_invocation(world: World) -> None:
    # Throttling proves the request was not executed: safe to retry at once.
    world.model.faults.script(THROTTLE, action="CreateRepoSyncTask", times=2)
    response = world.push(load_event("acs.cr/push_completed.json"))
    assert [r["outcome"] for r in response["results"]] == ["submitted", "submitted"]
    assert len(world.creates()) == 2


def _bad_events() -> Iterator[str]:
    yield from event_names("invalid")


@pytest.mark.parametrize("name", list(_bad_events()))
def test_every_bad_event_is_refused_with_a_reason_not_a_traceback(world: World, name: str) -> None:
    response = world.push(load_event(name))
    assert response["status"] == "refused"
    assert response["reason"]
    assert world.model.requests == []
    assert world.rows() == []


def test_oversized_body_is_refused_before_parsing(world: World) -> None:
    response = world.push(b'{"data": "' + b"x" * (300 * 1024) + b'"}')
    assert response["status"] == "refused"
    assert "oversize" in response["reason"] or "large" in response["reason"]


def test_rules_a_to_b_and_b_to_a_do_not_ping_pong() -> None:
    # GIVEN two rules replicating team-a both ways between Hangzhou and Shanghai
    from acrsync.domain.rules import compile_rules, validate_document

    doc = validate_document(
        {
            "version": 1,
            "rules": [
                {
                    "name": "hz-to-sh",
                    "source": {"instance": "cri-demo-src", "repositories": ["team-a/*"]},
                    "destinations": [{"instance": "cri-demo-sh", "region": "cn-shanghai"}],
                },
                {
                    "name": "sh-to-hz",
                    "source": {"instance": "cri-demo-sh", "repositories": ["team-a/*"]},
                    "destinations": [{"instance": "cri-demo-src", "region": "cn-hangzhou"}],
                },
            ],
        }
    )
    world = make_world()
    world.index = compile_rules(doc.rules, doc.channels)
    # WHEN an image is pushed in Hangzhou and ACR copies it to Shanghai
    world.push(load_event("acs.cr/push_completed.json"))
    world.model.run_pending()
    assert len(world.creates()) == 1
    sh_digest = world.model.tag(
        "cri-demo-sh", world.model.repo_by_name("cri-demo-sh", "team-a", "web").repo_id, "v1.2.3"
    )
    # AND Shanghai's push event for the arrived image reaches the replicator
    event = json.loads(load_event("acs.cr/push_completed.json"))
    event["id"] = "arrived-in-shanghai"
    event["subject"] = "acs.cr:cn-shanghai:1234567890123456:cri-demo-sh"
    event["aliyunregionid"] = "cn-shanghai"
    event["data"].update({"InstanceId": "cri-demo-sh", "RegionId": "cn-shanghai", "Digest": sh_digest.digest})
    del event["data"]["RepoId"]
    response = world.push(json.dumps(event))
    # THEN the loop guard stops it: no task goes back to Hangzhou
    assert [r["outcome"] for r in response["results"]] == ["loop_guard"]
    assert len(world.creates()) == 1


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_crash_between_the_batch_claim_and_the_creates_is_finished_by_the_sweep_alone(
    world: World, when: str
) -> None:
    # GIVEN the process dies at the first CreateRepoSyncTask, both destinations claimed in one batch before
    hook_registries(world, **crash_once(when))
    with pytest.raises(Crash):
        world.push(load_event("acs.cr/push_completed.json"))
    rows = world.rows()
    assert len(rows) == 2
    assert {(r.state, r.task_id) for r in rows} == {(State.CLAIMED, "")}
    # WHEN nobody redelivers and the sweep meets the claims once they are stale
    world.clock.advance(CLAIM_STALE_S + 1)
    world.tick()
    # THEN each destination has exactly one task and the ledger records it
    assert sorted(r.params["TargetInstanceId"] for r in world.creates()) == ["cri-demo-bj", "cri-demo-sh"]
    assert {r.state for r in world.rows()} == {State.SUBMITTED}
    assert sorted(r.task_id for r in world.rows()) == sorted(world.model.tasks)


def test_ledger_calls_per_push_do_not_grow_with_the_destinations(world: World) -> None:
    # GIVEN the two-destination rule of examples/rules.yaml
    before = world.ledger.calls
    world.push(load_event("acs.cr/push_completed.json"))
    # THEN the claims, and the record of both task ids, were one batch each
    assert len(world.creates()) == 2
    assert world.ledger.calls - before == 2


def test_a_cached_source_repository_spends_no_budget_token(world: World) -> None:
    # GIVEN one replicator instance and two pushes whose events lack the RepoId
    deps = world.replicator()
    for tag in ("v1.7.0", "v1.8.0"):
        digest = world.model.push("cri-demo-src", "team-a", "web", tag)
        handle_push(push_event(tag, digest), deps, deadline=world.clock.monotonic() + 55)
    # THEN GetRepository reached ACR once, and the look-up gate spent a token only for that call
    assert len(world.model.requests_for("GetRepository")) == 1
    assert deps.gate.calls == 1  # (the creates go through the submitter's gate)
