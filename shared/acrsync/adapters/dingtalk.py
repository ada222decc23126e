"""The ``Notifier`` port on a DingTalk custom-robot webhook, over stdlib ``urllib`` (no extra dependency).

Reference §6 (DingTalk custom robot webhook): signed URL (``timestamp`` in ms + base64 HmacSHA256 over
``f"{timestamp}\\n{secret}"``, URL-encoded), a markdown body whose ``text`` repeats each ``@<mobile>`` so the
mention renders, and ``errcode`` checked even on HTTP 200. Errors map onto the tree in ``acrsync.errors``::

    0                                              ok
    -1, 410100, 130101, 90030, 310000 invalid timestamp,
    HTTP 5xx/429, network errors, timeouts        UpstreamUnavailable (retry later; 410100/130101 after 600 s)
    310000 other, 400013, 400101, 400102, 400105,
    400106, 430101-430104, 300001, 300005, 460101,
    other                                          UpstreamRejected (configuration: alert once, do not retry)

``90030`` ("webhook over limit") is a call *quota*, not a transient error (reference §6/§7): retrying at once
only burns calls. It waits ``QUOTA_RETRY_AFTER_S`` and the robot is held for that long in this instance (no
call is made; the warning is logged once per hold). Throttling (410100/130101) is held the same way for
its 10 minutes. ``300005`` / ``400101`` / ``300001`` (the access token does not exist) are permanent
misconfiguration: rejected, recorded on the rows, reported by ``doctor``.

The access token, ``sign`` and secret never reach an exception message or a log line: the webhook (whole)
and its token are registered with the redaction processor, and messages name only the webhook's scheme and
host (``acrsync.webhooks.place``) — a variable set to something else entirely (even another credential) is
shown as ``(not a URL)``. Which webhooks are allowed is ``acrsync.webhooks``' one rule.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from acrsync.errors import AcrSyncError, UpstreamRejected, UpstreamUnavailable
from acrsync.logging import get_logger, register_secret
from acrsync.ports import AlertChannel, AlertMessage, BudgetStore, Clock, Notifier
from acrsync.webhooks import LOOPBACK_HOSTS, access_token, place, webhook_problem

log = get_logger(__name__)

# DingTalk refuses request bodies over 20,000 bytes (errcode 460101); checked before spending a rate slot.
MAX_BODY_BYTES = 20_000
THROTTLE_RETRY_AFTER_S = 600.0  # §6: exceeding 20 msg/min throttles the robot for 10 minutes
ROBOT_RATE_LIMIT = 20  # §6: messages per minute per robot
ROBOT_RATE_WINDOW_S = 60.0
_RETRYABLE: Mapping[int, float | None] = {
    -1: None,
    410100: THROTTLE_RETRY_AFTER_S,
    130101: THROTTLE_RETRY_AFTER_S,
    90030: None,  # replaced below by QUOTA_RETRY_AFTER_S
}
# ⚠ The quota's period is not published (reference §6: "exact quota unverified"): wait an hour, then try once.
QUOTA_RETRY_AFTER_S = 3600.0
_RETRYABLE = {**_RETRYABLE, 90030: QUOTA_RETRY_AFTER_S}
# The access token does not exist (300005 in current DingTalk answers; 400101 / 300001 in older tables).
TOKEN_MISSING_CODES = frozenset({"300005", "400101", "300001"})

# A transport posts (url, body, headers, timeout) and returns (HTTP status, response body).
Transport = Callable[[str, bytes, Mapping[str, str], float], tuple[int, bytes]]


def sign(secret: str, timestamp_ms: int) -> str:
    """The robot signature (§6): base64 of HmacSHA256(secret, f"{timestamp}\\n{secret}"), not URL-encoded."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_url(webhook: str, secret: str, timestamp_ms: int) -> str:
    """The webhook with ``&timestamp=..&sign=..`` appended; unchanged when there is no secret."""
    if not secret:
        return webhook
    quoted = urllib.parse.quote_plus(sign(secret, timestamp_ms))
    return f"{webhook}&timestamp={timestamp_ms}&sign={quoted}"


def build_payload(message: AlertMessage, mention_mobiles: tuple[str, ...] = ()) -> dict[str, object]:
    """The markdown body; each mentioned mobile is also appended to ``text`` or the @ does not render (§6)."""
    text = message.markdown
    if mention_mobiles:
        text = f"{text}\n\n" + " ".join(f"@{m}" for m in mention_mobiles)
    return {
        "msgtype": "markdown",
        "markdown": {"title": message.title, "text": text},
        "at": {"atMobiles": list(mention_mobiles), "isAtAll": False},
    }


