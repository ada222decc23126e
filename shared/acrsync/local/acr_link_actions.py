"""Emulated sync-rule writes: ``CreateRepoSyncRule`` and ``CreateRepoSyncTaskByRule``.

Rules live in ``AcrModel.sync_rules``, the one list ``acr_sync_rules`` serves ``ListRepoSyncRule`` from (so a
rule the console made and one acr-sync made for a link are listed alike, with every field the SDK models).

Field names: [SDK] ``alibabacloud_cr20181201/models/_create_repo_sync_rule_request.py`` and
``_list_repo_sync_rule_response_body.py``; reference "ACR OpenAPI additions": ``CreateRepoSyncTaskByRule``
takes manual (``INITIATIVE``) rules only and syncs the tag under its own name. A custom link belongs to an
instance (console: the instance → Distribution → Instance Replication; it is built on a CEN instance,
alibabacloud.com/help/en/acr/user-guide/accelerate-image-replication), so the model keeps the link ids per
instance (``AcrModel.custom_links``, seeded with ``add_link``). A rule on an instance naming a link it does
not have is refused — ⚠ UNVERIFIED: the real error code is not published; ``LINK_NOT_EXIST`` (HTTP 200,
``IsSuccess=false``) is by analogy with the other ``*_NOT_EXIST`` codes, and acr-sync's handling
(``service.links``) does not depend on it. A task created by rule carries the rule's ``SyncRuleId`` and
``LinkId`` (``ListRepoSyncTask`` lists both, reference §2.5).
"""

from __future__ import annotations

from typing import Any

from acrsync.local.acr_model import AcrModel
from acrsync.local.acr_state import AcrApiError, not_exist

Params = Any


def add_link(model: AcrModel, instance_id: str, link_id: str) -> None:
    """Declare a custom replication link the emulated instance has (as made in the console)."""
    model.instance(instance_id)
    model.custom_links.setdefault(instance_id, set()).add(link_id)


def _rule(model: AcrModel, rule_id: str) -> dict[str, Any] | None:
    return next((r for r in model.sync_rules if r["SyncRuleId"] == rule_id), None)


def create_repo_sync_rule(model: AcrModel, p: Params) -> dict[str, Any]:
    local = model.instance(p["InstanceId"])
    link = p.get("LinkId", "")
    if link and link not in model.custom_links.get(p["InstanceId"], set()):
        raise not_exist("LINK_NOT_EXIST", f"The link {link} does not exist.")  # ⚠ UNVERIFIED code, see above
    if p.get("SyncScope", "REPO") == "REPO":
        model.repo_by_name(p["InstanceId"], p["NamespaceName"], p["RepoName"])  # REPO_NOT_EXIST
    rule_id = model.new_id("crsr-")
    model.sync_rules.append(
        {
            "SyncRuleId": rule_id,
            "SyncRuleName": p["SyncRuleName"],
            "SyncScope": p.get("SyncScope", "REPO"),
            "SyncTrigger": p.get("SyncTrigger", "PASSIVE"),
            "SyncDirection": "FROM",
            "TagFilter": p.get("TagFilter", ".*"),
            "LocalInstanceId": p["InstanceId"],
            "LocalRegionId": local.region,
            "LocalNamespaceName": p["NamespaceName"],
            "LocalRepoName": p.get("RepoName", ""),
            "TargetInstanceId": p["TargetInstanceId"],
            "TargetRegionId": p["TargetRegionId"],
            "TargetNamespaceName": p["TargetNamespaceName"],
            "TargetRepoName": p.get("TargetRepoName", ""),
            "NamespaceNameFilter": p.get("NamespaceNameFilter", ""),
            "RepoNameFilter": p.get("RepoNameFilter", ""),
            "CrossUser": bool(p.get("TargetUserId")),
            "LinkId": link,
            "Priority": int(p.get("Priority") or 3),
            "CreateTime": model.now_ms(),
            "ModifiedTime": model.now_ms(),
        }
    )
    return {"SyncRuleId": rule_id}


def create_repo_sync_task_by_rule(model: AcrModel, p: Params) -> dict[str, Any]:
    rule = _rule(model, p["SyncRuleId"])
    if rule is None or rule["LocalInstanceId"] != p["InstanceId"]:
        raise AcrApiError("SYNC_RULE_NOT_EXIST", f"sync rule {p['SyncRuleId']} does not exist")
    if rule["SyncTrigger"] != "INITIATIVE":
        raise AcrApiError("SYNC_RULE_NOT_INITIATIVE", "only manual (INITIATIVE) rules create tasks by rule")
    repo = model.repo_by_id(p["InstanceId"], p["RepoId"])
    task = model.create_sync_task(
        instance_id=p["InstanceId"],
        repo_id=p["RepoId"],
        tag=p["Tag"],
        target_instance_id=rule["TargetInstanceId"],
        target_region_id=rule["TargetRegionId"],
        target_namespace=rule["TargetNamespaceName"],
        target_repo_name=rule["TargetRepoName"] or repo.name,
        target_tag=p["Tag"],
        priority=int(p.get("Priority") or 3),
    )
    task.rule_id, task.link_id = rule["SyncRuleId"], rule["LinkId"]
    return {"SyncTaskId": task.task_id}


ACTIONS = {
    "CreateRepoSyncRule": create_repo_sync_rule,
    "CreateRepoSyncTaskByRule": create_repo_sync_task_by_rule,
}
REQUIRED = {
    "CreateRepoSyncRule": (
        "InstanceId",
        "NamespaceName",
        "SyncRuleName",
        "TargetInstanceId",
        "TargetNamespaceName",
        "TargetRegionId",
    ),
    "CreateRepoSyncTaskByRule": ("InstanceId", "RepoId", "SyncRuleId", "Tag"),
}
