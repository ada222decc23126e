"""The operator commands through the CLI, against the offline cloud (real ACR SDK → emulator, SQLite)."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from acrsync import bootstrap
from acrsync.cli.app import app
from acrsync.domain.ledger import State
from acrsync.local.stack import LocalCloud
from acrsync.service import rules_admin

pytestmark = pytest.mark.loopback

ROOT = Path(__file__).resolve().parents[2]
SRC = "cri-demo-src"
OPS_COMMANDS = ("backfill", "replicate", "status", "retry", "doctor")


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def creates(cloud: LocalCloud) -> list[Any]:
    return [r for r in cloud.model.requests_for("CreateRepoSyncTask") if r.outcome == "ok"]


def push_releases(cloud: LocalCloud, n: int) -> None:
    """``n`` team-a/web releases (team-a-releases sends each to Shanghai and Beijing)."""
    for i in range(n):
        cloud.model.push(SRC, "team-a", "web", f"v1.{i}.7", "sha256:" + f"{i + 7:064x}")


@pytest.mark.parametrize("command", OPS_COMMANDS)
def test_every_operator_command_has_help(command: str) -> None:
    result = cli(command, "--help")
    assert result.exit_code == 0, result.output
    assert f"acr-sync {command}" in result.output


def test_backfill_dry_run_plans_then_the_run_submits_then_a_rerun_submits_nothing(cloud: LocalCloud) -> None:
    # GIVEN five releases pushed before acr-sync existed
    push_releases(cloud, 5)
    # WHEN the plan is asked for
    plan = cli("backfill", "--dry-run", "--json")
    assert plan.exit_code == 0, plan.output
    planned = json.loads(plan.stdout)
    # THEN it lists every destination and writes nothing
    assert planned["dry_run"] is True
    assert {i["action"] for i in planned["items"]} == {"would_submit"}
    assert creates(cloud) == []
    # WHEN the backfill runs, and runs again
    first = json.loads(cli("backfill", "--json").stdout)
    second = cli("backfill", "--json")
    # THEN the first submitted exactly the plan, the second nothing
    assert first["submitted"] == len(planned["items"]) == len(creates(cloud))
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)["submitted"] == 0


def test_backfill_table_output_and_rule_filter(cloud: LocalCloud) -> None:
    push_releases(cloud, 2)
    result = cli("backfill", "--dry-run", "--rule", "team-a-releases", "--repository", "team-a/web")
    assert result.exit_code == 0, result.output
    assert "would_submit" in result.output
    assert "dry run" in result.output
    unknown = cli("backfill", "--rule", "nope")
    assert unknown.exit_code == 1
    assert "no such rule" in unknown.output


def test_replicate_prints_the_task_id_and_the_watcher_sees_it(cloud: LocalCloud) -> None:
    result = cli("replicate", f"{SRC}/team-a/web:v1.2.3", "--to", "cri-demo-sh/cn-shanghai/team-a/web:copy-1")
    assert result.exit_code == 0, result.output
    (create,) = creates(cloud)
    assert create.params["TargetTag"] == "copy-1"
    (row,) = [r for r in bootstrap.stores().ledger.scan() if r.rule == "manual"]
    assert row.task_id in result.output
    assert row.state is State.SUBMITTED


def test_replicate_refuses_self_replication_and_bad_names(cloud: LocalCloud) -> None:
    itself = cli("replicate", f"{SRC}/team-a/web:v1.2.3", "--to", f"{SRC}/cn-hangzhou")
    assert itself.exit_code == 1
    assert "onto itself" in itself.output
    bad = cli("replicate", f"{SRC}/team-a/web:v1.2.3", "--to", "cri-demo-sh/cn-shanghai/Team/web:x")
    assert bad.exit_code == 1
    assert "not a valid ACR namespace" in bad.output
    assert creates(cloud) == []


def test_status_shows_failures_and_retry_reopens_them(cloud: LocalCloud) -> None:
    # GIVEN a manual replication that then failed
    cli("replicate", f"{SRC}/team-a/web:v1.2.3", "--to", "cri-demo-sh/cn-shanghai")
    ledger = bootstrap.stores().ledger
    (row,) = list(ledger.scan())
    failed = row.moved_to(State.FAILED, row.updated_at, task_issue="layer upload timeout", attempts=3)
    ledger.update(failed, expected_revision=row.revision)
    # WHEN status is asked for
    report = json.loads(cli("status", "--json", "--since", "1h").stdout)
    table = cli("status", "--failed")
    # THEN the failure is there with its reason
    assert report["counts"] == {"failed": 1}
    assert report["failures"][0]["task_issue"] == "layer upload timeout"
    assert table.exit_code == 0, table.output
    assert "layer upload timeout" in table.output
    # WHEN retried: a dry run changes nothing, --now submits again at once
    dry = cli("retry", "--dry-run")
    assert "would re-open" in dry.output
    now = json.loads(cli("retry", "--now", "--json").stdout)
    assert now["reopened"][0]["outcome"] == "submitted"
    assert len(creates(cloud)) == 2
    assert [r.state for r in ledger.scan()] == [State.SUBMITTED]


def test_doctor_on_the_demo_world_passes_the_cloud_checks_and_fails_the_missing_namespace(
    cloud: LocalCloud,
) -> None:
    result = cli("doctor", "--json")
    report = json.loads(result.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["credentials"]["status"] == "PASS"
    assert checks[f"source edition {SRC}"]["status"] == "PASS"
    assert checks["store"]["status"] == "PASS"
    # examples/rules.yaml promotes every namespace to prod-{namespace} in Beijing: prod-platform is missing
    assert checks["destination namespace cri-demo-bj/prod-platform"]["status"] == "FAIL"
    assert result.exit_code == 1
    assert report["ok"] is False


def test_doctor_sends_a_test_alert_to_the_sink(cloud: LocalCloud) -> None:
    result = cli("doctor", "--send-test-alert")
    assert "PASS" in result.output
    assert [m.title for m in cloud.sink.messages] == ["acr-sync test alert"]
    assert result.exit_code == 1  # the demo world's missing prod-platform namespace


def test_doctor_with_a_wrong_secret_says_check_the_ak_sk(cloud: LocalCloud) -> None:
    # GIVEN the right AccessKey id with a wrong secret (the emulator checks ACS3-HMAC-SHA256 signatures)
    bootstrap.reset({**cloud.env, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "wrong-secret-5e6f7a8b"})
    result = cli("doctor", "--json")
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["credentials"]["status"] == "FAIL"
    assert checks["credentials"]["fix"] == "check the AK/SK"
    assert "SignatureDoesNotMatch" in checks["credentials"]["detail"]
    assert "wrong-secret-5e6f7a8b" not in result.output
    assert result.exit_code == 1


@pytest.fixture
def real_time_cloud() -> Iterator[LocalCloud]:
    """The offline cloud on the wall clock: the gate really sleeps."""
    with tempfile.TemporaryDirectory(prefix="acrsync-qps-") as tmp, LocalCloud(Path(tmp)) as local:
        bootstrap.reset(local.env)
        doc = rules_admin.validate_file(ROOT / "examples" / "rules.yaml")
        rules_admin.apply(bootstrap.stores().rules, doc, prune=True, dry_run=False, now=time.time())
        yield local
        bootstrap.reset()


def test_backfill_max_qps_holds_on_the_wall_clock(real_time_cloud: LocalCloud) -> None:
    # GIVEN twenty releases (~45 ACR calls to plan and submit them: about two seconds at 20/s)
    push_releases(real_time_cloud, 20)
    # WHEN backfilled at 20 calls per second
    started = time.monotonic()
    result = cli("backfill", "--max-qps", "20", "--json")
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    times = sorted(r.time for r in real_time_cloud.model.requests)
    # THEN no one-second window saw more than 20 calls (+1: a request is logged a few ms after its token)
    busiest = max(sum(1 for t in times if s - 1.0 < t <= s) for s in times)
    assert len(times) > 40
    assert busiest <= 21
    assert elapsed >= len(times) / 20 - 1
