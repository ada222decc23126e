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


def test_given_the_function_policy_then_it_may_assume_only_the_named_reader_roles() -> None:
    (statement,) = [s for s in statements("ram-policy.json") if "sts:AssumeRole" in s["Action"]]
    assert statement["Action"] == ["sts:AssumeRole"]
    assert statement["Resource"] == ["acs:ram::<DESTINATION_ACCOUNT_ID>:role/<READER_ROLE_NAME>"]


def test_given_the_reader_role_files_then_they_grant_reads_and_trust_the_function_role_only() -> None:
    reader = json.loads(
        (REPO / "deploy" / "ram-policy-cross-account-reader.json").read_text(encoding="utf-8")
    )
    actions = {a for s in reader["Statement"] for a in s["Action"]}
    assert {"cr:GetRepository", "cr:ListRepository", "cr:ListRepositoryTag"} <= actions
    assert not any(a.startswith(("ots:", "sts:")) for a in actions)
    trust = json.loads((REPO / "deploy" / "ram-trust-cross-account-reader.json").read_text(encoding="utf-8"))
    (statement,) = trust["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Principal"] == {"RAM": ["acs:ram::<SOURCE_ACCOUNT_ID>:role/acr-sync-fc"]}
