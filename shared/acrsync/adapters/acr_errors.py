"""Translate ACR OpenAPI failures into acr-sync's error tree, at the boundary and in one place.

Reference §2.2: 4xx → ``ClientException``, 5xx → ``ServerException``, any status with ``x-acs-retry-after``
→ ``ThrottlingException`` (``retry_after`` in milliseconds: darabonba sleeps ``retry_after`` ms), network
failure → ``UnretryableException``; all subclass ``Tea.exceptions.TeaException``. Throttling without the
header is a plain ``ClientException`` whose code starts with ``Throttling``. Business errors may arrive as
HTTP 200 with ``IsSuccess=false`` (⚠ UNVERIFIED) and are judged by their ``Code``.

Messages carry the action, code, HTTP status, the server's message and request id, and are passed through
the log redactor: never an AccessKey secret or STS token.
"""

from __future__ import annotations

from typing import Any

from acrsync.errors import AcrSyncError, UpstreamRejected, UpstreamUnavailable
from acrsync.logging import redact_text

# Business "does not exist" codes: the official Terraform provider treats the first three as not-found
# ([REPO] aliyun/terraform-provider-alicloud alicloud/service_alicloud_cr_ee.go). ⚠ The last two are assumed.
NOT_FOUND_CODES = frozenset(
    {"INSTANCE_NOT_EXIST", "NAMESPACE_NOT_EXIST", "REPO_NOT_EXIST", "TAG_NOT_EXIST", "SYNC_TASK_NOT_EXIST"}
)
# Codes that mean "try again later" whatever the HTTP status they come with.
TRANSIENT_CODES = frozenset(
    {
        "ServiceUnavailable",
        "InternalError",
        "SystemError",
        "SYSTEM_ERROR",
        "InternalServerError",
        "RequestTimeout",
    }
)


def classify_error(
    action: str,
    code: str,
    status: int | None,
    message: str,
    *,
    request_id: str = "",
    retry_after_s: float | None = None,
) -> AcrSyncError:
    """The acr-sync error for one failed ACR call: retryable (throttling, 5xx, transient codes) or not."""
    text = f"ACR {action} failed: {code or 'unknown'} (HTTP {status if status is not None else '-'})"
    if message:
        text += f": {message}"
    if request_id:
        text += f" [request {request_id}]"
    text = redact_text(text)
    transient = (
        retry_after_s is not None
        or code.startswith("Throttling")
        or code in TRANSIENT_CODES
        or (status is not None and status >= 500)
    )
    if transient:
        return UpstreamUnavailable(text, code=code, retry_after=retry_after_s)
    return UpstreamRejected(text, code=code)


def check_body(action: str, body: dict[str, Any]) -> None:
    """Raise if an HTTP 200 body says ``IsSuccess: false`` (⚠ the shape is UNVERIFIED, reference §2.2)."""
    if body.get("IsSuccess") is False:
        raise classify_error(
            action,
            str(body.get("Code") or ""),
            200,
            str(body.get("Message") or ""),
            request_id=str(body.get("RequestId") or ""),
        )


def translate_error(exc: BaseException, action: str) -> AcrSyncError:
    """Map an SDK exception (any ``TeaException``) to ``UpstreamUnavailable`` or ``UpstreamRejected``."""
    from Tea.exceptions import UnretryableException

    if isinstance(exc, UnretryableException):
        # Network failure or timeout; the inner exception says which (connection reset, read timeout...).
        inner = getattr(exc, "inner_exception", None) or exc
        detail = redact_text(f"{type(inner).__name__}: {inner}")[:300]
        return UpstreamUnavailable(f"ACR {action} unreachable: {detail}", code="NetworkError")
    data = getattr(exc, "data", None)
    server_message = data.get("Message") if isinstance(data, dict) else None
    retry_after_ms = getattr(exc, "retry_after", None)
    return classify_error(
        action,
        str(getattr(exc, "code", "") or ""),
        getattr(exc, "status_code", None),
        str(server_message or getattr(exc, "message", "") or ""),
        request_id=str(getattr(exc, "request_id", "") or ""),
        retry_after_s=retry_after_ms / 1000 if isinstance(retry_after_ms, (int, float)) else None,
    )
