"""LoopbackServer: the start/stop lifecycle every stand-in shares, over a real socket on 127.0.0.1."""

from __future__ import annotations

import http.client
from http.server import BaseHTTPRequestHandler

import pytest

from acrsync.local.loopback import LoopbackHTTPServer, LoopbackServer

pytestmark = pytest.mark.loopback


class _Server(LoopbackHTTPServer):
    echo: Echo


class Echo(LoopbackServer):
    """Answers ``GET /`` with its ``word`` (found through ``owner_attribute``)."""

    server_class = _Server
    server_name = "echo stand-in"
    owner_attribute = "echo"

    def __init__(self, word: str) -> None:
        self.word = word
        super().__init__()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _Handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        body = self.server.echo.word.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def get(endpoint: str) -> bytes:
    conn = http.client.HTTPConnection(endpoint, timeout=5)
    try:
        conn.request("GET", "/")
        return conn.getresponse().read()
    finally:
        conn.close()


def test_given_a_started_server_then_it_answers_on_its_endpoint_and_url() -> None:
    with Echo("hello") as echo:
        assert echo.port > 0
        assert echo.endpoint == f"127.0.0.1:{echo.port}"
        assert echo.url == f"http://127.0.0.1:{echo.port}"
        assert get(echo.endpoint) == b"hello"


def test_given_a_server_not_started_when_its_endpoint_is_asked_then_the_error_names_it() -> None:
    echo = Echo("x")
    assert echo.port == 0
    with pytest.raises(RuntimeError, match="echo stand-in not started"):
        _ = echo.url


def test_given_a_stopped_server_when_started_again_then_it_serves_on_the_same_port() -> None:
    echo = Echo("again").start()
    try:
        port = echo.port
        echo.stop()
        with pytest.raises(ConnectionRefusedError):
            get(f"127.0.0.1:{port}")
        assert echo.start() is echo
        assert echo.port == port
        assert get(echo.endpoint) == b"again"
    finally:
        echo.stop()