@dataclass(frozen=True, slots=True)
class Webhook:
    """A validated webhook: the safe-to-print place (scheme://host) kept apart from the token."""

    url: str
    where: str
    token: str

    @classmethod
    def parse(cls, url: str) -> Webhook:
        """Accept what ``acrsync.webhooks`` allows; raise ``UpstreamRejected`` (quoting only the place)."""
        register_secret(url)  # the whole value: whatever the variable holds, it is never printed
        token = access_token(url)
        register_secret(token)
        problem = webhook_problem(url)
        if problem is not None:
            raise UpstreamRejected(f"{problem.reason}; refused", code=problem.code)
        return cls(url=url, where=place(url), token=token)


class DingTalkNotifier(Notifier):
    """Send alert messages to DingTalk custom robots. Thread-safe; one instance per function instance.

    With a ``budget`` (the shared ``BudgetStore``), each robot's 20-per-minute limit is kept across all
    function instances *before* sending: going over costs the robot 10 minutes of silence (§6), so a send
    that would exceed it raises ``UpstreamUnavailable(retry_after=...)`` without touching DingTalk.
    """

    def __init__(
        self,
        *,
        timeout_s: float = 5.0,
        clock: Clock | None = None,
        transport: Transport | None = None,
        budget: BudgetStore | None = None,
    ) -> None:
        self._timeout_s = timeout_s
        self._clock = clock
        self._budget = budget
        self._transport = transport or urllib_transport
        self._rejected_once: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._held: dict[str, tuple[float, str]] = {}  # robot -> (until, code): quota / throttle holds

    def send(self, channel: AlertChannel, message: AlertMessage) -> None:
        """Deliver one markdown message, or raise ``UpstreamUnavailable`` / ``UpstreamRejected``."""
        register_secret(channel.secret)
        body = json.dumps(build_payload(message, channel.mention_mobiles), ensure_ascii=False).encode()
        try:
            hook = Webhook.parse(channel.webhook)
            if len(body) > MAX_BODY_BYTES:
                raise UpstreamRejected(
                    f"DingTalk message for {channel.name} is {len(body)} bytes; limit {MAX_BODY_BYTES}",
                    code="460101",
                )
            self._check_hold(hook)
            self._take_rate_slot(hook)
            url = signed_url(hook.url, channel.secret, self._now_ms())
            started = time.monotonic()
            status, raw = self._post(url, body, hook.where)
            _raise_for_response(status, raw, hook.where)
        except UpstreamRejected as exc:
            self._log_rejected(channel.name, exc)
            raise
        except UpstreamUnavailable as exc:
            if exc.code != "held":
                self._hold(hook, exc, channel.name)
            raise
        log.info(
            "dingtalk_sent",
            channel=channel.name,
            title=message.title,
            bytes=len(body),
            elapsed_ms=round((time.monotonic() - started) * 1000, 1),
        )

    def _check_hold(self, hook: Webhook) -> None:
        """Refuse without a call while the robot is held (a quota or throttle answer said to wait)."""
        until, code = self._held.get(_robot_key(hook), (0.0, ""))
        if self._now() < until:
            raise UpstreamUnavailable(
                f"DingTalk robot {hook.where} is held after errcode {code}; not sent",
                code="held",
                retry_after=until - self._now(),
            )

    def _hold(self, hook: Webhook, exc: UpstreamUnavailable, channel: str) -> None:
        """Remember a wait DingTalk asked for; log it once per hold (then the held sends are quiet)."""
        if exc.retry_after and exc.code in ("90030", "410100", "130101"):
            with self._lock:
                self._held[_robot_key(hook)] = (self._now() + exc.retry_after, exc.code)
            event = "dingtalk_quota_exhausted" if exc.code == "90030" else "dingtalk_throttled"
            log.warning(event, channel=channel, code=exc.code, wait_s=exc.retry_after, error=str(exc))
            return
        log.warning("dingtalk_unavailable", channel=channel, code=exc.code, error=str(exc))

    def _now(self) -> float:
        return self._clock.now() if self._clock else time.time()

    def _now_ms(self) -> int:
        return round(self._now() * 1000)

    def _take_rate_slot(self, hook: Webhook) -> None:
        if self._budget is None:
            return
        key = _robot_key(hook)
        wait = self._budget.take(key, limit=ROBOT_RATE_LIMIT, window_s=ROBOT_RATE_WINDOW_S, now=self._now())
        if wait > 0:
            raise UpstreamUnavailable(
                f"DingTalk robot {hook.where} is at {ROBOT_RATE_LIMIT} messages per minute; not sent",
                code="rate_budget",
                retry_after=wait,
            )

    def _post(self, url: str, body: bytes, where: str) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        try:
            return self._transport(url, body, headers, self._timeout_s)
        except AcrSyncError:
            raise
        except ValueError as exc:  # http.client.InvalidURL and friends: a malformed webhook is configuration
            raise UpstreamRejected(
                f"DingTalk webhook {where} is malformed: {type(exc).__name__}", code="webhook_invalid"
            ) from None
        except (TimeoutError, OSError, http.client.HTTPException) as exc:
            # The exception text may quote the URL; name only its type and the safe part of the address.
            raise UpstreamUnavailable(
                f"DingTalk webhook {where} unreachable: {type(exc).__name__}", code="network"
            ) from None

    def _log_rejected(self, channel: str, exc: UpstreamRejected) -> None:
        """Loudly once per (channel, code) per process: a config error repeats until someone fixes it."""
        with self._lock:
            first = (channel, exc.code) not in self._rejected_once
            self._rejected_once.add((channel, exc.code))
        emit = log.error if first else log.info
        emit("dingtalk_rejected", channel=channel, code=exc.code, error=str(exc), first=first)


