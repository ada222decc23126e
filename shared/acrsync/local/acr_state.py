"""Records held by the emulated ACR account (``acr_model``), its API error, and the completion CloudEvent."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

from acrsync.domain.registry import TaskStatus


class AcrApiError(Exception):
    """An error the ACR OpenAPI would return.

    ``http_status`` 200 means a *business* error: HTTP 200 with ``IsSuccess=false`` and ``Code`` in the
    body (⚠ UNVERIFIED, reference §2.2: "business-level errors may also come back as HTTP 200").
    """

    def __init__(self, code: str, message: str, *, http_status: int = 400, recommend: str = "") -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status
        self.recommend = recommend


def not_exist(code: str, message: str) -> AcrApiError:
    """A "no such thing" business error (HTTP 200, ``IsSuccess=false``)."""
    return AcrApiError(code, message, http_status=200)


@dataclass
class EmuInstance:
    """``GetInstance``: ``InstanceSpecification`` ``Enterprise_Advanced`` is the Premium edition."""

    instance_id: str
    name: str
    region: str
    specification: str
    status: str
    create_ms: int


@dataclass
class EmuNamespace:
    """``GetNamespace``: ``AutoCreateRepo`` decides whether a sync may create the destination repository."""

    instance_id: str
    name: str
    namespace_id: str
    auto_create_repo: bool
    default_repo_type: str = "PRIVATE"


@dataclass
class EmuTag:
    """``GetRepoTag`` / ``ListRepoTag`` item."""

    tag: str
    digest: str
    image_id: str
    size: int
    create_ms: int
    update_ms: int


@dataclass
class EmuRepo:
    """``GetRepository`` / ``ListRepository`` item plus its tags."""

    repo_id: str
    instance_id: str
    namespace: str
    name: str
    create_ms: int
    modified_ms: int
    repo_type: str = "PRIVATE"
    tags: dict[str, EmuTag] = field(default_factory=dict)


@dataclass
class EmuTask:
    """A sync task (reference §2.4/2.5): ``TaskTrigger`` INITIATIVE because it came from the API."""

    task_id: str
    batch_id: str
    instance_id: str
    region: str
    namespace: str
    repo: str
    repo_id: str
    tag: str
    target_instance_id: str
    target_region_id: str
    target_namespace: str
    target_repo_name: str
    target_tag: str
    override: bool
    priority: int
    cross_user: bool
    create_ms: int
    modified_ms: int
    status: TaskStatus = TaskStatus.PENDING
    issue: str = ""
    progress: int = 0
    synced_size: int = 0
    trigger: str = "INITIATIVE"
    unpublished: bool = False
    rule_id: str = ""  # set when created by CreateRepoSyncTaskByRule: ``SyncRuleId`` in Get/ListRepoSyncTask
    link_id: str = ""  # that rule's custom link: ``LinkId`` (and ``CustomLink`` true) in ListRepoSyncTask

    def image_from(self) -> dict[str, str]:
        """``ImageFrom`` as the API spells it."""
        return {
            "InstanceId": self.instance_id,
            "RegionId": self.region,
            "RepoNamespaceName": self.namespace,
            "RepoName": self.repo,
            "ImageTag": self.tag,
        }

    def image_to(self) -> dict[str, str]:
        """``ImageTo`` as the API spells it."""
        return {
            "InstanceId": self.target_instance_id,
            "RegionId": self.target_region_id,
            "RepoNamespaceName": self.target_namespace,
            "RepoName": self.target_repo_name,
            "ImageTag": self.target_tag,
        }


@dataclass(frozen=True)
class RequestRecord:
    """One API request as the emulator (or fake) saw it; ``outcome`` is ``ok`` or the error code."""

    action: str
    params: dict[str, str]
    time: float
    outcome: str
    method: str = ""
    status: int = 200


_CST = _dt.timezone(_dt.timedelta(hours=8))


def completion_event(
    task: EmuTask, account_id: str, instances: dict[str, EmuInstance], event_id: str
) -> dict[str, Any]:
    """The ``cr:Artifact:SynchronizationCompleted`` CloudEvent for a finished task.

    Envelope per reference §1.2. ⚠ UNVERIFIED ``data``: no captured sample exists (§1.4); the PascalCase
    keys are by analogy with the documented BuildCompleted sample (§1.3) and the API's own field names.
    """
    now = _dt.datetime.fromtimestamp(task.modified_ms / 1000, tz=_dt.timezone.utc)
    source = instances.get(task.instance_id)
    return {
        "id": event_id,
        "source": "acs.cr",
        "specversion": "1.0",
        "type": "cr:Artifact:SynchronizationCompleted",
        "subject": f"acs.cr:{task.region}:{account_id}:{task.instance_id}",
        "time": now.astimezone(_CST).isoformat(timespec="seconds"),
        "datacontenttype": "application/json",
        "aliyunaccountid": account_id,
        "aliyunpublishtime": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "aliyuneventbusname": "default",
        "aliyunregionid": task.region,
        "aliyunpublishaddr": "127.0.0.1",
        "data": {
            "InstanceId": task.instance_id,
            "InstanceName": source.name if source else task.instance_id,
            "RegionId": task.region,
            "RepoNamespaceName": task.namespace,
            "RepoName": task.repo,
            "RepoId": task.repo_id,
            "Tag": task.tag,
            "SyncTaskId": task.task_id,
            "TaskStatus": task.status.value,
            "TaskIssue": task.issue,
            "TargetInstanceId": task.target_instance_id,
            "TargetRegionId": task.target_region_id,
            "TargetNamespace": task.target_namespace,
            "TargetRepoName": task.target_repo_name,
            "TargetTag": task.target_tag,
        },
    }
