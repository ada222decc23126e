"""What the FC, EventBridge and ACR-rules adapters share: the SDK ``Config`` and the error translation.

All three SDKs are tea-openapi 0.4.x clients ([SDK] ``alibabacloud_tea_openapi/client.py``), so a client is
built the same way (explicit credentials, region endpoint or an ``http://127.0.0.1:PORT`` override) and
fails the same way (``ClientException`` 4xx, ``ServerException`` 5xx, ``ThrottlingException``,
``UnretryableException`` for the network; reference §2.2). Messages never carry a secret.
"""

from __future__ import annotations

from typing import Any

from acrsync.errors import AcrSyncError, ConfigError, UpstreamRejected, UpstreamUnavailable
from acrsync.logging import redact_text, secrets_in


def sdk_config(
    region: str,
    endpoint: str,
    *,
    variable: str,
    access_key_id: str,
    access_key_secret: str,
    security_token: str = "",
) -> Any:
    """A tea-openapi ``Config``: the region's endpoint (the SDK's map), or ``endpoint`` with its scheme."""
    if not region:
        raise ConfigError("ACRSYNC_REGION (or the FC region) is required to reach the FC / EventBridge APIs")
    if not access_key_id or not access_key_secret:
        raise ConfigError(
            "credentials missing: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET"
        )
    secrets_in([access_key_secret, security_token])
    from alibabacloud_tea_openapi.utils_models import Config

    config = Config(
        access_key_id=access_key_id,
        access_key_secret=access_key_secret,
        security_token=security_token or None,
        region_id=region,
        connect_timeout=3000,
        read_timeout=10000,
    )
    point_at(config, endpoint, variable)
    return config


def point_at(config: Any, endpoint: str | None, variable: str) -> None:
    """Aim a tea-openapi ``Config`` at ``endpoint`` (``variable``'s value, ``[scheme://]host[:port]``; https
    unless it says http); nothing to do without one (the SDK's region map). Loopback bypasses any proxy."""
    if not endpoint:
        return
    scheme, sep, host = endpoint.partition("://")
    if not sep:
        scheme, host = "https", endpoint
    host = host.rstrip("/")
    if scheme not in ("http", "https") or not host:
        raise ConfigError(f"{variable} must look like https://host[:port]")
    config.endpoint, config.protocol = host, scheme
    if host.startswith(("127.", "localhost")):
        config.no_proxy = host.split(":")[0]  # never send loopback traffic to an HTTP(S)_PROXY


def translate(exc: BaseException, product: str, action: str) -> AcrSyncError:
    """An SDK exception as ``UpstreamUnavailable`` (throttling, 5xx, network) or ``UpstreamRejected``."""
    from Tea.exceptions import UnretryableException

    if isinstance(exc, UnretryableException):
        inner = getattr(exc, "inner_exception", None) or exc
        detail = redact_text(f"{type(inner).__name__}: {inner}")[:300]
        return UpstreamUnavailable(f"{product} {action} unreachable: {detail}", code="NetworkError")
    code = str(getattr(exc, "code", "") or "")
    status = getattr(exc, "status_code", None)
    data = getattr(exc, "data", None)
    message = data.get("Message") or data.get("message") if isinstance(data, dict) else None
    text = redact_text(f"{product} {action} failed: {code or 'unknown'} (HTTP {status}): {message or ''}")
    if code.startswith("Throttling") or (isinstance(status, int) and status >= 500):
        return UpstreamUnavailable(text, code=code)
    return UpstreamRejected(text, code=code)


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of an SDK exception, if it has one."""
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None
