"""A loopback ACR OpenAPI (2018-12-01) server that the real ``alibabacloud-cr20181201`` client talks to.

Wire format (reference §2.1, [SDK] ``alibabacloud_tea_openapi/client.py::do_request``): RPC style, ``POST /``
(``GetRepoTag`` is ``GET``), every parameter in the query string, empty body, ``x-acs-action`` and
``x-acs-version: 2018-12-01`` headers, ``Authorization: ACS3-HMAC-SHA256 Credential=..,SignedHeaders=..,
Signature=..`` verified here against configured key pairs (``acr_signing``). Errors are JSON
``{"RequestId","HostId","Code","Message","Recommend"}`` with the HTTP status (reference §2.2).

    with AcrEmulator(model) as emu:
        client = build_acr_client("cn-hangzhou", endpoint=emu.url, access_key_id=emu.access_key_id, ...)
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from acrsync.local import acr_actions
from acrsync.local.acr_accounts import AccountBook
from acrsync.local.acr_faults import DROP
from acrsync.local.acr_model import AcrApiError, AcrModel
from acrsync.local.acr_signing import KeyedStandin, KeyStore, verify_request
from acrsync.local.loopback import LoopbackHandler, LoopbackHTTPServer, LoopbackServer
from acrsync.logging import get_logger

log = get_logger(__name__)

API_VERSION = "2018-12-01"
DEFAULT_ACCESS_KEY_ID = "LTAI5tEmulatorKey00000000"
DEFAULT_ACCESS_KEY_SECRET = "emulator-secret-do-not-use-anywhere"


class _Server(LoopbackHTTPServer):
    emulator: AcrEmulator  # LoopbackServer.start sets it (owner_attribute)


class AcrEmulator(KeyedStandin, LoopbackServer):
    """The HTTP server over an ``AcrModel``; swap ``model`` between tests (one server per session)."""

    server_class = _Server
    owner_attribute = "emulator"
    server_name = "acr-emulator"

    def __init__(
        self,
        model: AcrModel | None = None,
        *,
        credentials: Mapping[str, str] | None = None,
        sts_credentials: Mapping[str, tuple[str, str]] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.model = model or AcrModel()
        self.keys = KeyStore(
            dict(credentials or {DEFAULT_ACCESS_KEY_ID: DEFAULT_ACCESS_KEY_SECRET}),
            dict(sts_credentials or {}),
        )
        self.accounts = AccountBook()  # cross-account ownership; empty = one account (acr_accounts)
        super().__init__(host=host, port=port)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        """The ACR OpenAPI handler."""
        return _Handler

    def start(self) -> AcrEmulator:
        """Bind (port 0 = any free port) and serve in a daemon thread."""
        super().start()
        log.debug("acr_emulator_started", endpoint=self.endpoint)
        return self


class _Handler(LoopbackHandler):
    server: _Server

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        emulator = self.server.emulator
        model = emulator.model
        request_id = str(uuid.uuid4()).upper()
        body = self.read_body()
        split = urlsplit(self.path)
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        action = self.headers.get("x-acs-action", "")
        fault = model.faults.draw(action)
        if model.faults.latency_s:
            time.sleep(model.faults.latency_s)
        try:
            if fault is not None and fault.kind == DROP:
                model.record(action, params, "dropped", method=self.command, status=0)
                self.close_connection = True  # no response at all: the client sees the connection die
                return
            if fault is not None:
                raise fault.as_error()
            self._check_envelope(split.path, action)
            caller = verify_request(
                emulator.keys,
                method=self.command,
                path=split.path,
                params=params,
                headers=self.headers,
                body=body,
            )
            emulator.accounts.check(caller, params, home=model.account_id)
            result = acr_actions.dispatch(model, action, params)
        except AcrApiError as err:
            model.record(action, params, err.code, method=self.command, status=err.http_status)
            retry_after = fault.retry_after_ms if fault is not None else None
            self._send_error(err, request_id, retry_after)
            return
        model.record(action, params, "ok", method=self.command)
        self._send(200, {**result, "RequestId": request_id}, request_id)

    def _check_envelope(self, path: str, action: str) -> None:
        if path != "/" or not acr_actions.is_known(action):
            raise AcrApiError(
                "InvalidAction.NotFound",
                "Specified api is not found, please check your url and method.",
                http_status=404,
            )
        if self.headers.get("x-acs-version") != API_VERSION:
            raise AcrApiError("InvalidVersion", "Specified parameter Version is not valid.")  # ⚠ code assumed

    def _send_error(self, err: AcrApiError, request_id: str, retry_after_ms: int | None) -> None:
        if err.http_status == 200:
            # ⚠ UNVERIFIED business-error shape (reference §2.2): HTTP 200, IsSuccess=false, Code in the body.
            self._send(
                200,
                {"Code": err.code, "Message": err.message, "IsSuccess": False, "RequestId": request_id},
                request_id,
            )
            return
        doc = {
            "RequestId": request_id,
            "HostId": self.headers.get("host", ""),
            "Code": err.code,
            "Message": err.message,
            "Recommend": f"https://api.aliyun.com/troubleshoot?q={err.code}&product=cr&requestId={request_id}",
        }
        extra = {"x-acs-retry-after": str(retry_after_ms)} if retry_after_ms else {}
        self._send(err.http_status, doc, request_id, extra)

    def _send(
        self, status: int, doc: dict[str, Any], request_id: str, extra: Mapping[str, str] | None = None
    ) -> None:
        payload = json.dumps(doc, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-acs-request-id", request_id)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
