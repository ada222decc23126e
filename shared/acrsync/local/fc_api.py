"""A loopback FC 3.0 API (2023-03-30) that the real ``alibabacloud-fc20230330`` client talks to.

ROA style ([SDK] ``alibabacloud_fc20230330/client.py``, 4.8.3): ``GET /2023-03-30/functions/{name}``
(GetFunction), ``GET .../triggers`` (ListTriggers: ``{"triggers": [...], "nextToken"}``),
``GET .../triggers/{trigger}`` (GetTrigger), ``GET .../async-invoke-config`` (GetAsyncInvokeConfig); JSON
bodies with the camelCase wire names of the SDK models (``Function``, ``Trigger`` — whose ``triggerConfig``
is a JSON *string* —, ``AsyncConfig``). API reference: https://help.aliyun.com/zh/functioncompute/fc-3-0/
developer-reference/api-fc-2023-03-30-getfunction (and the GetTrigger / ListTriggers /
GetAsyncInvokeConfig pages beside it). Error codes ``FunctionNotFound`` and ``TriggerNotFound`` (404) are the
documented ones; ⚠ ``AsyncConfigNotExists`` for a function without an async config is assumed.
Signatures are checked (``openapi_standin``), so a real client with a wrong key fails here as it would there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from acrsync.local.openapi_standin import ApiError, OpenApiStandin

API_VERSION = "2023-03-30"
_ROUTE = re.compile(r"^/2023-03-30/functions/([^/]+)(?:/(triggers|async-invoke-config)(?:/([^/]+))?)?\Z")


@dataclass
class FcState:
    """What FC holds: functions (GetFunction bodies), their triggers and async configs, by function name."""

    functions: dict[str, dict[str, Any]] = field(default_factory=dict)
    triggers: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    async_configs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def route(
        self, method: str, path: str, params: Mapping[str, str], headers: Message, body: bytes
    ) -> dict[str, Any]:
        """Answer one request (the stand-in's router)."""
        if headers.get("x-acs-version") != API_VERSION:
            raise ApiError("InvalidArgument", f"unsupported API version {headers.get('x-acs-version')!r}")
        match = _ROUTE.match(path)
        if method != "GET" or match is None:
            raise ApiError("MethodNotAllowed", f"{method} {path} is not served here", http_status=405)
        name, kind, trigger = match.groups()
        function = self.functions.get(name)
        if function is None:
            raise ApiError("FunctionNotFound", f"function '{name}' does not exist", http_status=404)
        if kind is None:
            return dict(function)
        if kind == "async-invoke-config":
            config = self.async_configs.get(name)
            if config is None:  # ⚠ code assumed (see the module docstring)
                raise ApiError(
                    "AsyncConfigNotExists", f"async config of '{name}' does not exist", http_status=404
                )
            return dict(config)
        triggers = self.triggers.get(name, {})
        if trigger is None:
            return {"triggers": list(triggers.values()), "nextToken": ""}
        if trigger not in triggers:
            raise ApiError("TriggerNotFound", f"trigger '{trigger}' does not exist", http_status=404)
        return dict(triggers[trigger])


def fc_standin(state: FcState) -> OpenApiStandin:
    """A stand-in serving ``state`` (start it, or use it as a context manager)."""
    return OpenApiStandin(state.route, name="fc")
