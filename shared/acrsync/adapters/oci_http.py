"""HTTP transport for the OCI registry client: kept-alive connections, registry auth, bounded retries.

stdlib ``http.client`` only (no new dependency, ~nothing at cold start): it streams request bodies from an
iterator and response bodies in chunks, which is all a registry-to-registry copy needs.

Auth as registries do it (distribution-spec §"Authentication" defers to the Docker token spec,
https://distribution.github.io/distribution/spec/auth/token/): a request answered ``401`` with
``WWW-Authenticate: Bearer realm=..,service=..,scope=..`` is retried with a token fetched from ``realm``
(``GET realm?service=..&scope=..``, HTTP Basic with the credentials when there are any, anonymous otherwise);
``WWW-Authenticate: Basic`` means send the credentials with every request. Tokens are cached per scope until
shortly before ``expires_in`` (default 60 s per the token spec). Secrets never appear in errors or logs.
"""

from __future__ import annotations

import base64
import http.client
import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from acrsync.adapters.oci_urls import check_realm, is_bearer_token, join_url, origin, split_url
from acrsync.domain.oci import is_loopback, parse_challenge
from acrsync.errors import UpstreamRejected, UpstreamUnavailable
from acrsync.logging import get_logger

log = get_logger(__name__)

TRANSIENT = frozenset({408, 429, 500, 502, 503, 504})
_TOKEN_SLACK_S = 15.0  # refresh a token this long before it expires
_MAX_RETRY_AFTER_S = 30.0
# Manifests, tag pages, token and error bodies are read whole; blobs stream. Four times the spec's 4 MiB
# manifest limit leaves room for long tag pages.
MAX_BODY_BYTES = 16 << 20
_ERROR_CODE_RE = re.compile(r"[A-Z][A-Z0-9_]{0,63}\Z")


