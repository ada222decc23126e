"""The registry client against a hostile registry: what it names (Location, Link, token realm, tokens) is
followed only as far as it is safe, credentials never leave the registry's origin, every refusal is precise.

Two loopback servers: the "registry" (scripted per test) and a "third party" on another port (another
origin) that records what it is sent. Nothing here is a stand-in of a real API: it is the attacker.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from acrsync.adapters.oci_http import RegistryCredentials
from acrsync.adapters.oci_registry import HttpRegistryClient
from acrsync.adapters.oci_urls import origin
from acrsync.errors import UpstreamRejected, UpstreamUnavailable

pytestmark = pytest.mark.loopback
USER, PASSWORD = "robot", "pw-Planted-9f8e7d6c"
TOKEN = "tok-Planted-5a4b3c2d"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

# (status, headers, body) for (method, path); the handler looks up the path without its query.
Script = Callable[[str, str, dict[str, str]], tuple[int, dict[str, str], bytes]]


class _Server:
    def __init__(self, script: Script) -> None:
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                outer.seen.append((self.command, self.path, headers))
                status, out, body = outer.script(self.command, self.path, headers)
                self.send_response(status)
                for k, v in {"Content-Length": str(len(body)), **out}.items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _any

            def log_message(self, *_args: object) -> None:
                pass

        self.script = script
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def secrets_seen(self) -> list[str]:
        """Every header value that carried a credential or the registry's token."""
        return [
            v
            for _m, _p, h in self.seen
            for v in h.values()
            if PASSWORD in v or TOKEN in v or BASIC.split()[1] in v
        ]


@pytest.fixture
def third() -> Iterator[_Server]:
    server = _Server(lambda _m, _p, _h: (201, {"Docker-Content-Digest": "sha256:" + "0" * 64}, b""))
    yield server
    server.close()


@contextmanager
def _registry(script: Script) -> Iterator[_Server]:
    server = _Server(script)
    try:
        yield server
    finally:
        server.close()


