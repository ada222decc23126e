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

InvokeFunction ([SDK] ``invoke_function_with_options``: ``POST /2023-03-30/functions/{functionName}/
invocations[?qualifier=]``, the event as the raw body, headers ``x-fc-invocation-type: Sync|Async``
[, ``x-fc-async-task-id``, ``x-fc-log-type``], ``body_type='binary'``; API reference .../developer-reference/
api-fc-2023-03-30-invokefunction): an ``Async`` call is answered ``202`` with an empty body at once and the
event goes to ``run`` on a thread (what FC's async queue does); a ``Sync`` one runs inline and answers 200
with the result. Every accepted call is kept in ``invocations``.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import unquote

from acrsync.local.openapi_standin import ApiError, OpenApiStandin, RawReply

API_VERSION = "2023-03-30"
_ROUTE = re.compile(r"^/2023-03-30/functions/([^/]+)(?:/(triggers|async-invoke-config)(?:/([^/]+))?)?\Z")
_INVOKE = re.compile(r"^/2023-03-30/functions/([^/]+)/invocations\Z")


@dataclass(frozen=True)
class Invocation:
    """One accepted InvokeFunction call."""

    function: str
    invocation_type: str
    qualifier: str
    body: bytes


@dataclass
class FcState:
    """What FC holds: functions (GetFunction bodies), their triggers and async configs, by function name."""

    functions: dict[str, dict[str, Any]] = field(default_factory=dict)
    triggers: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    async_configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    # InvokeFunction: what the function does with (name, event); its return value is a sync call's answer.
    run: Callable[[str, bytes], Any] | None = None
    invocations: list[Invocation] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)

    def route(
        self, method: str, path: str, params: Mapping[str, str], headers: Message, body: bytes
    ) -> dict[str, Any] | RawReply:
        """Answer one request (the stand-in's router)."""
        if headers.get("x-acs-version") != API_VERSION:
            raise ApiError("InvalidArgument", f"unsupported API version {headers.get('x-acs-version')!r}")
        invoke = _INVOKE.match(path)
        if method == "POST" and invoke is not None:
            return self.invoke(unquote(invoke.group(1)), params, headers, body)
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

    def invoke(self, name: str, params: Mapping[str, str], headers: Message, body: bytes) -> RawReply:
        """InvokeFunction: 202 and ``run`` on a thread when ``Async``, else ``run`` inline and 200."""
        if name not in self.functions:
            raise ApiError("FunctionNotFound", f"function '{name}' does not exist", http_status=404)
        kind = headers.get("x-fc-invocation-type", "Sync")
        self.invocations.append(Invocation(name, kind, params.get("qualifier", ""), body))
        reply_headers = {"x-fc-request-id": str(uuid.uuid4())}
        run = self.run
        if kind == "Async":
            if run is not None:
                thread = threading.Thread(target=lambda: run(name, body), daemon=True)
                self.threads.append(thread)
                thread.start()
            return RawReply(202, b"", reply_headers)
        result = run(name, body) if run is not None else {}
        data = result if isinstance(result, bytes) else json.dumps(result).encode()
        return RawReply(200, data, {**reply_headers, "Content-Type": "application/json"})

    def settle(self, timeout: float = 60) -> None:
        """Wait for the async invocations still running (so a test sees what they did)."""
        for thread in self.threads:
            thread.join(timeout=timeout)


def fc_standin(state: FcState, *, credentials: Mapping[str, str] | None = None) -> OpenApiStandin:
    """A stand-in serving ``state`` (start it, or use it as a context manager); stopping it first lets the
    async invocations finish."""
    return OpenApiStandin(state.route, name="fc", credentials=credentials, on_stop=state.settle)
