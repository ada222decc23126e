"""``acr-sync audit`` and ``status``'s last pass, through typer's CliRunner against the offline cloud."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from acrsync.cli.app import app
from acrsync.local import fc
from acrsync.local.acr_tag_actions import overwrite_tag_behind_back
from acrsync.local.stack import LocalCloud
from acrsync.service.clock import ManualClock
from tests.fixtures import load_event

pytestmark = pytest.mark.loopback

SRC = "cri-demo-src"
TICK = b'{"triggerTime": "2026-11-30T10:00:00Z", "triggerName": "reconcile", "payload": "{}"}'


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def creates(cloud: LocalCloud) -> list[Any]:
    return [r for r in cloud.model.requests_for("CreateRepoSyncTask") if r.outcome == "ok"]


def test_audit_has_help_naming_its_options() -> None:
    result = cli("audit", "--help")
    assert result.exit_code == 0, result.output
    for option in ("--rule", "--repository", "--repair", "--prune", "--json"):
        assert option in result.output


def test_given_missing_images_when_audited_then_dry_run_lists_them_and_repair_fixes_them(
    cloud: LocalCloud,
) -> None:
    cloud.model.push(SRC, "team-a", "web", "v1.9.0")
    dry = cli("audit", "--rule", "team-a-releases", "--repository", "team-a/web", "--json")
    assert dry.exit_code == 0, dry.output
    doc = json.loads(dry.output)
    missing = [f for f in doc["findings"] if f["kind"] == "missing"]
    assert {f["destination"] for f in missing if f["source"].endswith(":v1.9.0")} == {
        "cri-demo-sh@cn-shanghai/team-a/web:v1.9.0",
        "cri-demo-bj@cn-beijing/team-a/web:v1.9.0",
    }
    assert all(f["outcome"] == "dry_run" and f["expected_digest"].startswith("sha256:") for f in missing)
    assert {row["destination"] for row in doc["summary"]} == {
        "cri-demo-sh@cn-shanghai",
        "cri-demo-bj@cn-beijing",
    }
    assert creates(cloud) == []
    fixed = cli("audit", "--rule", "team-a-releases", "--repository", "team-a/web", "--repair")
    assert fixed.exit_code == 0, fixed.output
    assert "missing" in fixed.output
    assert "in sync" in fixed.output
    assert {(r.params["TargetInstanceId"], r.params["TargetTag"]) for r in creates(cloud)} >= {
        ("cri-demo-sh", "v1.9.0"),
        ("cri-demo-bj", "v1.9.0"),
    }


def test_given_a_conflict_when_audited_then_the_table_counts_it_and_json_shows_both_digests(
    cloud: LocalCloud, clock: ManualClock
) -> None:
    digest = cloud.model.push(SRC, "team-a", "web", "v1.9.1")
    cli("audit", "--rule", "team-a-releases", "--repository", "team-a/web", "--repair")
    cloud.model.run_pending()
    for _ in range(2):  # the watcher verifies the repairs
        clock.advance(61)
        fc.invoke("watcher", load_event("timer/sweep.json"), cloud.env)
    other = overwrite_tag_behind_back(
        cloud.model, instance_id="cri-demo-sh", namespace="team-a", repo="web", tag="v1.9.1"
    )
    result = cli("audit", "--rule", "team-a-releases", "--repository", "team-a/web", "--json")
    (conflict,) = [f for f in json.loads(result.output)["findings"] if f["kind"] == "conflict"]
    assert conflict["expected_digest"] == digest
    assert conflict["actual_digest"] == other
    assert conflict["action"] == "alert_conflict"


def test_given_an_unknown_rule_when_audited_then_the_error_names_the_known_ones(cloud: LocalCloud) -> None:
    result = cli("audit", "--rule", "no-such-rule")
    assert result.exit_code == 1
    assert "no such rule" in result.output
    assert "team-a-releases" in result.output


def test_given_a_reconciler_pass_when_status_runs_then_it_shows_the_last_pass(cloud: LocalCloud) -> None:
    assert "no completed pass yet" in cli("status").output
    response = fc.invoke("reconciler", TICK, cloud.env)
    text = cli("status").output
    assert f"last pass {response['pass_id']}" in text
    doc = json.loads(cli("status", "--json").output)
    assert doc["reconciler"]["pass_id"] == response["pass_id"]
    assert doc["reconciler"]["repositories"] == response["pass_repositories"]