def _basic_then(script: Script) -> Script:
    """A registry with Basic auth (as Harbor can be): 401 until the credentials come."""

    def run(method: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if headers.get("authorization") != BASIC:
            return 401, {"WWW-Authenticate": 'Basic realm="registry"'}, b""
        return script(method, path, headers)

    return run


@contextmanager
def _client(url: str) -> Iterator[HttpRegistryClient]:
    client = HttpRegistryClient(url, credentials=RegistryCredentials(USER, PASSWORD), sleep=lambda _s: None)
    try:
        yield client
    finally:
        client.close()


def test_given_an_upload_location_on_another_host_when_a_blob_is_pushed_then_it_gets_no_credentials(
    third: _Server,
) -> None:
    def script(method: str, path: str, _h: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        return 202, {"Location": f"{third.url}/upload/1"}, b""

    with _registry(_basic_then(script)) as registry:
        data = b"layer"
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        with _client(registry.url) as client:
            client.upload_blob("dr/web", digest, len(data), iter([data]))
        assert [m for m, _p, _h in third.seen] == ["PUT"]  # the upload went there, as the registry said
        assert third.secrets_seen() == []  # ...but not the registry's password
        assert "authorization" not in third.seen[0][2]


def test_given_a_tag_page_link_to_another_host_when_tags_are_listed_then_no_token_goes_there(
    third: _Server,
) -> None:
    def script(method: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if path.startswith("/token"):
            return 200, {}, json.dumps({"token": TOKEN}).encode()
        if headers.get("authorization") != f"Bearer {TOKEN}":
            realm = f'Bearer realm="{registry_url[0]}/token",service="reg"'
            return 401, {"WWW-Authenticate": realm}, b""
        link = f'<{third.url}/v2/dr/web/tags/list?n=1&last=a>; rel="next"'
        return 200, {"Link": link}, json.dumps({"tags": ["a"]}).encode()

    registry_url: list[str] = []
    third.script = lambda _m, _p, _h: (200, {}, json.dumps({"tags": ["b"]}).encode())
    with _registry(script) as registry:
        registry_url.append(registry.url)
        with _client(registry.url) as client:
            assert list(client.list_tags("dr/web", page_size=1)) == ["a", "b"]
        assert len(third.seen) == 1
        assert third.secrets_seen() == []


def test_given_a_realm_that_is_not_http_when_a_token_is_needed_then_refused_and_nothing_sent(
    third: _Server,
) -> None:
    for realm in (third.url.replace("http://", "ftp://"), f"http://{USER}:x@{third.url[7:]}/token"):

        def script(
            method: str, path: str, _h: dict[str, str], realm: str = realm
        ) -> tuple[int, dict[str, str], bytes]:
            return 401, {"WWW-Authenticate": f'Bearer realm="{realm}",service="reg"'}, b""

        with _registry(script) as registry:
            with pytest.raises(UpstreamRejected) as caught, _client(registry.url) as client:
                client.get_manifest("dr/web", "v1")
            assert PASSWORD not in str(caught.value)
    assert third.seen == []


@pytest.mark.parametrize(
    "token",
    ["tok\r\nX-Evil: 1", "tok en", {"nested": "x"}, "t" * 20000],
    ids=["crlf", "space", "dict", "huge"],
)
def test_given_a_token_that_cannot_be_a_header_when_fetched_then_a_precise_refusal(token: object) -> None:
    def script(method: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if path.startswith("/token"):
            return 200, {}, json.dumps({"token": token}).encode()
        return 401, {"WWW-Authenticate": f'Bearer realm="{reg_url[0]}/token",service="reg"'}, b""

    reg_url: list[str] = []
    with _registry(script) as registry:
        reg_url.append(registry.url)
        refused = pytest.raises(UpstreamRejected, match="not a bearer token")
        with refused as caught, _client(registry.url) as client:
            client.get_manifest("dr/web", "v1")
        assert "tok" not in str(caught.value).replace("token", "")


@pytest.mark.parametrize(
    "location",
    [
        "http://[::1/upload",
        "http://127.0.0.1:99999/upload",
        "http://127.0.0.1:port/upload",
        f"http://{USER}:{PASSWORD}@127.0.0.1:1/upload",
        "file:///etc/passwd",
        "/upload/a b",
    ],
    ids=["bad-ipv6", "port-range", "port-text", "userinfo", "file", "space"],
)
def test_given_a_malformed_upload_location_when_a_blob_is_pushed_then_a_precise_refusal(
    location: str,
) -> None:
    def script(method: str, path: str, _h: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        return 202, {"Location": location}, b""

    with _registry(script) as registry:
        data = b"layer"
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        with pytest.raises(UpstreamRejected) as caught, _client(registry.url) as client:
            client.upload_blob("dr/web", digest, len(data), iter([data]))
        assert PASSWORD not in str(caught.value)


def test_given_garbage_content_length_and_retry_after_when_read_then_no_crash() -> None:
    calls: list[str] = []

    def script(method: str, path: str, _h: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        calls.append(method)
        if len(calls) == 1:  # a throttle asking to wait "nan" seconds: time.sleep(nan) would raise
            return 429, {"Retry-After": "nan"}, b""
        return 200, {"Content-Length": "12abc"}, b""

    slept: list[float] = []
    with _registry(script) as registry:
        client = HttpRegistryClient(registry.url, sleep=slept.append)
        try:
            assert client.blob_size("dr/web", "sha256:" + "a" * 64) == 0  # present, size unknown
        finally:
            client.close()
    assert calls == ["HEAD", "HEAD"]
    assert slept == [0.5]  # the default backoff, not NaN


def test_given_a_registry_without_digest_headers_when_a_tag_is_checked_then_its_digest_is_read() -> None:
    body = json.dumps(
        {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}
    )
    digest = "sha256:" + hashlib.sha256(body.encode()).hexdigest()

    def script(method: str, path: str, _h: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        # an older registry: 200 with the manifest, and no Docker-Content-Digest header at all
        return 200, {"Content-Type": "application/vnd.oci.image.index.v1+json"}, body.encode()

    with _registry(script) as registry, _client(registry.url) as client:
        assert client.head_manifest("dr/web", "v1") == digest
        assert client.head_manifest("dr/web", digest) == digest


def test_given_a_tag_page_that_links_to_itself_when_tags_are_listed_then_it_stops_precisely() -> None:
    pages: list[str] = []

    def script(method: str, path: str, _h: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        pages.append(path)
        return (
            200,
            {"Link": '</v2/dr/web/tags/list?n=1&last=a>; rel="next"'},
            json.dumps({"tags": ["a"]}).encode(),
        )

    endless = pytest.raises(UpstreamUnavailable, match="pages do not end")
    with _registry(script) as registry, _client(registry.url) as client, endless:
        list(client.list_tags("dr/web", page_size=1))
    assert len(pages) == 2  # the first page and the one it links to, once


def test_given_the_registry_origin_spelled_another_way_then_it_is_the_same_origin() -> None:
    # Location/Link URLs naming the registry with its default port or another case still get credentials
    base = "https://registry.example.com"
    for same in ("https://Registry.Example.com:443/v2/x", "HTTPS://registry.example.com/v2/"):
        assert origin(same) == origin(base)
    for other in (
        "https://registry.example.com:5000/",
        "http://registry.example.com/",
        "https://evil.example/",
    ):
        assert origin(other) != origin(base)


def test_given_an_upload_location_with_the_scheme_in_capitals_then_it_is_still_authorised() -> None:
    def script(method: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if method == "POST":
            return 202, {"Location": reg_url[0].replace("http://", "HTTP://") + "/upload/1"}, b""
        return 201, {}, b""

    reg_url: list[str] = []
    with _registry(_basic_then(script)) as registry, _client(registry.url) as client:
        reg_url.append(registry.url)
        data = b"layer"
        client.upload_blob("dr/web", "sha256:" + hashlib.sha256(data).hexdigest(), len(data), iter([data]))
        put = [h for m, _p, h in registry.seen if m == "PUT"]
        assert put
        assert put[-1].get("authorization") == BASIC


@pytest.mark.parametrize(
    "code",
    ["[log in again](https://evil.example/harbor)", "DENIED\n### urgent", "x" * 5000],
    ids=["link", "nl", "huge"],
)
def test_given_an_error_code_that_is_free_text_when_refused_then_it_is_not_repeated(code: str) -> None:
    def script(method: str, path: str, _h: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        return 403, {}, json.dumps({"errors": [{"code": code, "message": "m"}]}).encode()

    refused = pytest.raises(UpstreamRejected)
    with _registry(script) as registry, _client(registry.url) as client, refused as caught:
        client.get_manifest("dr/web", "v1")
    assert "HTTP 403" in str(caught.value)
    assert code[:20] not in str(caught.value)
    assert caught.value.code == "DENIED"


def test_given_a_spec_error_code_when_refused_then_it_is_named() -> None:
    def script(method: str, path: str, _h: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        return 400, {}, json.dumps({"errors": [{"code": "MANIFEST_INVALID", "message": "m"}]}).encode()

    refused = pytest.raises(UpstreamRejected, match="HTTP 400 MANIFEST_INVALID")
    with _registry(script) as registry, _client(registry.url) as client, refused:
        client.get_manifest("dr/web", "v1")
