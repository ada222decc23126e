"""Values the registry port speaks in: repositories, tags, sync tasks, instances. Pure data."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class TaskStatus(str, enum.Enum):
    """``GetRepoSyncTask.TaskStatus`` (reference §2.4): exactly these five values."""

    PENDING = "PENDING"
    SYNCHRONIZING = "SYNCHRONIZING"
    SUCCESS = "SUCCESS"
    ERROR = "ERROR"
    CANCELED = "CANCELED"

    @property
    def is_terminal(self) -> bool:
        """SUCCESS, ERROR and CANCELED are final; PENDING and SYNCHRONIZING are not."""
        return self in (TaskStatus.SUCCESS, TaskStatus.ERROR, TaskStatus.CANCELED)


@dataclass(frozen=True, slots=True)
class Repository:
    """``GetRepository`` / ``ListRepository`` item."""

    repo_id: str
    namespace: str
    name: str
    instance_id: str = ""


@dataclass(frozen=True, slots=True)
class TagInfo:
    """``GetRepoTag`` / ``ListRepoTag`` item; ``image_update``: when the tag last moved (epoch seconds,
    0.0 when the registry did not say)."""

    tag: str
    digest: str
    image_update: float = 0.0


@dataclass(frozen=True, slots=True)
class ImageLocation:
    """``ImageFrom`` / ``ImageTo`` of a sync task."""

    instance_id: str
    region: str
    namespace: str
    repo: str
    tag: str


@dataclass(frozen=True, slots=True)
class SyncTask:
    """``GetRepoSyncTask`` / ``ListRepoSyncTask`` item, reduced to what acr-sync reads."""

    task_id: str
    status: TaskStatus
    issue: str = ""
    image_from: ImageLocation | None = None
    image_to: ImageLocation | None = None
    create_time_ms: int = 0
    batch_id: str = ""
    trigger: str = ""
    rule_id: str = ""  # ``SyncRuleId``: the rule it came from (CreateRepoSyncTaskByRule), else empty
    link_id: str = ""  # ``LinkId``: the custom replication link it travelled (ListRepoSyncTask)


@dataclass(frozen=True, slots=True)
class SyncTaskSpec:
    """``CreateRepoSyncTask`` parameters (reference §2.3): note ``TargetNamespace``, not ``...Name``."""

    instance_id: str
    repo_id: str
    tag: str
    target_instance_id: str
    target_region_id: str
    target_namespace: str
    target_repo_name: str
    target_tag: str
    override: bool = False
    priority: int = 3
    target_user_id: str = ""


@dataclass(frozen=True, slots=True)
class Instance:
    """``GetInstance``: edition (``Enterprise_Advanced`` is Premium) and status."""

    instance_id: str
    name: str
    region: str
    specification: str
    status: str


@dataclass(frozen=True, slots=True)
class Namespace:
    """``GetNamespace``: whether pushing/syncing into a missing repository creates it."""

    instance_id: str
    name: str
    auto_create_repo: bool
