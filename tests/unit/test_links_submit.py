"""``submit_by_link``: one managed rule per route, edited rules not used, every refusal says what to do."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from typing import Any

import pytest

from acrsync.domain.ledger import LedgerEntry
from acrsync.errors import LinkRejected, UpstreamRejected, UpstreamUnavailable
from acrsync.ports import SyncRuleApi
from acrsync.service.links import LinkRoute, route_of, rule_name, submit_by_link
from acrsync.service.submit import failed_move

LINK = "link-hz-sh-cen"


def entry(**changes: Any) -> LedgerEntry:
    base = LedgerEntry(
        "c1", "over-a-link", "cri-src", "cn-hangzhou", "team-a", "web", "v1", "sha256:" + "a" * 64,
        "cri-dst", "cn-shanghai", "team-a", "web", "v1", source_repo_id="crr-1", extra={"link": LINK},
    )  # fmt: skip
    return dataclasses.replace(base, **changes)


class FakeRules(SyncRuleApi):
    """Rules in a list; ``refuse`` makes CreateRepoSyncRule (or the task) answer that error."""

    def __init__(self, refuse: Exception | None = None, refuse_task: Exception | None = None) -> None:
        self.rules: list[dict[str, Any]] = []
        self.tasks: list[tuple[str, str, str, str, int]] = []
        self.refuse, self.refuse_task = refuse, refuse_task

    def list_sync_rules(
        self, instance_id: str, *, namespace: str = "", repo: str = ""
    ) -> list[Mapping[str, Any]]:
        return [r for r in self.rules if (r["LocalNamespaceName"], r["LocalRepoName"]) == (namespace, repo)]

    def create_sync_rule(self, spec: Mapping[str, str]) -> str:
        if self.refuse is not None:
            raise self.refuse
        rule_id = f"crsr-{len(self.rules) + 1}"
        self.rules.append(
            {
                **spec,
                "SyncRuleId": rule_id,
                "LocalNamespaceName": spec["NamespaceName"],
                "LocalRepoName": spec["RepoName"],
            }
        )
        return rule_id

    def create_task_by_rule(
        self, instance_id: str, repo_id: str, tag: str, rule_id: str, priority: int
    ) -> str:
        if self.refuse_task is not None:
            raise self.refuse_task
        self.tasks.append((instance_id, repo_id, tag, rule_id, priority))
        return f"rst-{len(self.tasks)}"


def test_given_two_tags_when_submitted_by_link_then_one_manual_rule_carries_both_tasks() -> None:
    api = FakeRules()
    assert submit_by_link(api, entry()) == "rst-1"
    assert submit_by_link(api, entry(source_tag="v2", dest_tag="v2")) == "rst-2"
    (rule,) = api.rules
    assert (rule["SyncTrigger"], rule["LinkId"], rule["SyncRuleName"]) == (
        "INITIATIVE",
        LINK,
        rule_name(entry()),
    )
    assert [t[2] for t in api.tasks] == ["v1", "v2"]


def test_rule_names_are_the_same_from_a_row_and_from_its_fields_and_differ_per_link() -> None:
    route = LinkRoute("cri-src", "team-a", "web", "cri-dst", "cn-shanghai", "team-a", "web", LINK)
    assert route_of(entry()) == route
    assert rule_name(entry()) == route.rule_name
    # the name existing deployments were created under (the hash of these fields) is kept
    assert (
        route.rule_name
        == "acrsync-"
        + hashlib.sha256(b"team-a|web|cri-dst|cn-shanghai|team-a|web|link-hz-sh-cen").hexdigest()[:16]
    )
    assert rule_name(entry(extra={"link": "link-other"})) != route.rule_name


@pytest.mark.parametrize("code", ["LINK_NOT_EXIST", "InvalidParameter.LinkId", "CustomLinkNotFound"])
def test_given_acr_refuses_the_rule_with_a_link_code_when_submitted_then_the_error_says_to_check_the_link_id(
    code: str,
) -> None:
    api = FakeRules(refuse=UpstreamRejected("ACR CreateRepoSyncRule failed", code=code))
    with pytest.raises(LinkRejected) as info:
        submit_by_link(api, entry())
    text = str(info.value)
    assert text.startswith(f"link {LINK} not found on instance cri-src (CreateRepoSyncRule answered {code})")
    assert (
        "check the LinkId in the ACR console → instance cri-src → Distribution → Instance Replication" in text
    )
    assert api.tasks == []
    # AND the row it fails is classed for its own alert
    assert failed_move(entry(), info.value, 1.0).error_class == "link_refused"


def test_given_acr_refuses_the_rule_otherwise_when_submitted_then_the_error_still_says_what_to_do() -> None:
    api = FakeRules(
        refuse=UpstreamRejected("ACR CreateRepoSyncRule failed: NoPrivilege (HTTP 403)", code="NoPrivilege")
    )
    with pytest.raises(LinkRejected) as info:
        submit_by_link(api, entry())
    text = str(info.value)
    assert (
        "CreateRepoSyncRule for link link-hz-sh-cen on instance cri-src refused: ACR CreateRepoSyncRule"
        in text
    )
    assert "check it in the ACR console" in text
    assert "cr:CreateSyncRule" in text


def test_given_a_transient_failure_when_submitted_then_it_passes_through_for_a_retry() -> None:
    api = FakeRules(refuse=UpstreamUnavailable("throttled", code="Throttling.User"))
    with pytest.raises(UpstreamUnavailable):
        submit_by_link(api, entry())


def test_given_the_task_by_rule_is_refused_when_submitted_then_the_link_and_rule_are_named() -> None:
    api = FakeRules(
        refuse_task=UpstreamRejected("ACR CreateRepoSyncTaskByRule failed", code="SYNC_RULE_NOT_EXIST")
    )
    with pytest.raises(LinkRejected) as info:
        submit_by_link(api, entry())
    assert str(info.value).startswith(f"CreateRepoSyncTaskByRule over link {LINK} (rule crsr-1) refused")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("LinkId", "link-other"),
        ("SyncTrigger", "PASSIVE"),
        ("TargetNamespaceName", "elsewhere"),
        ("TargetRepoName", "x"),
    ],
)
def test_given_the_managed_rule_was_edited_when_submitted_then_it_is_not_used_and_the_fix_is_named(
    field: str, value: str
) -> None:
    api = FakeRules()
    submit_by_link(api, entry())
    api.rules[0][field] = value
    with pytest.raises(LinkRejected) as info:
        submit_by_link(api, entry(source_tag="v2", dest_tag="v2"))
    text = str(info.value)
    assert f"{field} is {value!r}" in text
    assert "delete sync rule crsr-1" in text
    assert info.value.code == "LinkRuleEdited"
    assert len(api.tasks) == 1  # the v2 image was not sent over the edited rule
