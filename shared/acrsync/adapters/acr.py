"""``RegistryApi`` on the ACR OpenAPI 2018-12-01 through the official SDK (``alibabacloud-cr20181201``).

``WireRegistry`` holds everything but the transport: which parameters each call sends (wire names, booleans
as ``"true"``/``"false"`` per reference §2.1), paging, the repository cache, "not found → None", parsing of
response bodies (the SDK models' ``to_map()`` wire names) and error translation. ``AcrRegistry`` sends through
the SDK client; ``acrsync.local.fake_registry.FakeRegistry`` calls the emulated model directly, so the fake
cannot drift from the adapter.

The SDK is imported lazily (``build_acr_client`` and the first call): importing it costs ~0.9 s.
"""

from __future__ import annotations

import abc
import re
import time
from collections.abc import Iterator
from typing import Any

from acrsync.adapters.acr_errors import NOT_FOUND_CODES, check_body, classify_error, translate_error
from acrsync.adapters.openapi_sdk import point_at
from acrsync.domain.registry import (
    ImageLocation,
    Instance,
    Namespace,
    Repository,
    SyncTask,
    SyncTaskSpec,
    TagInfo,
    TaskStatus,
)
from acrsync.errors import ConfigError, UpstreamRejected, UpstreamUnavailable
from acrsync.logging import get_logger, redact_text, secrets_in
from acrsync.ports import RegistryApi

__all__ = [
    "AcrRegistry",
    "WireRegistry",
    "build_acr_client",
    "check_body",
    "classify_error",
    "translate_error",
]

log = get_logger(__name__)

PAGE_SIZE = 100  # the documented maximum (reference §2.6)
MAX_PAGES = 10_000  # a runaway-paging guard, far above any real account
REPO_CACHE_TTL_S = 300.0  # RepoIds are stable; a deleted and re-created repository gets a new id


def _flag(value: bool) -> str:
    # reference §2.1: the SDK would send Python's "True"; the documented form is lower-case.
    return "true" if value else "false"


def repository_from(doc: dict[str, Any]) -> Repository:
    """A ``GetRepository`` body or a ``ListRepository`` item."""
    return Repository(
        repo_id=str(doc.get("RepoId", "")),
        namespace=str(doc.get("RepoNamespaceName", "")),
        name=str(doc.get("RepoName", "")),
        instance_id=str(doc.get("InstanceId", "")),
    )


def tag_from(doc: dict[str, Any]) -> TagInfo:
    """A ``GetRepoTag`` body or a ``ListRepoTag`` image."""
    return TagInfo(
        tag=str(doc.get("Tag", "")),
        digest=str(doc.get("Digest", "")),
        image_update=epoch_seconds(doc.get("ImageUpdate")),
    )


def epoch_seconds(value: Any) -> float:
    """``ImageUpdate`` in epoch seconds: epoch milliseconds (an int in ``GetRepoTag``, a numeric string in
    ``ListRepoTag``, reference §2.6); 0.0 for anything else (the caller then treats the time as unknown)."""
    try:
        ms = float(str(value).strip())
    except ValueError:
        return 0.0
    return ms / 1000.0 if 0 < ms < float("inf") else 0.0


def _location(doc: Any) -> ImageLocation | None:
    if not isinstance(doc, dict):
        return None
    return ImageLocation(
        instance_id=str(doc.get("InstanceId", "")),
        region=str(doc.get("RegionId", "")),
        namespace=str(doc.get("RepoNamespaceName", "")),
        repo=str(doc.get("RepoName", "")),
        tag=str(doc.get("ImageTag", "")),
    )


