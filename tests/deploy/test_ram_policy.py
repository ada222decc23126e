"""The RAM policies against the code: every API the adapters call is granted, and nothing else."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from acrsync.deploy_checks import (
    ACR_RAM_ACTIONS,
    OTS_ADMIN_APIS,
    acr_actions_called,
    ots_apis_called,
    ots_ram_action,
    policy_actions,
)

REPO = Path(__file__).resolve().parents[2]
ADAPTERS = REPO / "shared" / "acrsync" / "adapters"
# What FC needs to deliver to an async failure destination, by the destination ARN's service (reference §3.4).
DESTINATION_ACTIONS = {
    "mns": "mns:SendMessage",
    "fc": "fc:InvokeFunction",
    "eventbridge": "eventbridge:PutEvents",
}


def policy(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((REPO / "deploy" / name).read_text(encoding="utf-8"))
    return doc


def statements(name: str) -> list[dict[str, Any]]:
    return list(policy(name)["Statement"])


# The replicator invokes the copier (copy destinations) through FC's API.
COPIER_ACTIONS = {"fc:InvokeFunction"}


def acr_called() -> set[str]:
    return (
        acr_actions_called((ADAPTERS / "acr.py").read_text(encoding="utf-8"))
        | acr_actions_called((ADAPTERS / "acr_registry_access.py").read_text(encoding="utf-8"))
        | acr_actions_called((ADAPTERS / "acr_links.py").read_text(encoding="utf-8"))
    )


def ots_called() -> set[str]:
    return ots_apis_called(p.read_text(encoding="utf-8") for p in sorted(ADAPTERS.glob("tablestore_*.py")))


def failure_destination() -> str:
    doc = yaml.safe_load((REPO / "s.yaml").read_text(encoding="utf-8"))
    destination: str = doc["vars"]["failure_destination"]
    return destination


@pytest.mark.parametrize("name", ["ram-policy.json", "ram-policy-operator.json"])
def test_policy_is_a_version_1_allow_list_without_wildcard_actions_or_resources(name: str) -> None:
    doc = policy(name)
    assert doc["Version"] == "1"
    for statement in doc["Statement"]:
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in statement["Action"])
        assert all(resource not in ("*", "acs:*") for resource in statement["Resource"])
        assert all(resource.count(":") >= 4 for resource in statement["Resource"])


def test_the_scan_finds_the_acr_calls_and_every_one_has_a_documented_ram_action() -> None:
    # GIVEN the adapter source WHEN scanned THEN the core calls are seen (the scan works) and all are mapped
    called = acr_called()
    assert {
        "CreateRepoSyncTask",
        "GetRepoSyncTask",
        "ListRepoSyncTask",
        "GetRepository",
        "GetRepoTag",
    } <= called
    unmapped = called - set(ACR_RAM_ACTIONS)
    assert not unmapped, f"add the RAM action for {unmapped} to deploy_checks.ACR_RAM_ACTIONS and the policy"


def test_function_policy_grants_exactly_the_acr_actions_the_adapter_calls() -> None:
    granted = {a for a in policy_actions(policy("ram-policy.json")) if a.startswith("cr:")}
    assert granted == {ACR_RAM_ACTIONS[action] for action in acr_called()}


def test_the_scan_finds_the_tablestore_calls() -> None:
    assert {"PutRow", "GetRow", "GetRange", "ListTable", "CreateTable"} <= ots_called()


def test_function_policy_grants_exactly_the_tablestore_row_apis_the_adapters_call() -> None:
    granted = {a for a in policy_actions(policy("ram-policy.json")) if a.startswith("ots:")}
    assert granted == {ots_ram_action(api) for api in ots_called() - OTS_ADMIN_APIS}


def test_operator_policy_grants_exactly_the_table_admin_apis_the_adapters_call() -> None:
    granted = policy_actions(policy("ram-policy-operator.json"))
    assert granted == {ots_ram_action(api) for api in ots_called() & OTS_ADMIN_APIS}
    assert not granted & policy_actions(policy("ram-policy.json"))


@pytest.mark.parametrize("name", ["ram-policy.json", "ram-policy-operator.json"])
def test_tablestore_grants_are_scoped_to_the_acrsync_tables_of_one_instance(name: str) -> None:
    for statement in statements(name):
        if any(a.startswith("ots:") for a in statement["Action"]):
            for resource in statement["Resource"]:
                assert resource.startswith("acs:ots:*:*:instance/<TABLESTORE_INSTANCE>")
                table = resource.partition("/table/")[2]
                assert table in ("", "acrsync_*")
                assert table or statement["Action"] == ["ots:ListTable"]  # instance-level: ListTable only


def test_acr_grants_are_scoped_to_named_instances() -> None:
    for statement in statements("ram-policy.json"):
        if any(a.startswith("cr:") for a in statement["Action"]):
            for resource in statement["Resource"]:
                kind, _, rest = resource.removeprefix("acs:cr:*:*:").partition("/")
                assert kind in ("repository", "instance")
                assert rest.split("/")[0] in ("<SOURCE_INSTANCE_ID>", "<DESTINATION_INSTANCE_ID>")


def test_sync_tasks_are_created_on_the_source_instance_only() -> None:
    (statement,) = [s for s in statements("ram-policy.json") if "cr:CreateRepositorySync" in s["Action"]]
    assert all("<SOURCE_INSTANCE_ID>" in resource for resource in statement["Resource"])


def test_the_async_failure_destination_is_grantable_and_nothing_else_is_extra() -> None:
    # GIVEN s.yaml's onFailure destination
    destination = failure_destination()
    service = destination.split(":")[1]
    # THEN the function policy allows FC to deliver to it, on that resource only
    (statement,) = [s for s in statements("ram-policy.json") if s["Action"] == [DESTINATION_ACTIONS[service]]]
    (resource,) = statement["Resource"]
    assert destination.endswith(resource.split(":", 4)[4])
    # AND every action of the function policy is accounted for by the code or the destination
    expected = {ACR_RAM_ACTIONS[a] for a in acr_called()} | {
        ots_ram_action(a) for a in ots_called() - OTS_ADMIN_APIS
    }
    # role_arn reads: the RAM-role credentials provider calls STS AssumeRole (adapters/role_credentials.py)
    if "RamRoleArnCredentialsProvider" in (ADAPTERS / "role_credentials.py").read_text(encoding="utf-8"):
        expected.add("sts:AssumeRole")
    assert (
        policy_actions(policy("ram-policy.json"))
        == expected | {DESTINATION_ACTIONS[service], PUT_EVENTS} | COPIER_ACTIONS
    )


PUT_EVENTS = "eventbridge:PutEvents"


def test_outcome_events_may_be_put_on_the_configured_bus_and_nowhere_else() -> None:
    # GIVEN the bus s.yaml names and the adapter that publishes to it
    bus = yaml.safe_load((REPO / "s.yaml").read_text(encoding="utf-8"))["vars"]["event_bus"]
    assert "put_events(" in (ADAPTERS / "eventbridge.py").read_text(encoding="utf-8")
    # THEN exactly eventbridge:PutEvents is granted, on that bus only
    (statement,) = [s for s in statements("ram-policy.json") if PUT_EVENTS in s["Action"]]
    assert statement["Action"] == [PUT_EVENTS]
    assert statement["Resource"] == [f"acs:eventbridge:*:*:eventbus/{bus}"]


def test_the_doctor_policy_grants_only_reads() -> None:
    granted = policy_actions(policy("ram-policy-doctor.json"))
    assert granted == {
        "fc:GetFunction",
        "fc:ListTriggers",
        "fc:GetAsyncInvokeConfig",
        "eventbridge:GetRule",
        "cr:ListSyncRule",
        "cr:ListEventCenterRuleName",
    }


def test_acr_scan_reads_only_the_action_argument_of_the_dispatch_methods() -> None:
    source = """
