"""A loopback FC 3.0 ``InvokeFunction`` endpoint for the real ``alibabacloud-fc20230330`` client.

Wire format ([SDK] ``alibabacloud_fc20230330/client.py::invoke_function_with_options``): ROA,
``POST /2023-03-30/functions/{functionName}/invocations[?qualifier=]``, the event as the raw body,
``x-fc-invocation-type: Sync|Async``, signed ACS3-HMAC-SHA256 like every tea-openapi request (checked here
with the ACR emulator's verifier). An async invocation is answered ``202`` at once and the event is handed
to ``run`` on a thread (what FC's async queue does); a sync one runs inline and answers 200 with the result.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from acrsync.local.acr_signing import KeyStore, verify_request
from acrsync.local.acr_state import AcrApiError

_PATH = re.compile(r"^/2023-03-30/functions/(?P<name>[^/]+)/invocations\Z")


@dataclass(frozen=True)
class Invocation:
    """One accepted invocation."""

    function: str
    invocation_type: str
    qualifier: str
    body: bytes


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    standin: FcInvokeStandin


class FcInvokeStandin:
    """``with FcInvokeStandin({AK: SK}, run=...) as fc:`` then point the SDK at ``fc.endpoint`` over http."""

    def __init__(self, keys: dict[str, str], *, run: Callable[[str, bytes], Any] | None = None) -> None:
        self.keys = KeyStore(dict(keys))
        self.run = run
        self.invocations: list[Invocation] = []
        self.threads: list[threading.Thread] = []
        self._server: _Server | None = None

    @property
    def endpoint(self) -> str:
        """``127.0.0.1:PORT``."""
        if self._server is None:
            raise RuntimeError("FC stand-in not started")
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def __enter__(self) -> FcInvokeStandin:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.standin = self
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for thread in self.threads:
            thread.join(timeout=60)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        standin = self.server.standin
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        split = urlsplit(self.path)
        m = _PATH.match(split.path)
        try:
            if m is None:
                raise AcrApiError("NotFound", f"no route {split.path}", http_status=404)
            params = dict(parse_qsl(split.query, keep_blank_values=True))
            verify_request(
                standin.keys, method="POST", path=split.path, params=params, headers=self.headers, body=body
            )
        except AcrApiError as err:
            self._reply(
                err.http_status if err.http_status != 200 else 403, {"Code": err.code, "Message": str(err)}
            )
            return
        name = unquote(m.group("name"))
        kind = self.headers.get("x-fc-invocation-type", "Sync")
        standin.invocations.append(Invocation(name, kind, params.get("qualifier", ""), body))
        if kind == "Async":
            if standin.run is not None:
                run = standin.run
                thread = threading.Thread(target=lambda: run(name, body), daemon=True)
                standin.threads.append(thread)
                thread.start()
            self._reply(202, None)
            return
        result = standin.run(name, body) if standin.run is not None else {}
        self._reply(200, result)

    def _reply(self, status: int, doc: object) -> None:
        data = b"" if doc is None else json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("x-fc-request-id", str(uuid.uuid4()))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
