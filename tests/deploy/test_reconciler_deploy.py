"""The reconciler's deployment: a 10-minute timer, one instance at a time, no retries, its RAM grants."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from acrsync import bootstrap
from acrsync.deploy_checks import timer_expression_problem
from acrsync.local.fc import TIMEOUTS_S, make_context
from acrsync.service.reconcile import SLICE_MARGIN_S
from tests.deploy.test_ram_policy import statements
from tests.deploy.test_s_yaml import functions, load_raw

REPO = Path(__file__).resolve().parents[2]


def reconciler_resource() -> dict[str, Any]:
    (resource,) = [
        r for r in load_raw()["resources"].values() if r["props"]["functionName"] == "acr-sync-reconciler"
    ]
    return resource


def test_given_s_yaml_then_the_reconciler_runs_on_a_valid_10_minute_timer_only() -> None:
    props = functions()["reconciler"]
    (timer,) = props["triggers"]
    config = timer["triggerConfig"]
    assert timer["triggerType"] == "timer"
    assert config["cronExpression"] == "@every 10m"
    assert timer_expression_problem(config["cronExpression"]) == ""
    assert config["enable"] is True
    assert json.loads(config["payload"]) == {"mode": "reconcile"}


def test_given_s_yaml_then_one_instance_at_a_time_and_a_failed_slice_is_not_retried() -> None:
    resource = reconciler_resource()
    assert {"component": "fc3 concurrency put --reserved-concurrency 1"} in resource["actions"]["post-deploy"]
    config = resource["props"]["asyncInvokeConfig"]
    assert config["maxAsyncRetryAttempts"] == 0
    assert config["maxAsyncEventAgeInSeconds"] <= 600  # older than one period: the next tick supersedes it


def test_given_the_timeout_then_a_slice_keeps_well_clear_of_it() -> None:
    timeout = functions()["reconciler"]["timeout"]
    assert timeout == TIMEOUTS_S["reconciler"]
    assert timeout - bootstrap.DEADLINE_MARGIN_S - SLICE_MARGIN_S >= timeout * 0.8
    assert make_context("reconciler", {}).function.timeout == timeout


def test_given_the_function_policy_then_tag_writes_are_granted_on_destination_instances_only() -> None:
    (statement,) = [s for s in statements("ram-policy.json") if "cr:DeleteRepositoryTag" in s["Action"]]
    assert sorted(statement["Action"]) == ["cr:CreateRepositoryTag", "cr:DeleteRepositoryTag"]
    assert all("<DESTINATION_INSTANCE_ID>" in resource for resource in statement["Resource"])
    assert not any("<SOURCE_INSTANCE_ID>" in resource for resource in statement["Resource"])
