"""``ListRepoSyncRule`` over ``AcrModel``: ACR's own (built-in) instance-replication rules, for ``doctor``.

Request ([SDK] ``alibabacloud_cr20181201`` ``list_repo_sync_rule_with_options``): RPC ``POST /``, query
``InstanceId`` (required), ``NamespaceName``, ``RepoName``, ``TargetInstanceId``, ``TargetRegionId``,
``PageNo``, ``PageSize``. Response ([SDK] ``_list_repo_sync_rule_response_body.py``; API page
help.aliyun.com/zh/acr/developer-reference/api-cr-2018-12-01-listreposyncrule): ``SyncRules[]`` with the
*flat* fields ``SyncRuleId, SyncRuleName, SyncScope (REPO|NAMESPACE|INSTANCE), SyncTrigger (PASSIVE =
automatic | INITIATIVE = manual), SyncDirection (FROM|TO), TagFilter, LocalInstanceId, LocalRegionId,
LocalNamespaceName, LocalRepoName, TargetInstanceId, TargetRegionId, TargetNamespaceName, TargetRepoName,
NamespaceNameFilter, RepoNameFilter, CrossUser, LinkId, Priority, CreateTime, ModifiedTime``, and
``PageNo, PageSize, TotalCount`` (an *integer* here, unlike ListRepoSyncTask's string).

``ListEventCenterRuleName`` ([SDK] ``_list_event_center_rule_name_*.py``; RPC ``GET``, query ``InstanceId``):
``RuleNames[{RuleId, RuleName}]`` — the instance's event-notification rules, names only (their channel,
e.g. ``EVENT_BRIDGE``, is set by ``UpdateEventCenterRule`` and not readable through a list call).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from acrsync.local.acr_model import AcrModel

Params = Mapping[str, str]


def add_sync_rule(
    model: AcrModel,
    *,
    instance: str,
    namespace: str,
    repo: str = "",
    target_instance: str,
    target_region: str,
    scope: str = "REPO",
    trigger: str = "PASSIVE",
    tag_filter: str = ".*",
    repo_name_filter: str = "",
) -> dict[str, Any]:
    """Create a built-in sync rule as the console would (tests and the demo)."""
    local = model.instances[instance]
    rule = {
        "SyncRuleId": model.new_id("crsr-"),
        "SyncRuleName": f"rule-{len(model.sync_rules) + 1}",
        "SyncScope": scope,
        "SyncTrigger": trigger,
        "SyncDirection": "FROM",
        "TagFilter": tag_filter,
        "LocalInstanceId": instance,
        "LocalRegionId": local.region,
        "LocalNamespaceName": namespace,
        "LocalRepoName": repo,
        "TargetInstanceId": target_instance,
        "TargetRegionId": target_region,
        "TargetNamespaceName": namespace,
        "TargetRepoName": repo,
        "NamespaceNameFilter": "",
        "RepoNameFilter": repo_name_filter,
        "CrossUser": False,
        "LinkId": "",
        "Priority": 3,
        "CreateTime": model.now_ms(),
        "ModifiedTime": model.now_ms(),
    }
    model.sync_rules.append(rule)
    return rule


def list_repo_sync_rule(model: AcrModel, p: Params) -> dict[str, Any]:
    """The action: rules whose local side is this instance, filtered as the request asks, one page."""
    model.instance(p["InstanceId"])
    filters = {
        "LocalNamespaceName": p.get("NamespaceName", ""),
        "LocalRepoName": p.get("RepoName", ""),
        "TargetInstanceId": p.get("TargetInstanceId", ""),
        "TargetRegionId": p.get("TargetRegionId", ""),
    }
    rules = [
        r
        for r in model.sync_rules
        if r["LocalInstanceId"] == p["InstanceId"] and all(not v or r[k] == v for k, v in filters.items())
    ]
    page_no = max(1, int(p.get("PageNo") or 1))
    size = min(100, max(1, int(p.get("PageSize") or 30)))
    chunk = rules[(page_no - 1) * size : page_no * size]
    return {"SyncRules": chunk, "PageNo": page_no, "PageSize": size, "TotalCount": len(rules)}


def add_event_center_rule(model: AcrModel, *, instance: str, name: str) -> None:
    """An event-notification rule on the instance, as the console's Event Notification page creates one."""
    model.event_center_rules.setdefault(instance, []).append(
        {"RuleId": model.new_id("crecr-"), "RuleName": name}
    )


def list_event_center_rule_name(model: AcrModel, p: Params) -> dict[str, Any]:
    """The action: the instance's event-center rules."""
    model.instance(p["InstanceId"])
    return {"RuleNames": list(model.event_center_rules.get(p["InstanceId"], []))}
