"""What s.yaml means (domain.deployment): expressions, functions, triggers, never an env var value."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from acrsync.domain.deployment import (
    UNRESOLVED,
    bus_from_arn,
    expected_functions,
    invocation_mode,
    resolve,
    rule_name_from_arn,
)

REPO = Path(__file__).resolve().parents[2]


def test_vars_resolve_with_their_types_and_env_and_other_expressions_stay_unresolved() -> None:
    variables = {"region": "cn-hangzhou", "memory": 256}
    assert resolve("${vars.region}", variables) == "cn-hangzhou"
    assert resolve("${vars.memory}", variables) == 256
    assert resolve("x-${vars.region}", variables) == "x-cn-hangzhou"
    assert resolve("${env('ACRSYNC_DINGTALK_SECRET')}", variables) == UNRESOLVED
    assert resolve("${resources.layer.output.arn}", variables) == UNRESOLVED


def test_the_repository_s_yaml_means_two_functions_with_their_triggers_and_env_names() -> None:
    doc = yaml.safe_load((REPO / "s.yaml").read_text(encoding="utf-8"))
    functions = {f.name: f for f in expected_functions(doc)}
    assert {"acr-sync-replicator", "acr-sync-watcher"} <= set(functions)
    watcher = functions["acr-sync-watcher"]
    assert watcher.attributes["runtime"] == "python3.10"
    assert [t.type for t in watcher.triggers] == ["timer", "eventbridge"]
    assert "ACRSYNC_DINGTALK_SECRET" in watcher.env_names
    # only where a value comes from is kept, never a value
    assert watcher.env_expressions["ACRSYNC_DINGTALK_SECRET"] == "env(ACRSYNC_DINGTALK_SECRET)"
    assert functions["acr-sync-replicator"].triggers[0].pattern["data"]["InstanceId"] == [
        doc["vars"]["source_instance_id"]
    ]


def test_a_document_without_resources_or_function_names_is_refused_precisely() -> None:
    with pytest.raises(ValueError, match="no `resources`"):
        expected_functions({})
    with pytest.raises(ValueError, match=r"resources.f.props.functionName"):
        expected_functions({"resources": {"f": {"component": "fc3", "props": {}}}})


def test_rule_and_bus_come_from_the_trigger_source_arn() -> None:
    arn = "acs:eventbridge:cn-hangzhou:123:eventbus/default/rule/acr-sync-replicator-acr-push"
    assert rule_name_from_arn(arn) == "acr-sync-replicator-acr-push"
    assert bus_from_arn(arn) == "default"
    assert rule_name_from_arn("") == ""


def test_async_invocation_type_reads_per_the_fc3_api() -> None:
    assert invocation_mode(False) == "asynchronous"
    assert invocation_mode(None) == "asynchronous"  # the documented default is false
    assert invocation_mode(True) == "synchronous"
