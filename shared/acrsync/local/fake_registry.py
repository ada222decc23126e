"""An in-memory ``RegistryApi`` on ``AcrModel``: no sockets, for unit tests of the services.

It is the production adapter's ``WireRegistry`` with the HTTP hop removed: the same parameters, paging,
cache, parsing and error translation; the model answers through the same ``acr_actions`` the emulator
serves. Faults configured on the model apply here too (a dropped connection becomes ``UpstreamUnavailable``).
"""

from __future__ import annotations

import time
from typing import Any

from acrsync.adapters.acr import WireRegistry
from acrsync.adapters.acr_errors import check_body, classify_error
from acrsync.errors import UpstreamUnavailable
from acrsync.local import acr_actions
from acrsync.local.acr_faults import DROP
from acrsync.local.acr_model import AcrApiError, AcrModel

# GetRepoTag is the one GET action (reference §2.1); recorded so request-log assertions match the emulator's.
_METHODS = {"GetRepoTag": "GET"}


class FakeRegistry(WireRegistry):
    """``RegistryApi`` straight on an ``AcrModel`` (``region`` defaults to the first instance's)."""

    def __init__(self, model: AcrModel, *, region: str = "") -> None:
        if not region and model.instances:
            region = next(iter(model.instances.values())).region
        super().__init__(region=region)
        self.model = model

    def _call(self, action: str, params: dict[str, str]) -> dict[str, Any]:
        method = _METHODS.get(action, "POST")
        fault = self.model.faults.draw(action)
        if self.model.faults.latency_s:
            time.sleep(self.model.faults.latency_s)
        if fault is not None and fault.kind == DROP:
            self.model.record(action, params, "dropped", method=method, status=0)
            raise UpstreamUnavailable(f"ACR {action} unreachable: connection dropped", code="NetworkError")
        try:
            if fault is not None:
                raise fault.as_error()
            body = acr_actions.dispatch(self.model, action, params)
        except AcrApiError as err:
            self.model.record(action, params, err.code, method=method, status=err.http_status)
            if err.http_status == 200:
                body = {"Code": err.code, "Message": err.message, "IsSuccess": False, "RequestId": "fake"}
                check_body(action, body)
            retry_after = fault.retry_after_ms / 1000 if fault is not None and fault.retry_after_ms else None
            raise classify_error(
                action, err.code, err.http_status, err.message, request_id="fake", retry_after_s=retry_after
            ) from None
        self.model.record(action, params, "ok", method=method)
        return {**body, "RequestId": "fake"}
