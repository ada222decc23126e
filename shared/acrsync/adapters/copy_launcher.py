"""``CopyLauncher`` adapters: FC ``InvokeFunction`` (async) in the cloud, the copier in-process locally.

FC 3.0 ``InvokeFunction`` (``alibabacloud-fc20230330``, ROA ``POST /2023-03-30/functions/{name}/invocations``)
with ``x-fc-invocation-type: Async`` queues the event and answers 202 at once; ``x-fc-async-task-id`` names
the invocation (``copy-<claim>-<attempt>``) so a repeated hand-over of the same attempt is recognisable
(deduplication by task id needs the function's async task feature: ⚠ UNVERIFIED, the copier is idempotent
either way). The event is ``{"claim_id": ...}``: the ledger row carries everything else.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from acrsync.domain.oci import is_loopback
from acrsync.errors import UpstreamRejected, UpstreamUnavailable
from acrsync.logging import get_logger
from acrsync.ports import CopyLauncher

log = get_logger(__name__)


def copier_event(claim_id: str) -> bytes:
    """The copier's event body."""
    return json.dumps({"claim_id": claim_id}).encode()


class InProcessCopyLauncher(CopyLauncher):
    """Runs the copier right here (``acr-sync demo``, ``invoke --local``, tests): same use case, no FC."""

    def __init__(self, run: Callable[[bytes], Any]) -> None:
        self._run = run

    def launch(self, claim_id: str) -> None:
        self._run(copier_event(claim_id))


class FcCopyLauncher(CopyLauncher):
    """Invokes the copier function asynchronously through the FC 3.0 OpenAPI."""

    def __init__(self, client: Any, function_name: str, *, qualifier: str = "LATEST") -> None:
        # ``client`` may be a zero-argument factory: the FC SDK is then imported on the first launch only
        # (cold start: most pushes go to ACR destinations and never need it).
        self._client = client
        self._function = function_name
        self._qualifier = qualifier

    def launch(self, claim_id: str) -> None:
        from alibabacloud_fc20230330 import models as fc_models
        from darabonba.runtime import RuntimeOptions
        from Tea.exceptions import TeaException

        if callable(self._client) and not hasattr(self._client, "invoke_function_with_options"):
            self._client = self._client()
        request = fc_models.InvokeFunctionRequest(body=copier_event(claim_id), qualifier=self._qualifier)
        headers = fc_models.InvokeFunctionHeaders(x_fc_invocation_type="Async")
        try:
            response = self._client.invoke_function_with_options(
                self._function, request, headers, RuntimeOptions()
            )
        except TeaException as exc:
            status = int(getattr(exc, "statusCode", 0) or 0)
            code = str(getattr(exc, "code", "") or "")
            if status in (429, 500, 502, 503, 504) or status == 0:
                raise UpstreamUnavailable(
                    f"InvokeFunction {self._function}: {code or status}", code=code
                ) from None
            raise UpstreamRejected(f"InvokeFunction {self._function}: {code or status}", code=code) from None
        log.info("copier_invoked", function=self._function, claim_id=claim_id, status=response.status_code)


def build_fc_client(
    region: str,
    account_id: str,
    *,
    access_key_id: str,
    access_key_secret: str,
    security_token: str = "",
    endpoint: str = "",
) -> Any:
    """The FC 3.0 client for ``<account>.<region>.fc.aliyuncs.com``, or ``endpoint`` (``http://127.0.0.1:P``
    for the loopback stand-in; plain http only there)."""
    from alibabacloud_fc20230330.client import Client
    from alibabacloud_tea_openapi.utils_models import Config

    config = Config(
        access_key_id=access_key_id,
        access_key_secret=access_key_secret,
        security_token=security_token or None,
        region_id=region,
        endpoint=f"{account_id}.{region}.fc.aliyuncs.com",
    )
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        if scheme != "https" and not is_loopback(host):
            raise ValueError(f"{endpoint!r}: the FC endpoint must be https (http only for loopback)")
        config.endpoint, config.protocol = host, scheme
        if is_loopback(host):
            config.no_proxy = host.split(":")[0]
    return Client(config)