def _robot_key(hook: Webhook) -> str:
    # Keyed by a hash of the token: per robot (not per channel name), and the key itself leaks nothing.
    return "dingtalk:" + hashlib.sha256(hook.token.encode("utf-8")).hexdigest()[:16]


def _raise_for_response(status: int, raw: bytes, where: str) -> None:
    """Map an HTTP status and DingTalk JSON (``errcode``/``errmsg``) onto the error tree; return if ok."""
    try:
        doc = json.loads(raw.decode("utf-8")) if raw else {}
    except (UnicodeDecodeError, ValueError, RecursionError):  # an untrusted reply: nested, huge, not UTF-8
        doc = {}
    if not isinstance(doc, dict):
        doc = {}
    if status >= 500 or status == 429:
        raise UpstreamUnavailable(f"DingTalk webhook {where} answered HTTP {status}", code=f"http_{status}")
    if "errcode" not in doc:
        if 200 <= status < 300:
            raise UpstreamUnavailable(f"DingTalk webhook {where} answered HTTP {status} without errcode")
        raise UpstreamRejected(f"DingTalk webhook {where} answered HTTP {status}", code=f"http_{status}")
    error = error_for(doc.get("errcode"), str(doc.get("errmsg", "")), where)
    if error is not None:
        raise error


def error_for(errcode: object, errmsg: str, where: str = "DingTalk") -> AcrSyncError | None:
    """The exception for a DingTalk ``errcode`` (reference §6 table), or None for 0."""
    try:
        code = int(str(errcode))
    except ValueError:
        return UpstreamUnavailable(f"DingTalk webhook {where} answered a malformed errcode", code="malformed")
    if code == 0:
        return None
    msg = f"DingTalk webhook {where} answered errcode {code}: {errmsg[:200]}"
    if code in _RETRYABLE:
        return UpstreamUnavailable(msg, code=str(code), retry_after=_RETRYABLE[code])
    if str(code) in TOKEN_MISSING_CODES:
        msg += " (the webhook's access_token does not exist: copy the robot's webhook URL again)"
    if code == 310000 and "timestamp" in errmsg:
        # Our clock is off by more than an hour; a fresh timestamp after the clock is fixed will pass.
        return UpstreamUnavailable(msg, code=str(code))
    return UpstreamRejected(msg, code=str(code))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: it would carry the access token (and sign) to another address."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


# DingTalk answers a few dozen bytes of JSON; more is never read into memory (the cut reply then fails to
# parse and the send counts as an upstream failure).
MAX_REPLY_BYTES = 64 * 1024


def urllib_transport(
    url: str, body: bytes, headers: Mapping[str, str], timeout_s: float
) -> tuple[int, bytes]:
    """POST with stdlib urllib; HTTP error statuses are returned, not raised, so the caller maps them."""
    host = urllib.parse.urlsplit(url).hostname
    handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
    if host in LOOPBACK_HOSTS:
        handlers.append(urllib.request.ProxyHandler({}))  # an HTTP(S)_PROXY must not capture the local sink
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")  # noqa: S310
    try:
        with opener.open(request, timeout=timeout_s) as response:
            return int(response.status), bytes(response.read(MAX_REPLY_BYTES))
    except urllib.error.HTTPError as exc:
        with exc:
            return int(exc.code), bytes(exc.read(MAX_REPLY_BYTES) or b"")
