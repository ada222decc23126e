"""``acr-sync canary`` against an ACR-sync destination (source instance -> CreateRepoSyncTask -> another ACR
EE instance), over the wire: the real ACR SDK and registry client against the emulator and the registry
stand-ins attached to both instances. It passes with every stage timed and cleans up at both instances (as
the OpenAPI sees them); it names the broken stage when the trigger, the task or the verification breaks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from acrsync import bootstrap
from acrsync.local.acr_faults import UNAVAILABLE
from acrsync.local.oci_images import put_image
from acrsync.local.stack import BEIJING, SOURCE
from tests.e2e_local.canary_stack import Stack, beijing, stack_fixture  # noqa: F401 (fixture)

pytestmark = pytest.mark.loopback
REPO = f"{SOURCE[0]}/team-a/web"


def openapi_tags(instance: str, region: str) -> dict[str, str]:
    """``team-a/web``'s tags as ACR's OpenAPI lists them (``ListRepoTag``; the real SDK, signed)."""
    api = bootstrap.registry()(region)
    repo = api.get_repository(instance, "team-a", "web")
    assert repo is not None
    return {t.tag: t.digest for t in api.list_repo_tags(instance, repo.repo_id)}


def run(stack: Stack, timeout: float = 20.0) -> tuple[Any, dict[str, Any]]:
    result = stack.canary(REPO, timeout)
    return result, json.loads(result.stdout)


def test_given_an_acr_sync_destination_when_the_canary_runs_then_it_passes_and_cleans_up_both_instances(
    stack: Stack,
) -> None:
    stack.rules(beijing())
    stack.trigger()
    stack.replication()
    result, report = run(stack)
    assert result.exit_code == 0, result.output
    (dest,) = report["destinations"]
    assert dest["destination"].startswith(f"{BEIJING[0]}@{BEIJING[1]}/team-a/web:acrsync-canary-")
    assert set(dest["seconds"]) == {"event", "task", "completed", "verified"}
    assert all(0 <= s < 20 for s in dest["seconds"].values())
    assert report["cleanup_problems"] == []
    tag, digest = report["image"].rsplit(":", 1)[1], report["digest"]
    # the sync task made the image real at Beijing: the canary deleted its manifest there (202) ...
    deleted = [
        (e.path, e.status) for e in stack.beijing.state.log if e.method == "DELETE" and e.status != 401
    ]
    assert deleted == [(f"/v2/team-a/web/manifests/{digest}", 202)]  # (a 401 first: the token challenge)
    # ... and the tag is gone at both instances, as ACR's OpenAPI lists them (and GetRepoTag finds nothing)
    for instance, region in (SOURCE, BEIJING):
        assert tag not in openapi_tags(instance, region)
        api = bootstrap.registry()(region)
        repo = api.get_repository(instance, "team-a", "web")
        assert repo is not None
        assert api.get_repo_tag(instance, repo.repo_id, tag) is None
    assert digest not in stack.beijing.state.manifests.get("team-a/web", {})


def test_given_no_trigger_when_the_canary_runs_against_acr_then_the_event_stage_is_named(
    stack: Stack,
) -> None:
    stack.rules(beijing())
    stack.replication()  # ACR would run tasks, but no push event reaches the replicator
    result = stack.canary(REPO, 1.5)
    assert result.exit_code == 1
    assert "broken stage: event: no push event within 1 s: the EventBridge trigger" in result.output
    assert stack.cloud.model.requests_for("CreateRepoSyncTask") == []


def test_given_acr_refusing_the_task_with_replication_running_then_the_task_stage_is_named(
    stack: Stack,
) -> None:
    stack.rules(beijing())
    stack.cloud.model.faults.script(UNAVAILABLE, action="CreateRepoSyncTask", times=1000)
    stack.trigger(timeout_s=8)  # the replicator gives up (FC would retry it) within the canary's wait
    stack.replication()
    result = stack.canary(REPO, 4)
    assert result.exit_code == 1
    assert "broken stage: task:" in result.output
    # the canary was still removed from the source: the OpenAPI lists no canary tag there
    assert not any(t.startswith("acrsync-canary-") for t in openapi_tags(*SOURCE))


def test_given_a_sync_task_that_ends_in_error_when_the_canary_runs_then_completed_is_named(
    stack: Stack,
) -> None:
    stack.rules(beijing())
    stack.cloud.model.fail_destination(BEIJING[0], "team-a", "namespace not exist")  # TaskIssue
    stack.trigger()
    stack.replication()
    result = stack.canary(REPO)
    assert result.exit_code == 1
    assert "broken stage: completed: namespace not exist" in result.output


def test_given_a_destination_that_ends_with_another_digest_when_the_canary_runs_then_verified_is_named(
    stack: Stack,
) -> None:
    # GIVEN someone re-pushes every canary tag at Beijing the moment ACR's task lands it (its registry and
    # OpenAPI both read the decoy)
    decoy = put_image(stack.beijing.state, "team-a/web", "decoy", layer_sizes=(8,))

    def repoint(event: dict[str, Any]) -> None:
        tag = event["data"].get("TargetTag", "")
        if tag.startswith("acrsync-canary-"):
            stack.beijing.state.tags["team-a/web"][tag] = decoy.digest
            stack.cloud.model.push(BEIJING[0], "team-a", "web", tag, decoy.digest)

    stack.cloud.model.on_sync_completed(repoint)  # before the watcher's delivery: it runs first
    stack.rules(beijing())
    stack.trigger()
    stack.replication()
    result = stack.canary(REPO)
    assert result.exit_code == 1
    assert f"broken stage: verified: destination holds {decoy.digest}" in result.output
