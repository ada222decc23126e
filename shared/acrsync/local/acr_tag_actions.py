"""The emulator's tag writes (``CreateRepoTag``, ``DeleteRepoTag``) and the changes made behind acr-sync's
back (a tag deleted or overwritten by someone else), for the reconciler.

Parameters and bodies: [SDK] ``alibabacloud_cr20181201/models/_create_repo_tag_request.py`` (``InstanceId``,
``NamespaceName``, ``RepoName``, ``FromTag``, ``ToTag``) and ``_delete_repo_tag_request.py`` (``InstanceId``,
``RepoId``, ``Tag``); both answer ``{Code, IsSuccess, RequestId}`` only
(help.aliyun.com/zh/acr/developer-reference/api-cr-2018-12-01-deleterepotag). Modelling assumptions (⚠):
``TAG_NOT_EXIST`` for a missing ``FromTag``/``Tag`` (by analogy with GetRepoTag); ``CreateRepoTag`` onto an
existing ``ToTag`` is refused with ``TAG_ALREADY_EXIST`` (the API documents no overwrite).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from acrsync.local.acr_model import AcrApiError, AcrModel
from acrsync.local.acr_state import not_exist

Params = Mapping[str, str]

TAG_REQUIRED: dict[str, tuple[str, ...]] = {
    "CreateRepoTag": ("InstanceId", "NamespaceName", "RepoName", "FromTag", "ToTag"),
    "DeleteRepoTag": ("InstanceId", "RepoId", "Tag"),
}


def create_repo_tag(model: AcrModel, p: Params) -> dict[str, Any]:
    """``ToTag`` now points at ``FromTag``'s image."""
    with model._lock:
        repo = model.repo_by_name(p["InstanceId"], p["NamespaceName"], p["RepoName"])
        source = repo.tags.get(p["FromTag"])
        if source is None:
            raise not_exist("TAG_NOT_EXIST", "Tag is not exist.")
        if p["ToTag"] in repo.tags:
            raise AcrApiError("TAG_ALREADY_EXIST", "Tag is already exist.", http_status=200)
        model._set_tag(repo, p["ToTag"], source.digest)
    return {}


def delete_repo_tag(model: AcrModel, p: Params) -> dict[str, Any]:
    """Remove one tag of a repository."""
    with model._lock:
        repo = model.repo_by_id(p["InstanceId"], p["RepoId"])
        if repo.tags.pop(p["Tag"], None) is None:
            raise not_exist("TAG_NOT_EXIST", "Tag is not exist.")
        repo.modified_ms = model.now_ms()
    return {}


TAG_ACTIONS: dict[str, Callable[[AcrModel, Params], dict[str, Any]]] = {
    "CreateRepoTag": create_repo_tag,
    "DeleteRepoTag": delete_repo_tag,
}


# ------------------------------------------------------------------ behind acr-sync's back (tests, demo)
def delete_tag_behind_back(model: AcrModel, instance_id: str, namespace: str, repo: str, tag: str) -> None:
    """Someone deletes a tag in the console: nothing tells acr-sync."""
    with model._lock:
        model.repo_by_name(instance_id, namespace, repo).tags.pop(tag, None)


def overwrite_tag_behind_back(
    model: AcrModel, *, instance_id: str, namespace: str, repo: str, tag: str, digest: str = ""
) -> str:
    """Someone pushes another image to a tag directly (no event reaches acr-sync); returns the digest."""
    return model.push(instance_id, namespace, repo, tag, digest)
