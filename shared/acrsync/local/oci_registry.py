"""A loopback OCI distribution-spec v1.1 registry (the stand-in for Harbor, Docker Hub, ACR's registry).

Endpoints as the spec's table names them (https://github.com/opencontainers/distribution-spec/blob/v1.1.0/
spec.md#endpoints): end-1 ``GET /v2/``; end-2 ``GET|HEAD blobs/<digest>``; end-3 ``GET|HEAD
manifests/<ref>``; end-4a/4b ``POST blobs/uploads/`` (with ``?digest=`` a monolithic single POST); end-5
``PATCH`` a chunk (``Content-Range``, must follow on, else 416); end-6 ``PUT ...?digest=`` commits; end-7
``PUT manifests/<ref>``; end-8a/8b ``GET tags/list?n=&last=`` with a ``Link: <..>; rel="next"`` header;
end-9 ``DELETE manifests/<digest>``; end-11 ``POST blobs/uploads/?mount=&from=`` (201, or 202 and an upload
when the blob cannot be mounted); end-12a/b ``GET referrers/<digest>[?artifactType=]``; end-13 upload status.

Auth (``auth=``): ``"token"`` answers 401 with ``WWW-Authenticate: Bearer realm=".../token",
service="oci-standin",scope="repository:<name>:<actions>"`` and serves ``GET /token`` per the Docker token
spec (Basic credentials, one or more ``scope`` params, JSON ``{token, access_token, expires_in}``) — how
Docker Hub, Harbor and ACR do it; ``"basic"`` answers ``WWW-Authenticate: Basic realm=..``; ``"none"``.
A token grants only the scopes its user may have (``grants``), so a mount from a repository the token
cannot pull falls back to an upload, as in distribution. Faults (``state.faults``) answer a status or drop
the connection; every request is logged (``state.log``).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from acrsync.local.loopback import LoopbackHandler, LoopbackHTTPServer, LoopbackServer
from acrsync.local.oci_handlers import route
from acrsync.local.oci_store import DROP, RegistryError, RegistryState

SERVICE = "oci-standin"
_REPO_IN_PATH = re.compile(r"^/v2/(?P<name>.+?)/(?:blobs|manifests|tags|referrers)/")


class _Server(LoopbackHTTPServer):
    registry: OciRegistry  # LoopbackServer.start sets it (owner_attribute)

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up mid-body (an aborted streamed upload) is expected, not news."""


class OciRegistry(LoopbackServer):
    """``with OciRegistry(users={"alice": "pw"}) as reg:`` then ``reg.url``; stops and cleans up on exit."""

    server_class = _Server
    owner_attribute = "registry"
    server_name = "registry stand-in"

    def __init__(
        self,
        *,
        users: Mapping[str, str] | None = None,
        auth: str = "token",
        anonymous_pull: bool = False,
        grants: Mapping[str, str] | None = None,
        projects: set[str] | None = None,
        token_ttl_s: int = 300,
    ) -> None:
        if auth not in ("token", "basic", "none"):
            raise ValueError("auth must be token, basic or none")
        self.users = dict(users or {})
        self.auth = auth
        self.anonymous_pull = anonymous_pull
        self.grants = dict(grants or {})  # user -> regex of repositories they may push (default: all)
        self.token_ttl_s = token_ttl_s
        self.state = RegistryState(projects=projects)
        self.tokens: dict[str, tuple[frozenset[tuple[str, str]], float]] = {}
        # Called with (repository, tag, digest) after a tagged manifest PUT: how a registry's push
        # notifications (ACR's push event, Harbor's webhook) are emulated.
        self.on_push: list[Callable[[str, str, str], None]] = []
        # Called with (repository, digest) after a manifest DELETE removed it (and the tags naming it).
        self.on_delete: list[Callable[[str, str], None]] = []
        super().__init__()

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``."""
        return self.endpoint

    def handler(self) -> type[BaseHTTPRequestHandler]:
        """The distribution-spec handler."""
        return _Handler

    def stop(self) -> None:
        """Stop serving and delete the blob files."""
        super().stop()
        self.state.close()

    # -- auth -----------------------------------------------------------------------------------------
    def user_of(self, authorization: str) -> str | None:
        """The user a ``Basic`` header proves, or None."""
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return user if user in self.users and secrets.compare_digest(self.users[user], password) else None

    def allowed(self, user: str | None, repo: str, action: str) -> bool:
        """What a user may do: pull (any user; anyone if ``anonymous_pull``); push/delete per ``grants``."""
        if user is None:
            return action == "pull" and self.anonymous_pull
        rx = self.grants.get(user)
        return action == "pull" or rx is None or bool(re.fullmatch(rx, repo))

    def issue_token(self, user: str | None, scopes: list[str]) -> dict[str, object]:
        """Grant the requested actions the user may have (token spec: a subset, never an error)."""
        granted: set[tuple[str, str]] = set()
        for scope in scopes:
            parts = scope.split(":")
            if len(parts) != 3 or parts[0] != "repository":
                continue
            for action in parts[2].split(","):
                actions = ("pull", "push", "delete") if action == "*" else (action,)
                granted.update((parts[1], a) for a in actions if self.allowed(user, parts[1], a))
        token = secrets.token_urlsafe(24)
        self.tokens[token] = (frozenset(granted), time.monotonic() + self.token_ttl_s)
        return {"token": token, "access_token": token, "expires_in": self.token_ttl_s}

    def authorize(self, authorization: str, repo: str, action: str) -> bool:
        """Whether this request's credentials cover ``action`` on ``repo``."""
        if self.auth == "none":
            return True
        if self.auth == "basic":
            return self.allowed(self.user_of(authorization), repo, action)
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return not repo and action == "pull" and self.anonymous_pull
        grant = self.tokens.get(token)
        return grant is not None and grant[1] > time.monotonic() and (repo, action) in grant[0]

    def challenge(self, repo: str, action: str) -> str:
        """The ``WWW-Authenticate`` header of a 401."""
        if self.auth == "basic":
            return f'Basic realm="{SERVICE}"'
        actions = "pull" if action == "pull" else "pull,push"
        scope = f',scope="repository:{repo}:{actions}"' if repo else ""
        return f'Bearer realm="{self.url}/token",service="{SERVICE}"{scope}'


