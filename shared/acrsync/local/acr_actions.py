"""The ACR OpenAPI actions over ``AcrModel``: query parameters (all strings, as on the wire) in, response
bodies (PascalCase, as the SDK models name them) out. Shared by the HTTP emulator and the in-memory fake so
both validate and answer identically.

Field names: [SDK] ``alibabacloud_cr20181201/models/_<action>_response_body.py``; reference §2.3-2.6.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from acrsync.local.acr_model import AcrApiError, AcrModel, EmuRepo, EmuTag, EmuTask
from acrsync.local.acr_state import not_exist
from acrsync.local.acr_sync_rules import list_event_center_rule_name, list_repo_sync_rule

Params = Mapping[str, str]
T = TypeVar("T")

MAX_PAGE_SIZE = 100  # reference §2.6: PageSize <= 100 (⚠ larger values rejected here; real API may clamp)
DEFAULT_PAGE_SIZE = 30  # ⚠ assumed default

_REQUIRED: dict[str, tuple[str, ...]] = {
    "GetInstance": ("InstanceId",),
    "GetNamespace": ("InstanceId",),
    "GetRepository": ("InstanceId",),
    "ListRepository": ("InstanceId",),
    "GetRepoTag": ("InstanceId", "RepoId", "Tag"),
    "ListRepoTag": ("InstanceId", "RepoId"),
    # reference §2.3: all eight are required; TargetNamespace, not TargetNamespaceName.
    "CreateRepoSyncTask": (
        "InstanceId",
        "RepoId",
        "Tag",
        "TargetInstanceId",
        "TargetRegionId",
        "TargetNamespace",
        "TargetRepoName",
        "TargetTag",
    ),
    "GetRepoSyncTask": ("InstanceId", "SyncTaskId"),
    "ListRepoSyncTask": ("InstanceId",),
    "CancelRepoSyncTask": ("InstanceId", "SyncTaskId"),
    "ListRepoSyncRule": ("InstanceId",),
    "ListEventCenterRuleName": ("InstanceId",),
}


def is_known(action: str) -> bool:
    """Whether the emulator implements ``action``."""
    return action in _ACTIONS


def dispatch(model: AcrModel, action: str, params: Params) -> dict[str, Any]:
    """Run one action; return the success body (``Code``/``IsSuccess`` included, ``RequestId`` not).

    Raises ``AcrApiError`` exactly as the API would answer (``http_status`` 200 = business error).
    """
    handler = _ACTIONS.get(action)
    if handler is None:
        raise AcrApiError(
            "InvalidAction.NotFound",
            "Specified api is not found, please check your url and method.",
            http_status=404,
        )
    for name in _REQUIRED.get(action, ()):
        if not params.get(name):
            # ⚠ POP gateway style "Missing<Param>" code and text, assumed for ACR.
            raise AcrApiError(f"Missing{name}", f"{name} is mandatory for this action.")
    body = handler(model, params)
    return {"Code": "success", "IsSuccess": True, **body}


def _int(params: Params, name: str, default: int, lo: int, hi: int) -> int:
    raw = params.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = lo - 1
    if not lo <= value <= hi:
        raise AcrApiError("InvalidParameter", f"Specified parameter {name} is not valid.")
    return value


def _bool(params: Params, name: str) -> bool:
    raw = params.get(name, "false").lower()  # the SDK sends Python's "True" for a bool, we send "true"
    if raw not in ("true", "false"):
        raise AcrApiError("InvalidParameter", f"Specified parameter {name} is not valid.")
    return raw == "true"


def _page(params: Params, items: Sequence[T]) -> tuple[list[T], dict[str, Any]]:
    """Page-number paging: ``PageNo``/``PageSize``; ``TotalCount`` is a string (reference §2.5)."""
    page_no = _int(params, "PageNo", 1, 1, 1_000_000)
    size = _int(params, "PageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    start = (page_no - 1) * size
    return list(items[start : start + size]), {
        "PageNo": page_no,
        "PageSize": size,
        "TotalCount": str(len(items)),
    }


def _token_or_page(params: Params, items: Sequence[T]) -> tuple[list[T], dict[str, Any]]:
    """``MaxResults``+``NextToken`` take priority over ``PageNo``/``PageSize`` (reference §2.6)."""
    if not params.get("MaxResults") and not params.get("NextToken"):
        return _page(params, items)
    limit = _int(params, "MaxResults", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    start = _decode_token(params.get("NextToken", ""))
    chunk = list(items[start : start + limit])
    meta: dict[str, Any] = {"MaxResults": limit, "TotalCount": str(len(items))}
    if start + limit < len(items):
        meta["NextToken"] = base64.urlsafe_b64encode(f"offset:{start + limit}".encode()).decode()
    return chunk, meta


def _decode_token(token: str) -> int:
    if not token:
        return 0
    try:
        kind, _, value = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind == "offset":
            return int(value)
    except ValueError:
        pass
    raise AcrApiError("InvalidParameter", "Specified parameter NextToken is not valid.")


def _repo(repo: EmuRepo) -> dict[str, Any]:
    return {
        "RepoId": repo.repo_id,
        "RepoName": repo.name,
        "RepoNamespaceName": repo.namespace,
        "RepoStatus": "NORMAL",
        "RepoType": repo.repo_type,
        "RepoBuildType": "MANUAL",
        "TagImmutability": False,
        "Summary": "",
        "InstanceId": repo.instance_id,
        "ResourceGroupId": "rg-acfmxxxxxxxxxxx",
        "CreateTime": repo.create_ms,
        "ModifiedTime": repo.modified_ms,
    }


def _tag(tag: EmuTag, *, times_as_str: bool) -> dict[str, Any]:
    # The SDK types ImageCreate/ImageUpdate as int in GetRepoTag but str in ListRepoTag: mirror that.
    create: Any = str(tag.create_ms) if times_as_str else tag.create_ms
    update: Any = str(tag.update_ms) if times_as_str else tag.update_ms
    return {
        "Tag": tag.tag,
        "Digest": tag.digest,
        "ImageId": tag.image_id,
        "ImageSize": tag.size,
        "ImageCreate": create,
        "ImageUpdate": update,
        "Status": "NORMAL",
    }


def _task_common(task: EmuTask) -> dict[str, Any]:
    return {
        "SyncTaskId": task.task_id,
        "SyncBatchTaskId": task.batch_id,
        "SyncRuleId": task.rule_id,
        "TaskStatus": task.status.value,
        "TaskIssue": task.issue,
        "TaskTrigger": task.trigger,
        "CrossUser": task.cross_user,
        "SyncTransAccelerate": False,
        "Priority": task.priority,
        "ImageFrom": task.image_from(),
        "ImageTo": task.image_to(),
    }


def _get_instance(model: AcrModel, p: Params) -> dict[str, Any]:
    inst = model.instance(p["InstanceId"])
    return {
        "InstanceId": inst.instance_id,
        "InstanceName": inst.name,
        "InstanceSpecification": inst.specification,
        "InstanceStatus": inst.status,
        "InstanceIssue": "",
        "ResourceGroupId": "rg-acfmxxxxxxxxxxx",
        "CreateTime": inst.create_ms,
        "ModifiedTime": inst.create_ms,
        "Tags": [],
    }


def _get_namespace(model: AcrModel, p: Params) -> dict[str, Any]:
    if not p.get("NamespaceName") and not p.get("NamespaceId"):
        raise AcrApiError("MissingParameter", "NamespaceName or NamespaceId is mandatory for this action.")
    if p.get("NamespaceName"):
        ns = model.namespace(p["InstanceId"], p["NamespaceName"])
    else:
        model.instance(p["InstanceId"])
        found = [n for n in model.namespaces.values() if n.namespace_id == p["NamespaceId"]]
        if not found:
            raise not_exist("NAMESPACE_NOT_EXIST", "Namespace is not exist.")
        ns = found[0]
    return {
        "InstanceId": ns.instance_id,
        "NamespaceId": ns.namespace_id,
        "NamespaceName": ns.name,
        "NamespaceStatus": "NORMAL",
        "AutoCreateRepo": ns.auto_create_repo,
        "DefaultRepoType": ns.default_repo_type,
        "ResourceGroupId": "rg-acfmxxxxxxxxxxx",
    }


def _get_repository(model: AcrModel, p: Params) -> dict[str, Any]:
    if p.get("RepoId"):
        return _repo(model.repo_by_id(p["InstanceId"], p["RepoId"]))
    if p.get("RepoNamespaceName") and p.get("RepoName"):
        return _repo(model.repo_by_name(p["InstanceId"], p["RepoNamespaceName"], p["RepoName"]))
    raise AcrApiError(
        "MissingParameter", "RepoId or RepoNamespaceName and RepoName is mandatory for this action."
    )


def _list_repository(model: AcrModel, p: Params) -> dict[str, Any]:
    repos = model.list_repos(
        p["InstanceId"], namespace=p.get("RepoNamespaceName", ""), name=p.get("RepoName", "")
    )
    chunk, meta = _token_or_page(p, repos)
    return {"Repositories": [_repo(r) for r in chunk], **meta}


def _get_repo_tag(model: AcrModel, p: Params) -> dict[str, Any]:
    return _tag(model.tag(p["InstanceId"], p["RepoId"], p["Tag"]), times_as_str=False)


def _list_repo_tag(model: AcrModel, p: Params) -> dict[str, Any]:
    chunk, meta = _token_or_page(p, model.list_tags(p["InstanceId"], p["RepoId"]))
    return {"Images": [_tag(t, times_as_str=True) for t in chunk], **meta}


def _create_repo_sync_task(model: AcrModel, p: Params) -> dict[str, Any]:
    task = model.create_sync_task(
        instance_id=p["InstanceId"],
        repo_id=p["RepoId"],
        tag=p["Tag"],
        target_instance_id=p["TargetInstanceId"],
        target_region_id=p["TargetRegionId"],
        target_namespace=p["TargetNamespace"],
        target_repo_name=p["TargetRepoName"],
        target_tag=p["TargetTag"],
        override=_bool(p, "Override"),
        priority=_int(p, "Priority", 3, 1, 5),
        target_user_id=p.get("TargetUserId", ""),
    )
    return {"SyncTaskId": task.task_id}


def _get_repo_sync_task(model: AcrModel, p: Params) -> dict[str, Any]:
    task = model.task(p["InstanceId"], p["SyncTaskId"])
    layer = {
        "TaskStatus": task.status.value,
        "Digest": model.repos[task.repo_id].tags[task.tag].digest,
        "ArtifactDigest": "",
        "Size": 23_655_489,
        "SyncedSize": task.synced_size,
        "SyncLayerTaskId": task.task_id.replace("rst-", "rslt-"),
    }
    return {
        **_task_common(task),
        "Progress": task.progress,
        "SyncedSize": task.synced_size,
        "LayerTasks": [layer],
    }


def _list_repo_sync_task(model: AcrModel, p: Params) -> dict[str, Any]:
    tasks = model.list_tasks(
        p["InstanceId"],
        namespace=p.get("RepoNamespaceName", ""),
        repo=p.get("RepoName", ""),
        tag=p.get("Tag", ""),
        batch_id=p.get("SyncRecordId", ""),
    )
    chunk, meta = _page(p, tasks)
    items = [
        {
            **_task_common(t),
            "CreateTime": t.create_ms,
            "ModifiedTime": t.modified_ms,
            "ModifedTime": t.modified_ms,  # sic: the legacy misspelt duplicate (reference §2.5)
            "CustomLink": bool(t.link_id),
            "LinkId": t.link_id,
        }
        for t in chunk
    ]
    return {"SyncTasks": items, **meta}


def _cancel_repo_sync_task(model: AcrModel, p: Params) -> dict[str, Any]:
    model.task(p["InstanceId"], p["SyncTaskId"])
    model.cancel_task(p["SyncTaskId"])
    return {}


_ACTIONS: dict[str, Callable[[AcrModel, Params], dict[str, Any]]] = {
    "GetInstance": _get_instance,
    "GetNamespace": _get_namespace,
    "GetRepository": _get_repository,
    "ListRepository": _list_repository,
    "GetRepoTag": _get_repo_tag,
    "ListRepoTag": _list_repo_tag,
    "CreateRepoSyncTask": _create_repo_sync_task,
    "GetRepoSyncTask": _get_repo_sync_task,
    "ListRepoSyncTask": _list_repo_sync_task,
    "CancelRepoSyncTask": _cancel_repo_sync_task,
    "ListRepoSyncRule": list_repo_sync_rule,  # acr_sync_rules.py (doctor --deployed)
    "ListEventCenterRuleName": list_event_center_rule_name,
}

# The reconciler's tag writes live in their own module (acr_tag_actions); registered here so both the HTTP
# emulator and the in-memory fake serve them through ``dispatch``.
from acrsync.local.acr_tag_actions import TAG_ACTIONS, TAG_REQUIRED  # noqa: E402

_ACTIONS.update(TAG_ACTIONS)
_REQUIRED.update(TAG_REQUIRED)
# The registry data plane's actions live in their own module (one registration line here).
from acrsync.local import acr_registry_actions as _registry_actions  # noqa: E402

_ACTIONS.update(_registry_actions.ACTIONS)
_REQUIRED.update(_registry_actions.REQUIRED)

from acrsync.local import acr_link_actions as _link_actions  # noqa: E402

_ACTIONS.update(_link_actions.ACTIONS)
_REQUIRED.update(_link_actions.REQUIRED)
