"""``SyncRuleApi`` over the same ``WireRegistry._call`` as every ACR action (real SDK; emulator offline).

Wire names: [SDK] ``alibabacloud_cr20181201/models/_create_repo_sync_rule_request.py``,
``_list_repo_sync_rule_response_body.py`` (``SyncRules[]{SyncRuleId, SyncRuleName, LinkId, ...}``, page-number
paging) and ``_create_repo_sync_task_by_rule_request.py`` (``InstanceId, RepoId, Tag, SyncRuleId,
Priority``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from acrsync.errors import UpstreamUnavailable
from acrsync.ports import SyncRuleApi

PAGE_SIZE = 100
MAX_PAGES = 100  # 10,000 rules on one instance: far beyond any real one; never an endless loop


class AcrSyncRules(SyncRuleApi):
    """Manual sync rules of one region's ACR API (``wire`` is that region's ``WireRegistry``)."""

    def __init__(self, wire: Any) -> None:
        self._wire = wire

    def list_sync_rules(
        self, instance_id: str, *, namespace: str = "", repo: str = ""
    ) -> list[Mapping[str, Any]]:
        filters = {"NamespaceName": namespace, "RepoName": repo}
        base = {"InstanceId": instance_id, **{k: v for k, v in filters.items() if v}}
        found: list[Mapping[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            body = self._wire._call(
                "ListRepoSyncRule", {**base, "PageNo": str(page), "PageSize": str(PAGE_SIZE)}
            )
            rules = body.get("SyncRules") or []
            found += rules
            if len(rules) < PAGE_SIZE:
                break
        return found

    def create_sync_rule(self, spec: Mapping[str, str]) -> str:
        body = self._wire._call("CreateRepoSyncRule", dict(spec))
        return _required(body, "SyncRuleId", "CreateRepoSyncRule")

    def create_task_by_rule(
        self, instance_id: str, repo_id: str, tag: str, rule_id: str, priority: int
    ) -> str:
        params = {
            "InstanceId": instance_id,
            "RepoId": repo_id,
            "Tag": tag,
            "SyncRuleId": rule_id,
            "Priority": str(priority),
        }
        body = self._wire._call("CreateRepoSyncTaskByRule", params)
        return _required(body, "SyncTaskId", "CreateRepoSyncTaskByRule")


def _required(body: Mapping[str, Any], key: str, action: str) -> str:
    value = str(body.get(key) or "")
    if not value:
        raise UpstreamUnavailable(f"{action} answered without {key}")
    return value