def sync_task_from(doc: dict[str, Any]) -> SyncTask:
    """A ``GetRepoSyncTask`` body or a ``ListRepoSyncTask`` item."""
    raw_status = str(doc.get("TaskStatus", ""))
    try:
        status = TaskStatus(raw_status)
    except ValueError:
        raise UpstreamRejected(
            f"ACR returned an unknown TaskStatus {raw_status!r}", code="UnknownTaskStatus"
        ) from None
    return SyncTask(
        task_id=str(doc.get("SyncTaskId", "")),
        status=status,
        issue=str(doc.get("TaskIssue") or ""),
        image_from=_location(doc.get("ImageFrom")),
        image_to=_location(doc.get("ImageTo")),
        create_time_ms=int(doc.get("CreateTime") or 0),
        batch_id=str(doc.get("SyncBatchTaskId") or ""),
        trigger=str(doc.get("TaskTrigger") or ""),
        rule_id=str(doc.get("SyncRuleId") or ""),
        link_id=str(doc.get("LinkId") or ""),
    )


class WireRegistry(RegistryApi):
    """The port over an abstract ``_call(action, params) -> body``; subclasses supply the transport."""

    def __init__(self, *, region: str = "", clock: Any = time.monotonic) -> None:
        self._region = region
        self._clock = clock
        self._repo_cache: dict[tuple[str, str, str], tuple[Repository, float]] = {}

    @abc.abstractmethod
    def _call(self, action: str, params: dict[str, str]) -> dict[str, Any]:
        """Send one action with wire-named string parameters; return the success body or raise
        ``UpstreamUnavailable``/``UpstreamRejected`` (``check_body`` already applied)."""

    def _lookup(self, action: str, params: dict[str, str]) -> dict[str, Any] | None:
        try:
            return self._call(action, params)
        except UpstreamRejected as err:
            if err.code in NOT_FOUND_CODES:
                return None
            raise

    def cached_repository(self, instance_id: str, namespace: str, name: str) -> Repository | None:
        """The cached ``GetRepository`` answer, if fresh; no call."""
        hit = self._repo_cache.get((instance_id, namespace, name))
        if hit is not None and self._clock() - hit[1] < REPO_CACHE_TTL_S:
            return hit[0]
        return None

    def get_repository(self, instance_id: str, namespace: str, name: str) -> Repository | None:
        """``GetRepository`` by ``RepoNamespaceName``+``RepoName`` (cached); None if it does not exist."""
        key = (instance_id, namespace, name)
        hit = self.cached_repository(*key)
        if hit is not None:
            return hit
        params = {"InstanceId": instance_id, "RepoNamespaceName": namespace, "RepoName": name}
        body = self._lookup("GetRepository", params)
        if body is None:
            return None
        repo = repository_from(body)
        self._repo_cache[key] = (repo, self._clock())
        return repo

    def get_repo_tag(self, instance_id: str, repo_id: str, tag: str) -> TagInfo | None:
        """``GetRepoTag`` (a GET on the wire); None if the tag (or its repository) does not exist."""
        body = self._lookup("GetRepoTag", {"InstanceId": instance_id, "RepoId": repo_id, "Tag": tag})
        return None if body is None else tag_from(body)

    def create_repo_sync_task(self, spec: SyncTaskSpec) -> str:
        """``CreateRepoSyncTask``: ``TargetNamespace`` (not ...Name); ``Override`` ``"true"``/``"false"``."""
        params = {
            "InstanceId": spec.instance_id,
            "RepoId": spec.repo_id,
            "Tag": spec.tag,
            "TargetInstanceId": spec.target_instance_id,
            "TargetRegionId": spec.target_region_id,
            "TargetNamespace": spec.target_namespace,
            "TargetRepoName": spec.target_repo_name,
            "TargetTag": spec.target_tag,
            "Override": _flag(spec.override),
            "Priority": str(spec.priority),
        }
        if spec.target_user_id:
            params["TargetUserId"] = spec.target_user_id
        body = self._call("CreateRepoSyncTask", params)
        task_id = str(body.get("SyncTaskId") or "")
        if not task_id:
            raise UpstreamRejected(
                "ACR CreateRepoSyncTask succeeded without a SyncTaskId", code="MissingSyncTaskId"
            )
        return task_id

    def get_repo_sync_task(self, instance_id: str, task_id: str) -> SyncTask:
        """``GetRepoSyncTask``; an unknown task is ``UpstreamRejected``."""
        return sync_task_from(
            self._call("GetRepoSyncTask", {"InstanceId": instance_id, "SyncTaskId": task_id})
        )

    def list_repo_sync_tasks(
        self, instance_id: str, *, namespace: str = "", repo: str = "", tag: str = ""
    ) -> Iterator[SyncTask]:
        """``ListRepoSyncTask``, every page: page numbers; ``TotalCount`` is a string (reference §2.5)."""
        filters = {"RepoNamespaceName": namespace, "RepoName": repo, "Tag": tag}
        base = {"InstanceId": instance_id, **{k: v for k, v in filters.items() if v}}
        for page_no in range(1, MAX_PAGES + 1):
            body = self._call(
                "ListRepoSyncTask", {**base, "PageNo": str(page_no), "PageSize": str(PAGE_SIZE)}
            )
            items = body.get("SyncTasks") or []
            for item in items:
                yield sync_task_from(item)
            total = int(body.get("TotalCount") or 0)
            if not items or page_no * PAGE_SIZE >= total:
                return

    def _token_pages(self, action: str, key: str, params: dict[str, str]) -> Iterator[dict[str, Any]]:
        token = ""
        for _ in range(MAX_PAGES):
            page = {**params, "MaxResults": str(PAGE_SIZE), **({"NextToken": token} if token else {})}
            body = self._call(action, page)
            yield from body.get(key) or []
            token = str(body.get("NextToken") or "")
            if not token:
                return

    def list_repositories(self, instance_id: str) -> Iterator[Repository]:
        """``ListRepository``, every page (``MaxResults``+``NextToken``)."""
        for item in self._token_pages("ListRepository", "Repositories", {"InstanceId": instance_id}):
            yield repository_from(item)

    def list_repo_tags(self, instance_id: str, repo_id: str) -> Iterator[TagInfo]:
        """``ListRepoTag``, every page (``MaxResults``+``NextToken``)."""
        for item in self._token_pages(
            "ListRepoTag", "Images", {"InstanceId": instance_id, "RepoId": repo_id}
        ):
            yield tag_from(item)

    def get_instance(self, instance_id: str) -> Instance | None:
        """``GetInstance``; ``region`` is the region this client talks to (the API does not echo it)."""
        body = self._lookup("GetInstance", {"InstanceId": instance_id})
        if body is None:
            return None
        return Instance(
            instance_id=str(body.get("InstanceId", "")),
            name=str(body.get("InstanceName", "")),
            region=self._region,
            specification=str(body.get("InstanceSpecification", "")),
            status=str(body.get("InstanceStatus", "")),
        )

    def get_namespace(self, instance_id: str, name: str) -> Namespace | None:
        """``GetNamespace`` by name; None if it does not exist."""
        body = self._lookup("GetNamespace", {"InstanceId": instance_id, "NamespaceName": name})
        if body is None:
            return None
        return Namespace(
            instance_id=str(body.get("InstanceId") or instance_id),
            name=str(body.get("NamespaceName", "")),
            auto_create_repo=bool(body.get("AutoCreateRepo")),
        )

    def create_repo_tag(
        self, instance_id: str, namespace: str, repo: str, from_tag: str, to_tag: str
    ) -> None:
        """``CreateRepoTag`` (by ``NamespaceName``+``RepoName``, as the API takes it)."""
        params = {
            "InstanceId": instance_id,
            "NamespaceName": namespace,
            "RepoName": repo,
            "FromTag": from_tag,
            "ToTag": to_tag,
        }
        self._call("CreateRepoTag", params)

    def delete_repo_tag(self, instance_id: str, repo_id: str, tag: str) -> bool:
        """``DeleteRepoTag``; False when the tag (or repository) was already gone."""
        return (
            self._lookup("DeleteRepoTag", {"InstanceId": instance_id, "RepoId": repo_id, "Tag": tag})
            is not None
        )