class _Handler(LoopbackHandler):
    server: _Server

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        reg = self.server.registry
        length = int(self.headers.get("Content-Length") or 0)
        fault = reg.state.take_fault(method, self.path)
        if fault is not None:
            self._fault(method, fault.status, length, fault.retry_after)
            return
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/token" and method == "GET":
            self._token(parse_qs(parts.query).get("scope", []))
            return
        m = _REPO_IN_PATH.match(parts.path)
        repo = m.group("name") if m else ""
        action = "pull" if method in ("GET", "HEAD") else "push"
        if method == "DELETE" and "/blobs/uploads/" not in parts.path:  # cancelling an upload is a push
            action = "delete"
        if not reg.authorize(self.headers.get("Authorization", ""), repo, action):
            self._drain(length)
            self._send(
                401,
                _errors("UNAUTHORIZED", "authentication required"),
                {"WWW-Authenticate": reg.challenge(repo, action)},
                method=method,
            )
            return
        self.body = _Body(self.rfile, length)
        try:
            status, headers, body = route(self, reg, method, parts.path, query, length=length)
        except RegistryError as exc:
            status, headers, body = exc.status, {}, _errors(exc.code, exc.message)
        self.body.drain()  # whatever a handler did not read, so the connection stays usable
        self._send(status, body, headers, method=method, bytes_in=length)

    def _token(self, scopes: list[str]) -> None:
        reg = self.server.registry
        authorization = self.headers.get("Authorization", "")
        user = reg.user_of(authorization)
        if authorization and user is None:
            self._send(401, _errors("UNAUTHORIZED", "bad credentials"), {}, method="GET")
            return
        if user is None and not reg.anonymous_pull:
            self._send(401, _errors("UNAUTHORIZED", "credentials required"), {}, method="GET")
            return
        self._send(
            200,
            json.dumps(reg.issue_token(user, scopes)).encode(),
            {},
            method="GET",
            content_type="application/json",
        )

    def _fault(self, method: str, status: int, length: int, retry_after: int | None) -> None:
        self._drain(length)
        self.server.registry.state.record(method, self.path, status, length)
        if status == DROP:
            self.close_connection = True  # no response at all: the client sees the connection die
            return
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        code = "TOOMANYREQUESTS" if status == 429 else "UNAVAILABLE"
        self._send(status, _errors(code, "injected fault"), headers, method=method, log=False)

    def _drain(self, length: int) -> None:
        left = length
        while left > 0:
            chunk = self.rfile.read(min(1 << 20, left))
            if not chunk:
                break
            left -= len(chunk)

    def _send(
        self,
        status: int,
        body: bytes | tuple[int, object],
        headers: Mapping[str, str],
        *,
        method: str,
        bytes_in: int = 0,
        log: bool = True,
        content_type: str = "",
    ) -> None:
        """Send a response; ``body`` may be ``(size, iterator)`` to stream a blob."""
        if log:
            self.server.registry.state.record(method, self.path, status, bytes_in)
        self.send_response(status)
        hdrs = dict(headers)
        if isinstance(body, bytes):
            hdrs.setdefault("Content-Length", str(len(body)))
            if body and not content_type and "Content-Type" not in hdrs:
                content_type = "application/json"
        if content_type:
            hdrs["Content-Type"] = content_type
        for k, v in hdrs.items():
            self.send_header(k, v)
        self.end_headers()
        if method == "HEAD":
            return
        if isinstance(body, bytes):
            self.wfile.write(body)
            return
        for chunk in body[1]:  # type: ignore[attr-defined]
            self.wfile.write(chunk)


class _Body:
    """The request body: at most Content-Length bytes, and a drain for what a handler left unread."""

    def __init__(self, rfile: Any, length: int) -> None:
        self._f, self.left = rfile, length

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        chunk = self._f.read(n) if n > 0 else b""
        self.left -= len(chunk)
        return chunk

    def drain(self) -> None:
        while self.left > 0 and self.read(1 << 20):
            pass


def _errors(code: str, message: str) -> bytes:
    return json.dumps({"errors": [{"code": code, "message": message, "detail": {}}]}).encode()
