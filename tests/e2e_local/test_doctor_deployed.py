"""``acr-sync doctor --deployed`` through the CLI: real FC 3.0, EventBridge and ACR SDKs → loopback stand-ins
holding what ``s deploy`` of s.yaml made; then one kind of drift at a time."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from acrsync import bootstrap
from acrsync.cli.app import app
from acrsync.domain.ledger import State
from acrsync.local.acr_sync_rules import add_sync_rule
from acrsync.local.stack import ROBOT_SECRET, ROBOT_TOKEN, LocalCloud
from acrsync.service import rules_admin
from tests.builders import ledger_entry

pytestmark = pytest.mark.loopback

ROOT = Path(__file__).resolve().parents[2]
REPLICATOR, WATCHER = "acr-sync-replicator", "acr-sync-watcher"
PLANTED_VALUE = "planted-env-value-5f1c9e"


@pytest.fixture
def deployed(tmp_path: Path) -> Iterator[tuple[LocalCloud, Path]]:
    with LocalCloud(tmp_path) as cloud:
        path = cloud.deployed_s_yaml()
        bootstrap.reset(cloud.env)
        doc = rules_admin.validate_file(ROOT / "examples" / "rules.yaml")
        rules_admin.apply(bootstrap.stores().rules, doc, prune=True, dry_run=False, now=0.0)
        yield cloud, path
        bootstrap.reset()


def run(path: Path) -> tuple[int, dict[str, dict[str, str]], str]:
    result = CliRunner().invoke(app, ["doctor", "--deployed", "--s-yaml", str(path), "--json"])
    doc = json.loads(result.stdout)
    return result.exit_code, {c["name"]: c for c in doc["checks"]}, result.output


def trigger_config(cloud: LocalCloud, function: str, trigger: str) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(cloud.fc_state.triggers[function][trigger]["triggerConfig"])
    return config


def set_trigger_config(cloud: LocalCloud, function: str, trigger: str, **changes: Any) -> None:
    config = {**trigger_config(cloud, function, trigger), **changes}
    cloud.fc_state.triggers[function][trigger]["triggerConfig"] = json.dumps(config)


def rule(cloud: LocalCloud, function: str, trigger: str) -> dict[str, Any]:
    found: dict[str, Any] = cloud.eventbridge_state.rules["default"][f"{function}-{trigger}"]
    return found


def test_a_deployment_as_s_yaml_meant_passes_every_check_and_shows_no_value(
    deployed: tuple[LocalCloud, Path],
) -> None:
    # GIVEN the stand-ins hold what s deploy made, with secrets planted in the functions' environment
    cloud, path = deployed
    cloud.fc_state.functions[REPLICATOR]["environmentVariables"]["ACRSYNC_DINGTALK_SECRET"] = PLANTED_VALUE
    # WHEN the doctor checks the deployment
    code, checks, output = run(path)
    # THEN every check passes, each function's triggers and rules were looked at
    assert code == 0, output
    assert {c["status"] for c in checks.values()} == {"PASS"}
    for name in (
        f"function {REPLICATOR}",
        f"environment {WATCHER}",
        f"async config {REPLICATOR}",
        f"trigger {WATCHER}/sweep",
        f"eventbridge rule {REPLICATOR}/acr-push",
        f"invocation mode {WATCHER}/acr-sync-completed",
        "built-in sync rules cri-demo-src",
        "event notification cri-demo-src",
    ):
        assert name in checks
    assert "asynchronous" in checks[f"invocation mode {REPLICATOR}/acr-push"]["detail"]
    # AND a flag is spelled as s.yaml spells it (false), not as Python prints it (False)
    assert "asyncInvocationType false" in checks[f"trigger {REPLICATOR}/acr-push"]["detail"]
    assert "False" not in output
    # AND no secret or env var value is in the output
    for secret in (ROBOT_TOKEN, ROBOT_SECRET, cloud.emulator.access_key_secret, PLANTED_VALUE):
        assert secret not in output


def test_env_var_values_never_reach_the_output_even_when_names_are_wrong(
    deployed: tuple[LocalCloud, Path],
) -> None:
    # GIVEN a deployed function with a mistyped variable holding a secret-looking value
    cloud, path = deployed
    env = cloud.fc_state.functions[REPLICATOR]["environmentVariables"]
    env["ACRSYNC_DINGTALK_WEBHOK"] = f"https://oapi.dingtalk.com/robot/send?access_token={PLANTED_VALUE}"
    # WHEN checked
    code, checks, output = run(path)
    # THEN the name is reported, the value never
    assert code == 1
    assert "ACRSYNC_DINGTALK_WEBHOK" in checks[f"environment {REPLICATOR}"]["detail"]
    assert PLANTED_VALUE not in output
    assert ROBOT_TOKEN not in output


Drift = Callable[[LocalCloud], None]
DRIFTS: list[tuple[str, Drift, str, str, str]] = [
    (
        "function missing",
        lambda c: c.fc_state.functions.pop(WATCHER),
        f"function {WATCHER}",
        "FAIL",
        "not deployed",
    ),
    (
        "memory changed",
        lambda c: c.fc_state.functions[REPLICATOR].update(memorySize=512),
        f"function {REPLICATOR}",
        "FAIL",
        "memorySize: s.yaml 256, deployed 512",
    ),
    (
        "runtime changed",
        lambda c: c.fc_state.functions[WATCHER].update(runtime="python3.12"),
        f"function {WATCHER}",
        "FAIL",
        "runtime",
    ),
    (
        "env var missing",
        lambda c: c.fc_state.functions[WATCHER]["environmentVariables"].pop("ACRSYNC_STORE"),
        f"environment {WATCHER}",
        "FAIL",
        "missing ACRSYNC_STORE (s.yaml: vars.tablestore_instance)",
    ),
    (
        "secret env var missing",
        lambda c: c.fc_state.functions[WATCHER]["environmentVariables"].pop("ACRSYNC_DINGTALK_SECRET"),
        f"environment {WATCHER}",
        "FAIL",
        "missing ACRSYNC_DINGTALK_SECRET (s.yaml: env(ACRSYNC_DINGTALK_SECRET))",
    ),
    (
        "unknown env var",
        lambda c: c.fc_state.functions[WATCHER]["environmentVariables"].update(ACRSYNC_STOR="x"),
        f"environment {WATCHER}",
        "FAIL",
        "unknown to acr-sync (typo?): ACRSYNC_STOR",
    ),
    (
        "known env var not in s.yaml",
        lambda c: c.fc_state.functions[WATCHER]["environmentVariables"].update(ACRSYNC_ACR_QPS="5"),
        f"environment {WATCHER}",
        "WARN",
        "ACRSYNC_ACR_QPS",
    ),
    (
        "async retries changed",
        lambda c: c.fc_state.async_configs[REPLICATOR].update(maxAsyncRetryAttempts=8),
        f"async config {REPLICATOR}",
        "FAIL",
        "maxAsyncRetryAttempts: s.yaml 3, deployed 8",
    ),
    (
        "async config missing",
        lambda c: c.fc_state.async_configs.pop(REPLICATOR),
        f"async config {REPLICATOR}",
        "FAIL",
        "none deployed",
    ),
    (
        "trigger missing",
        lambda c: c.fc_state.triggers[WATCHER].pop("sweep"),
        f"trigger {WATCHER}/sweep",
        "FAIL",
        "missing (timer trigger",
    ),
    (
        "timer disabled",
        lambda c: set_trigger_config(c, WATCHER, "sweep", enable=False),
        f"trigger {WATCHER}/sweep",
        "FAIL",
        "disabled",
    ),
    (
        "timer schedule changed",
        lambda c: set_trigger_config(c, WATCHER, "sweep", cronExpression="@every 5m"),
        f"trigger {WATCHER}/sweep",
        "FAIL",
        "cronExpression",
    ),
    (
        "eventbridge trigger disabled",
        lambda c: set_trigger_config(c, REPLICATOR, "acr-push", triggerEnable=False),
        f"trigger {REPLICATOR}/acr-push",
        "FAIL",
        "disabled",
    ),
    (
        "trigger pattern changed",
        lambda c: set_trigger_config(
            c, REPLICATOR, "acr-push", eventRuleFilterPattern='{"source":["acs.oss"]}'
        ),
        f"trigger {REPLICATOR}/acr-push",
        "FAIL",
        "filter pattern differs",
    ),
    (
        "rule missing",
        lambda c: c.eventbridge_state.rules["default"].pop(f"{REPLICATOR}-acr-push"),
        f"eventbridge rule {REPLICATOR}/acr-push",
        "FAIL",
        "missing on bus default",
    ),
    (
        "rule disabled",
        lambda c: rule(c, REPLICATOR, "acr-push").update(Status="DISABLE"),
        f"eventbridge rule {REPLICATOR}/acr-push",
        "FAIL",
        "is DISABLE",
    ),
    (
        "rule pattern changed",
        lambda c: rule(c, WATCHER, "acr-sync-completed").update(FilterPattern='{"source":["acs.cr"]}'),
        f"eventbridge rule {WATCHER}/acr-sync-completed",
        "FAIL",
        "pattern differs",
    ),
    (
        "rule targets another function",
        lambda c: rule(c, WATCHER, "acr-sync-completed")["Targets"][0].update(
            Endpoint="acs:fc:x:y:functions/other"
        ),
        f"eventbridge rule {WATCHER}/acr-sync-completed",
        "FAIL",
        "does not target function",
    ),
    (
        "target invokes synchronously",
        lambda c: rule(c, REPLICATOR, "acr-push")["Targets"][0]["ParamList"][2].update(Value="Sync"),
        f"invocation mode {REPLICATOR}/acr-push",
        "FAIL",
        "synchronous (target InvocationType=Sync",
    ),
    (
        "built-in automatic rule overlaps",
        lambda c: add_sync_rule(
            c.model,
            instance="cri-demo-src",
            namespace="team-a",
            repo="web",
            target_instance="cri-demo-sh",
            target_region="cn-shanghai",
        ),
        "built-in sync rules cri-demo-src",
        "WARN",
        "every push would create two tasks",
    ),
    (
        "no event-notification rule",
        lambda c: c.model.event_center_rules.clear(),
        "event notification cri-demo-src",
        "WARN",
        "no event-notification rule",
    ),
]


@pytest.mark.parametrize(("case", "drift", "check", "status", "says"), DRIFTS, ids=[d[0] for d in DRIFTS])
def test_each_kind_of_drift_is_reported_by_its_check(  # noqa: PLR0917 - parametrize columns
    deployed: tuple[LocalCloud, Path], case: str, drift: Drift, check: str, status: str, says: str
) -> None:
    # GIVEN a deployment that drifted from s.yaml in one way
    cloud, path = deployed
    drift(cloud)
    # WHEN the doctor checks it
    code, checks, output = run(path)
    # THEN that check says so, with a fix, and the exit code follows FAIL
    assert checks[check]["status"] == status, checks[check]
    assert says in checks[check]["detail"]
    assert checks[check]["fix"]
    assert code == (1 if status == "FAIL" else 0), output


def test_a_manual_built_in_rule_is_not_an_overlap(deployed: tuple[LocalCloud, Path]) -> None:
    # GIVEN a built-in rule on the same repository and destination, but manual (INITIATIVE)
    cloud, path = deployed
    add_sync_rule(
        cloud.model,
        instance="cri-demo-src",
        namespace="team-a",
        repo="web",
        target_instance="cri-demo-sh",
        target_region="cn-shanghai",
        trigger="INITIATIVE",
    )
    # WHEN checked THEN it passes: a manual rule creates no task on push
    _, checks, _ = run(path)
    assert checks["built-in sync rules cri-demo-src"]["status"] == "PASS"
    assert "1 rule(s), 0 automatic" in checks["built-in sync rules cri-demo-src"]["detail"]


def test_a_missing_s_yaml_is_named_with_what_to_do(deployed: tuple[LocalCloud, Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["doctor", "--deployed", "--s-yaml", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert "nope.yaml: not found" in result.output
    assert "--s-yaml PATH" in result.output


def test_an_alert_refused_for_a_missing_token_is_reported_with_its_fix(
    deployed: tuple[LocalCloud, Path],
) -> None:
    # GIVEN a failure whose alert DingTalk refused with 300005 (no such token), as the flush records it
    _, path = deployed
    ledger = bootstrap.stores().ledger
    entry = ledger_entry(
        "f" * 32,
        tag="v9",
        rule="team-a-releases",
        source_instance="cri-demo-src",
        digest="sha256:" + "b" * 64,
        dest_instance="cri-demo-sh",
        alert_channel="ops",
        created_at=time.time(),
    )
    ledger.claim(entry)
    failed = entry.moved_to(
        State.FAILED, time.time(), alerted=True, extra={"alert_note": "DingTalk refused: 300005"}
    )
    ledger.update(failed, expected_revision=entry.revision)
    # WHEN the deployment is checked
    code, checks, _ = run(path)
    # THEN the channel's delivery FAILs, saying what to do
    assert code == 1
    assert checks["alert delivery ops"]["status"] == "FAIL"
    assert "300005" in checks["alert delivery ops"]["detail"]
    assert "access_token does not exist" in checks["alert delivery ops"]["fix"]


def test_a_deployment_checked_before_rules_apply_warns_that_there_is_no_alert_history(tmp_path: Path) -> None:
    # GIVEN s.yaml deployed but no store set up yet (doctor --deployed right after `s deploy`)
    with LocalCloud(tmp_path) as cloud:
        path = cloud.deployed_s_yaml()
        bootstrap.reset(cloud.env)
        try:
            # WHEN the deployment is checked
            _, checks, output = run(path)
        finally:
            bootstrap.reset()
    # THEN alert delivery is a WARN naming the command that sets the store up, and the rest still ran
    assert checks["alert delivery"]["status"] == "WARN"
    assert "rules apply" in checks["alert delivery"]["fix"]
    assert checks[f"function {REPLICATOR}"]["status"] == "PASS"
    assert "Traceback" not in output


def test_hostile_answers_from_the_cloud_are_fail_rows_and_the_table_still_prints(
    deployed: tuple[LocalCloud, Path],
) -> None:
    # GIVEN FC answers a trigger config nested past the recursion limit for one function, an EventBridge
    # filter pattern of 200,000 characters for another, and an environment that is not a mapping
    cloud, path = deployed
    nested = "[" * 100_000 + "]" * 100_000
    cloud.fc_state.triggers[REPLICATOR]["acr-push"]["triggerConfig"] = nested
    sweep = trigger_config(cloud, WATCHER, "sweep")
    watcher_triggers = cloud.fc_state.triggers[WATCHER]
    completed = next(name for name in watcher_triggers if name != "sweep")
    set_trigger_config(cloud, WATCHER, completed, eventRuleFilterPattern=nested)
    assert sweep  # the timer is left as deployed
    # WHEN the doctor checks the deployment
    code, checks, output = run(path)
    # THEN it exits 1 with its whole table: each broken answer is a short FAIL row, every other row is there
    assert code == 1
    assert checks[f"function {REPLICATOR}"]["status"] == "FAIL"
    assert "not JSON" in checks[f"function {REPLICATOR}"]["detail"]
    assert checks[f"trigger {WATCHER}/sweep"]["status"] == "PASS"
    assert f"environment {WATCHER}" in checks
    assert "event notification cri-demo-src" in checks
    assert "RecursionError" not in output
    assert max(len(c["detail"]) for c in checks.values()) < 1_000