def _snake(action: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower()


class AcrRegistry(WireRegistry):
    """``RegistryApi`` on a built ``alibabacloud_cr20181201.client.Client`` (see ``build_acr_client``)."""

    def __init__(self, client: Any, *, region: str = "") -> None:
        super().__init__(region=region or str(getattr(client, "_region_id", "") or ""))
        self._client = client

    def _call(self, action: str, params: dict[str, str]) -> dict[str, Any]:
        from alibabacloud_cr20181201 import models as cr_models
        from alibabacloud_credentials.exceptions import CredentialException
        from Tea.exceptions import RetryError, TeaException

        # The request models' from_map takes wire names, so the parameters sent are exactly ``params``.
        request = getattr(cr_models, f"{action}Request")().from_map(params)
        started = time.monotonic()
        try:
            response = getattr(self._client, _snake(action))(request)
        except TeaException as exc:
            inner = getattr(exc, "inner_exception", None)
            if isinstance(inner, CredentialException):  # the SDK wraps what the credentials provider raised
                raise _credentials_refused(action, inner) from None
            err = translate_error(exc, action)
            log.warning(
                "acr_call_failed", action=action, code=getattr(err, "code", ""), error_type=type(err).__name__
            )
            raise err from None
        except CredentialException as exc:
            raise _credentials_refused(action, exc) from None
        except RetryError as exc:  # STS (or the endpoint) unreachable while fetching credentials
            raise UpstreamUnavailable(
                f"ACR {action}: credentials unreachable: {exc}", code="NetworkError"
            ) from None
        body = response.body.to_map() if response.body is not None else {}
        log.debug("acr_call", action=action, ms=round((time.monotonic() - started) * 1000, 1))
        check_body(action, body)
        return body


def _credentials_refused(action: str, exc: BaseException) -> UpstreamRejected:
    """A RAM role that could not be assumed (refused by STS, a bad role_arn): a configuration problem to
    report, not to retry. The message is STS's Code and Message, never a secret (redacted anyway)."""
    detail = redact_text(str(getattr(exc, "message", "") or exc))[:300]
    log.warning("acr_credentials_refused", action=action, error=detail)
    return UpstreamRejected(f"ACR {action}: no credentials for the role: {detail}", code="CredentialsRefused")


def build_acr_client(
    region: str,
    endpoint: str | None = None,
    *,
    access_key_id: str,
    access_key_secret: str,
    security_token: str | None = None,
    credential: Any = None,
    connect_timeout_ms: int = 3000,
    read_timeout_ms: int = 10000,
) -> Any:
    """Build the SDK client: ``cr.<region>.aliyuncs.com`` over HTTPS, or ``endpoint``
    (``ACRSYNC_ACR_ENDPOINT``, e.g. ``http://127.0.0.1:18080``) with its scheme. Credentials are explicit
    (the bootstrap reads ``ALIBABA_CLOUD_*`` or FC's ``context.credentials``); an STS token is sent if given.
    """
    if not region:
        raise ConfigError("ACRSYNC_REGION (or the FC region) is required to build the ACR client")
    if credential is None and (not access_key_id or not access_key_secret):
        raise ConfigError(
            "ACR credentials missing: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET"
        )
    secrets_in([access_key_secret, security_token])
    from alibabacloud_cr20181201.client import Client
    from alibabacloud_tea_openapi.utils_models import Config

    # ``credential``: an ``alibabacloud_credentials`` client that refreshes itself (a RAM role, see
    # ``role_credentials``); otherwise the explicit AccessKey pair.
    config = Config(
        access_key_id=None if credential is not None else access_key_id,
        access_key_secret=None if credential is not None else access_key_secret,
        security_token=None if credential is not None else security_token or None,
        credential=credential,
        region_id=region,
        connect_timeout=connect_timeout_ms,
        read_timeout=read_timeout_ms,
    )
    point_at(config, endpoint, "ACRSYNC_ACR_ENDPOINT")
    return Client(config)
