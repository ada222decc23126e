"""``acr-sync canary`` against the local stack: passes, and names the broken stage when one is broken.

The stack: the ACR emulator, a source registry stand-in attached to the source instance (whose pushes
become PushCompleted events delivered to the replicator on a thread, as EventBridge's trigger does), and a
"Harbor" stand-in as a copy destination.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from acrsync import bootstrap
from acrsync.cli.app import app
from acrsync.domain.rules_schema import validate_document
from acrsync.local.acr_faults import UNAVAILABLE
from acrsync.local.acr_registry_actions import attach_registry
from acrsync.local.oci_images import put_image
from acrsync.local.oci_registry import OciRegistry
from acrsync.local.push_events import PushEvents
from acrsync.local.stack import BEIJING, SOURCE, LocalCloud
from acrsync.service import rules_admin

pytestmark = pytest.mark.loopback
CRED_ENV = "ACRSYNC_REGISTRY_HARBOR"


class Stack:
    def __init__(self, cloud: LocalCloud, source: OciRegistry, harbor: OciRegistry) -> None:
        self.cloud, self.source, self.harbor = cloud, source, harbor
        self.env = {**cloud.env, CRED_ENV: "robot$dr:harbor-Planted-pw-3"}
        self.events: PushEvents | None = None

    def rules(self, *destinations: dict[str, Any], repositories: tuple[str, ...] = ("team-a/*",)) -> None:
        doc = {
            "version": 1,
            "rules": [
                {
                    "name": "canary-covered",
                    "source": {"instance": SOURCE[0], "repositories": list(repositories)},
                    "tags": {"include": ["glob:acrsync-canary-*"]},
                    "destinations": list(destinations),
                }
            ],
        }
        rules_admin.apply(
            bootstrap.stores().rules, validate_document(doc), prune=True, dry_run=False, now=0.0
        )

    def trigger(self, *, timeout_s: int | None = None) -> None:
        self.events = PushEvents(
            self.source, self.cloud.model, SOURCE[0], SOURCE[1], self.env, timeout_s=timeout_s
        ).start()

    def canary(self, repository: str, timeout: float = 20.0) -> Any:
        result = CliRunner().invoke(
            app, ["canary", repository, "--timeout", str(timeout), "--poll", "0.1", "--json"]
        )
        if self.events is not None:
            self.events.join()
        return result


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with (
        LocalCloud(tmp_path) as cloud,
        OciRegistry(users={}) as source,
        OciRegistry(users={"robot$dr": "harbor-Planted-pw-3"}, projects={"dr"}) as harbor,
    ):
        attach_registry(cloud.model, SOURCE[0], source)
        s = Stack(cloud, source, harbor)
        bootstrap.reset(s.env)
        yield s
        bootstrap.reset()


def _harbor(stack: Stack) -> dict[str, Any]:
    return {"registry": f"{stack.harbor.url}/dr", "credentials_env": CRED_ENV}


def test_given_a_working_pipeline_when_the_canary_runs_then_every_stage_is_timed_and_it_cleans_up(
    stack: Stack,
) -> None:
    stack.rules(_harbor(stack))
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
    stack.rules(_harbor(stack))  # no PushEvents: nothing turns the push into an event
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
    stack.rules(_harbor(stack))
    stack.trigger()
    result = stack.canary(f"{SOURCE[0]}/team-a/web")
    assert result.exit_code == 1
    assert "broken stage: completed:" in result.output
    assert "wrong-Planted-4" not in result.output


def test_given_no_rule_covering_the_repository_when_the_canary_runs_then_it_says_which_rule_to_add(
    stack: Stack,
) -> None:
    stack.rules(_harbor(stack))
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
    stack.rules(_harbor(stack))
    stack.trigger()
    result = stack.canary(f"{SOURCE[0]}/team-a/web")
    assert result.exit_code == 1
    assert "broken stage: verified: destination tag reads " + other.digest in result.output