def f(self):
    self._call("GetRepoSyncTask", {})
    self._lookup("GetNamespace", {})
    yield from self._token_pages("ListRepoTag", "Images", {})
    self._call(action, {})
    log.info("CreateRepoSyncTask")
"""
    assert acr_actions_called(source) == {"GetRepoSyncTask", "GetNamespace", "ListRepoTag"}


def test_ots_scan_sees_client_methods_called_or_passed_and_ignores_other_receivers() -> None:
    source = """
def f(self, client, cache):
    call("PutRow", self._client.put_row, "t", row)
    client.list_table()
    call("BatchGetRow", fn, request)
    cache.get_row("k")
"""
    assert ots_apis_called([source]) == {"PutRow", "ListTable", "BatchGetRow"}


def test_deploy_readme_names_every_acr_api_the_functions_call_with_its_ram_action() -> None:
    # The operator reads the policy through deploy/README.md's table: an API added to an adapter (the custom
    # links' CreateRepoSyncTaskByRule, say) must appear there with the action the policy grants for it.
    rows = [
        line
        for line in (REPO / "deploy" / "README.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("| ")
    ]
    missing = [
        api
        for api in sorted(acr_called())
        if not any(api in row.split("|")[1] and ACR_RAM_ACTIONS[api] in row for row in rows)
    ]
    assert not missing, f"add rows to deploy/README.md's ACR API table for {missing}"
