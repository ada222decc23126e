"""``acr-sync canary`` against the local stack: passes, and names the broken stage when one is broken."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from acrsync import bootstrap
from acrsync.cli.app import app
from acrsync.local.acr_faults import UNAVAILABLE
from acrsync.local.oci_images import put_image
from acrsync.local.stack import BEIJING, SOURCE
from tests.e2e_local.canary_stack import CRED_ENV, Stack, harbor, stack_fixture  # noqa: F401 (fixture)

pytestmark = pytest.mark.loopback


def test_given_a_working_pipeline_when_the_canary_runs_then_every_stage_is_timed_and_it_cleans_up(
    stack: Stack,
) -> None:
    stack.rules(harbor(stack))
    stack.trigger()
    result = stack.canary(f"{SOURCE[0]}/team-a/web")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["passed"] is True
    (dest,) = report["destinations"]
    assert set(dest["seconds"]) == {"event", "task", "completed", "verified"}
    assert all(0 <= s < 20 for s in dest["seconds"].values())
    assert report["cleanup_problems"] == []
    # the canary tags are gone from the source and from the destination
    assert not any(t.startswith("acrsync-canary-") for t in stack.source.state.tags.get("team-a/web", {}))
    assert not any(t.startswith("acrsync-canary-") for t in stack.harbor.state.tags.get("dr/team-a/web", {}))


def test_given_no_trigger_when_the_canary_runs_then_the_event_stage_is_named(stack: Stack) -> None:
    stack.rules(harbor(stack))  # no PushEvents: nothing turns the push into an event
    result = stack.canary(f"{SOURCE[0]}/team-a/web", timeout=1.5)
    assert result.exit_code == 1
    assert "broken stage: event: no push event within 1 s: the EventBridge trigger" in result.output


def test_given_acr_refusing_to_create_the_task_when_the_canary_runs_then_the_task_stage_is_named(
    stack: Stack,
) -> None:
    # ACR's CreateRepoSyncTask keeps failing: the replicator claims the destination but no task appears
    stack.rules({"instance": BEIJING[0], "region": BEIJING[1]})
    stack.cloud.model.faults.script(UNAVAILABLE, action="CreateRepoSyncTask", times=1000)
    stack.trigger(timeout_s=8)  # the replicator gives up (FC would retry it) within the canary's wait
    result = stack.canary(f"{SOURCE[0]}/team-a/web", timeout=4)
    assert result.exit_code == 1
    assert "broken stage: task:" in result.output


def test_given_a_copy_that_fails_when_the_canary_runs_then_the_completed_stage_is_named(stack: Stack) -> None:
    stack.env[CRED_ENV] = "robot$dr:wrong-Planted-4"
    bootstrap.reset(stack.env)
    stack.rules(harbor(stack))
    stack.trigger()
    result = stack.canary(f"{SOURCE[0]}/team-a/web")
    assert result.exit_code == 1
    assert "broken stage: completed:" in result.output
    assert "wrong-Planted-4" not in result.output
    report = json.loads(result.stdout)  # the JSON's top level names the destination's broken stage too
    assert (report["status"], report["broken"]) == ("broken", "completed")
    assert report["detail"] == report["destinations"][0]["detail"]


def test_given_no_rule_covering_the_repository_when_the_canary_runs_then_it_says_which_rule_to_add(
    stack: Stack,
) -> None:
    stack.rules(harbor(stack))
    result = stack.canary(f"{SOURCE[0]}/platform/api", timeout=1)
    assert result.exit_code == 1
    assert "broken stage: rules: no enabled rule selects" in result.output
    # AND as a table it is that one error: no empty stage table (nothing was pushed, nothing to time)
    table = CliRunner().invoke(app, ["canary", f"{SOURCE[0]}/platform/api", "--timeout", "1"])
    assert table.exit_code == 1
    assert "broken stage: rules: no enabled rule selects" in table.output
    assert "destination" not in table.output


def test_given_a_destination_that_serves_another_digest_when_the_canary_runs_then_verified_is_named(
    stack: Stack,
) -> None:
    # Harbor moves every pushed canary tag to another image right away (a misbehaving replication proxy)
    other = put_image(stack.harbor.state, "dr/team-a/web", "decoy", layer_sizes=(8,))

    def repoint(repo: str, tag: str, _digest: str) -> None:
        if tag.startswith("acrsync-canary-"):
            stack.harbor.state.tags[repo][tag] = other.digest

    stack.harbor.on_push.append(repoint)
    stack.rules(harbor(stack))
    stack.trigger()
    result = stack.canary(f"{SOURCE[0]}/team-a/web")
    assert result.exit_code == 1
    assert "broken stage: verified: destination tag reads " + other.digest in result.output
