"""The lifecycle every loopback stand-in shares: bind 127.0.0.1, serve on a daemon thread, shut down cleanly.

A stand-in subclasses ``LoopbackServer`` and returns its request handler class from ``handler()``; a
handler reaches the stand-in as ``self.server.owner``, or through the name in ``owner_attribute``
(``self.server.emulator``, declared on the stand-in's ``server_class``). Then ``with Standin(...) as s:``
(or ``s.start()`` ... ``s.stop()``); ``s.endpoint`` is ``127.0.0.1:PORT``, ``s.url``
``http://127.0.0.1:PORT``. After ``stop()`` a ``start()`` binds the same port again (senders see
connection refused in between, then the service is back): how the DingTalk sink's ``down()``/``up()``
simulates an outage.
"""

from __future__ import annotations

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TypeVar

_S = TypeVar("_S", bound="LoopbackServer")


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server whose handlers find their stand-in as ``self.server.owner``."""

    daemon_threads = True  # a handler stuck on a keep-alive connection never holds the process up
    allow_reuse_address = True  # rebinding the same port right after stop() (TIME_WAIT) must work
    owner: Any


class LoopbackHandler(BaseHTTPRequestHandler):
    """What every stand-in's request handler shares.

    HTTP/1.1 keep-alive, as the SDKs' pooled sessions expect; no Nagle, because headers and body go out in
    separate writes and the client's delayed ACK would add ~40 ms to each request on loopback; and no
    per-request stderr line (each stand-in keeps its own request log, and a DingTalk request line carries
    the robot's token and sign)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silent."""

    def read_body(self) -> bytes:
        """The request body, by its ``Content-Length`` (none: empty)."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""


class LoopbackServer:
    """``start() -> self``, ``stop()``, a context manager, and ``port``/``endpoint``/``url``."""

    server_class: type[LoopbackHTTPServer] = LoopbackHTTPServer
    owner_attribute = ""  # also set the stand-in as this attribute of the server (its handlers' name)
    server_name = "loopback stand-in"  # in the thread's name and in "... not started"
    # shutdown() waits for the serving loop's next poll: a short interval keeps every teardown fast.
    poll_interval = 0.05

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host, self._port = host, port
        self._scheme = "http"
        self._server: LoopbackHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def tls_context(self) -> ssl.SSLContext | None:
        """A server-side TLS context to wrap the socket in (None: plain HTTP)."""
        return None

    def handler(self) -> type[BaseHTTPRequestHandler]:
        """The request handler class to serve with (each stand-in names its own)."""
        raise NotImplementedError

    @property
    def port(self) -> int:
        """The bound port (0 before the first ``start()``; kept after ``stop()`` for the next start)."""
        return self._port

    @property
    def endpoint(self) -> str:
        """``127.0.0.1:PORT``: what SDK configs take as their endpoint (with the protocol apart)."""
        return self._hostport()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https://`` when serving TLS)."""
        return f"{self._scheme}://{self._hostport()}"

    def _hostport(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{self.server_name} not started")
        return f"{self._host}:{self._port}"

    def start(self: _S) -> _S:
        """Bind (port 0 = any free port, then the same one on a restart) and serve in a daemon thread."""
        if self._server is not None:
            return self
        server = self.server_class((self._host, self._port), self.handler())
        context = self.tls_context()
        if context is not None:
            server.socket = context.wrap_socket(server.socket, server_side=True)
            self._scheme = "https"
        server.owner = self
        if self.owner_attribute:
            setattr(server, self.owner_attribute, self)
        self._port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(self.poll_interval,), name=self.server_name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut the server down, close its socket and wait for the serving thread."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self: _S) -> _S:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
