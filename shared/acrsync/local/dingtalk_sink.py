"""A DingTalk custom-robot webhook on 127.0.0.1 that checks what the real one checks (reference §6).

``POST /robot/send?access_token=..[&timestamp=..&sign=..]`` with a JSON body; answers HTTP 200 with
``{"errcode": .., "errmsg": ..}`` exactly as §6 documents (errors are *not* HTTP errors):

- unknown ``access_token`` → ``400101``;
- a robot with a secret: ``timestamp`` (ms) more than 1 hour from our clock → ``310000 invalid timestamp``;
  ``sign`` not base64(HmacSHA256(secret, f"{timestamp}\\n{secret}")) → ``310000 sign not match``;
- a robot with keywords: none in the message → ``310000 keywords not in content``;
- body over 20,000 bytes → ``460101`` (reported by users, see ``acrsync.domain.alerts``);
- ``msgtype`` not one of text/link/markdown/actionCard/feedCard → ``400105``;
- more than 20 messages in any 60 s → ``410100 send too fast`` and the robot stays throttled 10 minutes.

Accepted messages are recorded for tests and the demo. Fault injection: ``busy(n)`` answers ``-1`` system
busy to the next n messages, ``http_error(n)`` answers HTTP 500, ``down()``/``up()`` close/reopen the port.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from acrsync.local.loopback import LoopbackHandler, LoopbackServer

RATE_LIMIT = 20  # §6: 20 messages per minute per robot
RATE_WINDOW_S = 60.0
THROTTLE_S = 600.0  # §6: exceeding it throttles the robot for 10 minutes
TIMESTAMP_TOLERANCE_MS = 3_600_000  # §6: within 1 hour of DingTalk's clock
MAX_BODY_BYTES = 20_000
MSGTYPES = frozenset({"text", "link", "markdown", "actionCard", "feedCard"})  # §6 message types


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """One accepted message, as the group would see it."""

    token: str
    body: dict[str, Any]
    received_at: float
    content_type: str

    @property
    def title(self) -> str:
        """``markdown.title`` (empty for other message types)."""
        return str(self.body.get("markdown", {}).get("title", ""))

    @property
    def text(self) -> str:
        """``markdown.text`` or ``text.content``."""
        body = self.body
        return str(body.get("markdown", {}).get("text", "") or body.get("text", {}).get("content", ""))


@dataclass
class _Robot:
    secret: str = ""
    keywords: tuple[str, ...] = ()
    sent_at: collections.deque[float] = field(default_factory=collections.deque)
    throttled_until: float = 0.0


class DingTalkSink(LoopbackServer):
    """The stand-in. Use as a context manager; ``webhook_url(token)`` is what a channel is configured with."""

    server_name = "dingtalk-sink"

    def __init__(
        self, robots: dict[str, str] | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        """``robots`` maps access token → secret ("" for a robot without signing)."""
        self._clock = clock
        self._lock = threading.Lock()
        self._robots: dict[str, _Robot] = {t: _Robot(secret=s) for t, s in (robots or {}).items()}
        self._messages: list[ReceivedMessage] = []
        self._faults: collections.deque[tuple[str, Any]] = collections.deque()
        self.requests = 0
        super().__init__()

    # --- configuration -------------------------------------------------------------------------------
    def add_robot(self, token: str, secret: str = "", keywords: tuple[str, ...] = ()) -> None:
        """Register a robot (its token, signing secret and custom keywords)."""
        with self._lock:
            self._robots[token] = _Robot(secret=secret, keywords=keywords)

    def busy(self, n: int = 1) -> None:
        """Answer ``{"errcode": -1, "errmsg": "系统繁忙"}`` (system busy) to the next ``n`` requests."""
        with self._lock:
            self._faults.extend([("errcode", -1)] * n)

    def http_error(self, n: int = 1, status: int = 500) -> None:
        """Answer the next ``n`` requests with a bare HTTP error status."""
        with self._lock:
            self._faults.extend([("http", status)] * n)

    # --- lifecycle (``LoopbackServer``: start/stop, a context manager, ``port``) -------------------------
    def up(self) -> None:
        """Listen on 127.0.0.1 (a free port the first time, the same port after ``down()``)."""
        self.start()

    def down(self) -> None:
        """Stop listening: senders see connection refused until ``up()``."""
        self.stop()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        """The robot webhook."""
        return _handler_for(self)

    def webhook_url(self, token: str) -> str:
        """The robot's webhook on this sink, as DingTalk shows it (access token in the query)."""
        return f"http://127.0.0.1:{self.port}/robot/send?access_token={urllib.parse.quote(token)}"

    # --- what arrived -------------------------------------------------------------------------------
    @property
    def messages(self) -> list[ReceivedMessage]:
        """Accepted messages, oldest first (a copy)."""
        with self._lock:
            return list(self._messages)

    def messages_for(self, token: str) -> list[ReceivedMessage]:
        """Accepted messages of one robot."""
        return [m for m in self.messages if m.token == token]

    # --- the webhook ----------------------------------------------------------------------------------
    def handle(self, query: str, body: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
        """Decide one request: (HTTP status, JSON answer). Order: faults, token, security, body, rate."""
        with self._lock:
            self.requests += 1
            if self._faults:
                kind, value = self._faults.popleft()
                if kind == "http":
                    return int(value), {}
                return 200, _answer(int(value), "系统繁忙")
            params = urllib.parse.parse_qs(query)
            token = params.get("access_token", [""])[0]
            robot = self._robots.get(token)
            if robot is None:
                return 200, _answer(400101, "token is not exist")
            now = self._clock()
            error = _check_signature(robot, params, now) or _check_body(robot, body)
            if error:
                return 200, error
            if not self._take_rate_slot(robot, now):
                return 200, _answer(410100, "send too fast, exceed 20 times per minute")
            doc = json.loads(body.decode("utf-8"))
            self._messages.append(ReceivedMessage(token, doc, now, content_type))
            return 200, _answer(0, "ok")

    def _take_rate_slot(self, robot: _Robot, now: float) -> bool:
        """§6: 20 per minute (sliding 60 s window); going over throttles the robot for 10 minutes."""
        if now < robot.throttled_until:
            return False
        while robot.sent_at and robot.sent_at[0] <= now - RATE_WINDOW_S:
            robot.sent_at.popleft()
        if len(robot.sent_at) >= RATE_LIMIT:
            robot.throttled_until = now + THROTTLE_S
            return False
        robot.sent_at.append(now)
        return True


def _answer(errcode: int, errmsg: str) -> dict[str, Any]:
    return {"errcode": errcode, "errmsg": errmsg}


def _check_signature(robot: _Robot, params: dict[str, list[str]], now: float) -> dict[str, Any] | None:
    """§6 signing: timestamp in ms within 1 hour, sign = base64(HmacSHA256(secret, "ts\\nsecret"))."""
    if not robot.secret:
        return None
    ts = params.get("timestamp", [""])[0]
    if not ts.isdigit() or abs(int(ts) - now * 1000) > TIMESTAMP_TOLERANCE_MS:
        return _answer(310000, "invalid timestamp")
    # parse_qs already URL-decoded the sign; compare it with our own computation in constant time.
    given = params.get("sign", [""])[0]
    mac = hmac.new(robot.secret.encode("utf-8"), f"{ts}\n{robot.secret}".encode(), hashlib.sha256)
    expected = base64.b64encode(mac.digest()).decode("ascii")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return _answer(310000, "sign not match")
    return None


def _message_text(doc: dict[str, Any]) -> str:
    """What a person sees of the message: §6 wants a keyword in the *message*, not in the JSON around it."""
    part = doc.get(str(doc.get("msgtype")), {})
    if not isinstance(part, dict):
        return ""
    fields = ("content", "title", "text", "singleTitle")
    return "\n".join(str(part.get(f, "")) for f in fields)


def _check_body(robot: _Robot, body: bytes) -> dict[str, Any] | None:
    """Size, JSON, message type, and custom keywords (§6 security settings)."""
    if len(body) > MAX_BODY_BYTES:
        return _answer(460101, "message too long, exceed 20000 bytes")
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return _answer(400105, "unsupported message type: body is not UTF-8 JSON")
    if not isinstance(doc, dict) or doc.get("msgtype") not in MSGTYPES:
        return _answer(400105, "unsupported message type")
    if robot.keywords and not any(k in _message_text(doc) for k in robot.keywords):
        return _answer(310000, "keywords not in content")
    return None


def _handler_for(sink: DingTalkSink) -> type[BaseHTTPRequestHandler]:
    class Handler(LoopbackHandler):
        def do_POST(self) -> None:
            path, _, query = self.path.partition("?")
            body = self.read_body()
            if path != "/robot/send":
                self._reply(404, {"errcode": 404, "errmsg": "not found"})
                return
            status, answer = sink.handle(query, body, self.headers.get("Content-Type", ""))
            self._reply(status, answer)

        def _reply(self, status: int, answer: dict[str, Any]) -> None:
            payload = json.dumps(answer, ensure_ascii=False).encode("utf-8") if answer else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler
