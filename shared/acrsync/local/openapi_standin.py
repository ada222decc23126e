"""A loopback HTTP server for tea-openapi SDK clients: the transport the FC and EventBridge stand-ins share.

Every ``alibabacloud-*`` client built on ``alibabacloud-tea-openapi`` 0.4.x sends its calls through
``Client.do_request`` ([SDK] ``alibabacloud_tea_openapi/client.py``): ROA and RPC alike carry
``x-acs-action``, ``x-acs-version``, ``x-acs-date``, ``x-acs-signature-nonce``, ``x-acs-content-sha256``
and an ``Authorization: ACS3-HMAC-SHA256 ...`` header over the method, path, query and signed
headers.
So the check is the ACR emulator's (``acr_signing.verify_request``); what differs per API is the routing,
which each stand-in supplies as ``route(method, path, params, headers, body) -> dict``. Errors are JSON
``{"Code","Message","RequestId"}`` with the HTTP status: the SDK reads ``Code``/``code`` and
``Message``/``message`` from any JSON error body (``do_request``, status >= 400).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from acrsync.local.acr_signing import KeyedStandin, KeyStore, verify_request
from acrsync.local.acr_state import AcrApiError
from acrsync.local.loopback import LoopbackHandler, LoopbackHTTPServer, LoopbackServer

ApiError = AcrApiError  # the same shape (code, message, http_status) for every stand-in
DEFAULT_ACCESS_KEY_ID = "LTAI5tStandinKey000000000"
DEFAULT_ACCESS_KEY_SECRET = "standin-secret-do-not-use-anywhere"


@dataclass(frozen=True)
class RawReply:
    """An answer that is not a JSON document: a status and the bytes as they are (``InvokeFunction``: an
    async call is ``202`` with an empty body, a sync one the function's own result)."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


class Router(Protocol):
    """What a stand-in answers: a JSON document (HTTP 200), a ``RawReply``, or an ``ApiError``."""

    def __call__(
        self, method: str, path: str, params: Mapping[str, str], headers: Message, body: bytes
    ) -> dict[str, Any] | RawReply: ...


class _Server(LoopbackHTTPServer):
    standin: OpenApiStandin  # LoopbackServer.start sets it (owner_attribute)


class OpenApiStandin(KeyedStandin, LoopbackServer):
    """Serve ``router`` on 127.0.0.1 with signatures checked; ``with OpenApiStandin(...) as s: s.url``."""

    server_class = _Server
    owner_attribute = "standin"

    def __init__(
        self,
        router: Router,
        *,
        name: str,
        credentials: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        self.router = router
        self.name = name
        self.server_name = f"{name} stand-in"
        self.keys = KeyStore(dict(credentials or {DEFAULT_ACCESS_KEY_ID: DEFAULT_ACCESS_KEY_SECRET}))
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status) of every request
        self._on_stop = on_stop  # e.g. wait for the work the API handed to background threads
        super().__init__(host=host, port=port)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        """The signature-checking handler."""
        return _Handler

    def stop(self) -> None:
        """Let ``on_stop`` finish, then shut the server down."""
        if self._on_stop is not None:
            self._on_stop()
        super().stop()


class _Handler(LoopbackHandler):
    server: _Server

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        standin = self.server.standin
        request_id = str(uuid.uuid4()).upper()
        body = self.read_body()
        split = urlsplit(self.path)
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        try:
            verify_request(
                standin.keys,
                method=self.command,
                path=split.path,
                params=params,
                headers=self.headers,
                body=body,
            )
            doc = standin.router(self.command, split.path, params, self.headers, body)
        except ApiError as err:
            standin.requests.append((self.command, split.path, err.http_status))
            self._send(err.http_status, {"Code": err.code, "Message": err.message, "RequestId": request_id})
            return
        if isinstance(doc, RawReply):
            standin.requests.append((self.command, split.path, doc.status))
            self._send_raw(doc)
            return
        standin.requests.append((self.command, split.path, 200))
        self._send(200, {**doc, "RequestId": doc.get("RequestId", request_id)})

    def _send(self, status: int, doc: dict[str, Any]) -> None:
        payload = json.dumps(doc, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-acs-request-id", str(doc.get("RequestId", "")))
        self.end_headers()
        self.wfile.write(payload)

    def _send_raw(self, reply: RawReply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)
