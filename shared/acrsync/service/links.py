"""Custom replication links: a destination with ``link: <LinkId>`` is submitted through a manual sync rule.

ACR's replication guide asks for a custom link where a region restricts public OSS access. A sync task over
such a link is created with ``CreateRepoSyncTaskByRule`` (``InstanceId, RepoId, Tag, SyncRuleId,
Priority``; manual ``INITIATIVE`` rules only, no tag rename — reference "ACR OpenAPI additions"), so acr-sync
keeps one manual rule per (source repository, destination repository, link), named deterministically, found
with ``ListRepoSyncRule`` and created with ``CreateRepoSyncRule`` the first time. The task it returns is
followed like any other (``GetRepoSyncTask``); reconciliation after a crash works the same, because the task
is listed by ``ListRepoSyncTask`` with its source and destination.
"""

from __future__ import annotations

import hashlib

from acrsync.domain.ledger import LedgerEntry
from acrsync.logging import get_logger
from acrsync.ports import SyncRuleApi

log = get_logger(__name__)


def rule_name(entry: LedgerEntry) -> str:
    """``acrsync-<16 hex>``: the same name for the same source repo, destination repo and link."""
    key = "|".join(
        (
            entry.source_namespace,
            entry.source_repo,
            entry.dest_instance,
            entry.dest_region,
            entry.dest_namespace,
            entry.dest_repo,
            entry.extra.get("link", ""),
        )
    )
    return "acrsync-" + hashlib.sha256(key.encode()).hexdigest()[:16]


def submit_by_link(api: SyncRuleApi, entry: LedgerEntry) -> str:
    """Ensure the manual rule for this row's link exists, then create the task by rule; the task id."""
    name = rule_name(entry)
    rule_id = api.find_sync_rule(
        entry.source_instance, name, namespace=entry.source_namespace, repo=entry.source_repo
    )
    if rule_id is None:
        rule_id = api.create_sync_rule(
            {
                "InstanceId": entry.source_instance,
                "NamespaceName": entry.source_namespace,
                "RepoName": entry.source_repo,
                "SyncRuleName": name,
                "SyncScope": "REPO",
                "SyncTrigger": "INITIATIVE",
                "TagFilter": ".*",
                "TargetInstanceId": entry.dest_instance,
                "TargetRegionId": entry.dest_region,
                "TargetNamespaceName": entry.dest_namespace,
                "TargetRepoName": entry.dest_repo,
                "LinkId": entry.extra["link"],
            }
        )
        log.info("sync_rule_created", rule_id=rule_id, name=name, link=entry.extra["link"])
    return api.create_task_by_rule(
        entry.source_instance, entry.source_repo_id, entry.source_tag, rule_id, entry.priority
    )