@dataclass(frozen=True, slots=True)
class RegistryCredentials:
    """``USERNAME:PASSWORD`` read from the variable a rule names; the password never prints."""

    username: str
    password: str = field(repr=False)

    @classmethod
    def parse(cls, text: str, *, source: str) -> RegistryCredentials:
        """Split ``USERNAME:PASSWORD``; ``UpstreamRejected`` naming ``source`` (never echoing the value)."""
        user, sep, password = text.partition(":")
        if not sep or not user or not password:
            raise UpstreamRejected(
                f"{source} must hold USERNAME:PASSWORD (both non-empty)", code="CREDENTIALS_MALFORMED"
            )
        return cls(user, password)

    def basic(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass
class Response:
    """A response whose body is either read (``body``) or left open to stream (``raw``)."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    raw: http.client.HTTPResponse | None = None
    release: Callable[[bool], None] = lambda _reuse: None

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    def error_code(self) -> str:
        """The first ``errors[].code`` of a distribution-spec error body (§"Error Codes"), or ""."""
        try:
            errors = json.loads(self.body).get("errors") or []
            code = str(errors[0].get("code", "")) if errors else ""
        except (ValueError, AttributeError, IndexError, TypeError, RecursionError):
            return ""
        # Codes are identifiers (NAME_UNKNOWN, DENIED): anything else is the registry's free text, which
        # would travel into ledger rows, alerts (DingTalk markdown: links) and logs. The status says enough.
        return code if _ERROR_CODE_RE.match(code) else ""


class Transport:
    """Requests to one registry (and the hosts it redirects to), authenticated and retried."""

    def __init__(
        self,
        base_url: str,
        *,
        credentials: RegistryCredentials | None = None,
        timeout: float = 60.0,
        retries: int = 4,
        backoff_s: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{base_url!r} is not a registry URL (https://HOST[:PORT])")
        if parts.scheme == "http" and not is_loopback(parts.netloc):
            raise UpstreamRejected(f"plain http is allowed only for loopback hosts, not {parts.netloc}")
        self.base_url = f"{parts.scheme}://{parts.netloc}"
        self.host = parts.netloc
        self._creds = credentials
        self._timeout, self._retries, self._backoff = timeout, retries, backoff_s
        self._sleep, self._clock = sleep, clock
        self._idle: dict[tuple[str, str], list[http.client.HTTPConnection]] = {}
        self._tokens: dict[str, tuple[str, float]] = {}
        self._basic = False
        self._challenge: dict[str, str] | None = None
        self._lock = threading.Lock()

    # -- connections --------------------------------------------------------------------------------
    def _connect(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        with self._lock:
            idle = self._idle.get((scheme, netloc))
            if idle:
                return idle.pop()
        if scheme == "https":
            return http.client.HTTPSConnection(netloc, timeout=self._timeout)
        if not is_loopback(netloc):
            raise UpstreamRejected(f"refusing plain http to {netloc} (only loopback hosts may use http)")
        return http.client.HTTPConnection(netloc, timeout=self._timeout)

    def _give_back(self, scheme: str, netloc: str, conn: http.client.HTTPConnection, reuse: bool) -> None:
        if not reuse:
            conn.close()
            return
        with self._lock:
            self._idle.setdefault((scheme, netloc), []).append(conn)

    def close(self) -> None:
        """Close every idle connection."""
        with self._lock:
            conns = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for conn in conns:
            conn.close()

    # -- auth ---------------------------------------------------------------------------------------
    def _authorization(self, scope: str) -> str:
        if self._basic and self._creds is not None:
            return self._creds.basic()
        cached = self._tokens.get(scope)
        if cached and cached[1] > self._clock():
            return "Bearer " + cached[0]
        if self._challenge is not None:  # the registry told us how: fetch a token up front
            return "Bearer " + self._fetch_token(scope)
        return ""

    def _on_unauthorized(self, resp: Response, scope: str) -> None:
        challenge = parse_challenge(resp.header("www-authenticate"))
        if challenge.scheme == "bearer" and "realm" in challenge.params:
            check_realm(challenge.params["realm"], self.base_url)
        if challenge.scheme == "basic":
            if self._creds is None:
                raise UpstreamRejected(f"{self.host} requires credentials (set credentials_env)", code="AUTH")
            self._basic = True
            return
        if challenge.scheme != "bearer" or "realm" not in challenge.params:
            raise UpstreamRejected(
                f"{self.host}: unsupported auth challenge {challenge.scheme!r}", code="AUTH"
            )
        self._challenge = challenge.params
        self._tokens.pop(scope, None)
        self._fetch_token(scope)

    def _fetch_token(self, scope: str) -> str:
        params = self._challenge or {}
        query = [("service", params["service"])] if params.get("service") else []
        query += [("scope", s) for s in scope.split()]
        realm = params["realm"]
        url = realm + ("&" if "?" in realm else "?") + urlencode(query)
        headers = {"Authorization": self._creds.basic()} if self._creds else {}
        resp = self._send_once("GET", url, headers, None, stream=False)
        if resp.status in (401, 403):
            raise UpstreamRejected(
                f"{self.host}: the token service refused the credentials ({resp.status}); "
                "check credentials_env",
                code="UNAUTHORIZED",
            )
        if resp.status != 200:
            raise _status_error(resp, f"token from {urlsplit(realm).netloc}")
        try:
            doc = json.loads(resp.body)
            token = doc.get("token") or doc["access_token"]
            ttl = float(doc.get("expires_in") or 60)
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            raise UpstreamUnavailable(f"{self.host}: the token service answered without a token") from None
        if not is_bearer_token(token):  # it goes into a header: no CR/LF
            raise UpstreamRejected(
                f"{self.host}: the token service answered a token that is not a bearer token (RFC 6750)",
                code="AUTH",
            )
        if math.isnan(ttl):  # NaN would never expire nor compare: the spec's default
            ttl = 60.0
        self._tokens[scope] = (token, self._clock() + max(ttl - _TOKEN_SLACK_S, 1.0))
        return token

    # -- requests -----------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        url: str,
        *,
        scope: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | Iterable[bytes] | None = None,
        stream: bool = False,
        auth: bool = True,
    ) -> Response:
        """Send with auth; retry 401 once (with a fresh token) and transient failures with backoff.

        A streamed ``body`` (an iterator) cannot be replayed: it is sent once, and a failure raises.
        """
        url = split_url(join_url(self.base_url, url), self.host).geturl()
        # Credentials and tokens are the registry's: a Location, Link or redirect naming another origin
        # (scheme, host or port) gets the request without them, and its 401 is an answer, not a challenge.
        auth = auth and origin(url) == origin(self.base_url)
        replayable = body is None or isinstance(body, bytes)
        authed_again = False
        for attempt in range(self._retries + 1):
            hdrs = dict(headers or {})
            token = self._authorization(scope) if auth else ""
            if token:
                hdrs["Authorization"] = token
            try:
                resp = self._send_once(method, url, hdrs, body, stream=stream)
            except UpstreamUnavailable:
                if not replayable or attempt == self._retries:
                    raise
                self._sleep(self._backoff * 2**attempt)
                continue
            if resp.status == 401 and auth and not authed_again and replayable:
                authed_again = True
                resp.release(True)
                self._on_unauthorized(resp, scope)
                continue
            if resp.status in TRANSIENT and replayable and attempt < self._retries:
                resp.release(True)
                after = _retry_after(resp)
                wait = self._backoff * 2**attempt if after is None else after
                log.info("registry_retry", host=self.host, status=resp.status, wait_s=round(wait, 2))
                self._sleep(min(wait, _MAX_RETRY_AFTER_S))
                continue
            return resp
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _send_once(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | Iterable[bytes] | None,
        *,
        stream: bool,
    ) -> Response:
        parts = split_url(url, self.host)
        scheme, netloc = parts.scheme, parts.netloc
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            conn = self._connect(scheme, netloc)
        except (ValueError, http.client.HTTPException) as exc:  # InvalidURL: a port that is not a number
            raise UpstreamRejected(
                f"{self.host}: cannot connect to the URL it named: {type(exc).__name__}"
            ) from None
        try:
            conn.request(method, target, body=body, headers={"User-Agent": "acr-sync", **headers})
            raw = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            if isinstance(exc, http.client.InvalidURL):  # a URL the registry named: the same every time
                raise UpstreamRejected(
                    f"{netloc[:200]}: {method} refused: the registry named a URL with control characters",
                    code="INVALID_URL",
                ) from None
            raise UpstreamUnavailable(f"{netloc}: {method} failed: {type(exc).__name__}") from None
        except (ValueError, OverflowError) as exc:  # http.client: a header or URL with CR/LF, a bad port
            conn.close()  # the message may quote the header (a token): never echoed
            raise UpstreamRejected(
                f"{netloc[:200]}: {method} refused before sending: {type(exc).__name__} "
                "(a control character in a URL or header the registry sent, or a port outside 1-65535)",
                code="INVALID_REQUEST",
            ) from None
        except BaseException:  # a streamed body raised (short or corrupt source): the request is half-sent
            conn.close()
            raise
        hdrs = {k.lower(): v for k, v in raw.getheaders()}

        def release(reuse: bool) -> None:
            if reuse and not raw.isclosed():
                try:
                    raw.read()
                except (OSError, http.client.HTTPException):
                    reuse = False
            self._give_back(scheme, netloc, conn, reuse and not raw.will_close)

        if stream and 200 <= raw.status < 300 and method != "HEAD":
            return Response(raw.status, hdrs, b"", raw=raw, release=release)
        try:
            data = raw.read(MAX_BODY_BYTES + 1)
            if (
                len(data) > MAX_BODY_BYTES
            ):  # a manifest is at most 4 MiB (distribution spec); never buffer more
                conn.close()
                raise UpstreamUnavailable(f"{netloc}: {method} answered more than {MAX_BODY_BYTES:,} bytes")
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise UpstreamUnavailable(
                f"{netloc}: reading the response failed: {type(exc).__name__}"
            ) from None
        release(True)
        return Response(raw.status, hdrs, data)


def _retry_after(resp: Response) -> float | None:
    """Seconds from a ``Retry-After: <seconds>`` header; None when absent or a date (then back off)."""
    try:
        after = float(resp.header("retry-after"))
    except ValueError:
        return None
    return min(max(after, 0.0), _MAX_RETRY_AFTER_S) if math.isfinite(after) else None  # "nan" cannot sleep


def int_header(resp: Response, name: str, default: int) -> int:
    """A non-negative integer header (``Content-Length``), else ``default``: garbage is not a crash."""
    value = resp.header(name).strip()
    return int(value) if value.isascii() and value.isdigit() else default


def _status_error(resp: Response, what: str) -> Exception:
    """The error for an unexpected status: transient ones retry later, the rest are permanent."""
    code = resp.error_code()
    detail = f"{what}: HTTP {resp.status}" + (f" {code}" if code else "")
    if resp.status in TRANSIENT:
        return UpstreamUnavailable(
            detail, code=code or str(resp.status), retry_after=_retry_after(resp) or None
        )
    if resp.status in (401, 403):
        return UpstreamRejected(detail + " (check the credentials in credentials_env)", code=code or "DENIED")
    return UpstreamRejected(detail, code=code or str(resp.status))


status_error = _status_error
