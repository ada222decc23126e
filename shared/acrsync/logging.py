"""Structured logging in the aws-lambda-powertools manner, on structlog.

JSON lines in functions; a console renderer when a person runs the CLI. Each invocation clears and binds
contextvars (function name, request id, ``cold_start``, correlation id); a redaction processor keeps
credentials, STS tokens and DingTalk tokens/secrets out of every line.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any, TypeVar

import structlog

REDACTED = "***"

# Keys whose values are secrets wherever they appear (compared lower-case, with - and _ ignored).
_SECRET_KEYS = frozenset(
    {
        "accesskeyid",
        "accesskeysecret",
        "alibabacloudaccesskeyid",
        "alibabacloudaccesskeysecret",
        "alibabacloudsecuritytoken",
        "securitytoken",
        "ststoken",
        "secret",
        "password",
        "token",
        "accesstoken",
        "authorization",
        "sign",
        "signature",
        "webhook",
        "acrsyncdingtalkwebhook",
        "acrsyncdingtalksecret",
        "xacssecuritytoken",
        "xotsststoken",
    }
)
# Secret-looking substrings inside free text: query parameters and DingTalk ``SEC...`` secrets.
_TEXT_PATTERNS = (
    re.compile(r"(?i)(access_token|accesstoken|sign|signature|security_?token|sts_?token)=([^&\s\"']+)"),
    re.compile(r"\bSEC[0-9a-f]{16,}\b"),
)

_registered: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret value so it is masked wherever it shows up, even inside free text."""
    if value and len(value) >= 6:
        _registered.add(value)


def _norm(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "")


def redact_text(text: str) -> str:
    """Mask registered secrets and secret-shaped substrings in a string."""
    for secret in _registered:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern in _TEXT_PATTERNS:
        if pattern.groups == 2:
            text = pattern.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


def redact(value: Any, key: str = "") -> Any:
    """Deep-redact a value: secret keys are masked, strings scrubbed, containers walked."""
    if key and _norm(key) in _SECRET_KEYS and value not in (None, ""):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, BaseException):
        return redact_text(repr(value))
    return value


def redaction_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the last line of defence before a line is rendered."""
    return {k: redact(v, k) for k, v in event_dict.items()}


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


class _Current:
    """``sys.stdout``/``sys.stderr`` looked up at each write, not when logging was configured.

    Whoever swaps the stream later (a test runner capturing output, a CLI runner) still gets the lines, and
    a stream closed since then is never written to.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def write(self, text: str) -> int:
        return int(getattr(sys, self.name).write(text))

    def flush(self) -> None:
        getattr(sys, self.name).flush()


def configure(*, level: str = "INFO", human: bool = False, stream: Any = None) -> None:
    """Configure structlog once per process: JSON lines (functions) or console (people)."""
    renderer: Any
    if human:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
        tail: list[Any] = [structlog.dev.set_exc_info, redaction_processor, renderer]
    else:
        tail = [
            structlog.processors.dict_tracebacks,
            redaction_processor,
            structlog.processors.JSONRenderer(),
        ]
    structlog.configure(
        processors=[*_shared_processors(), *tail],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream or _Current("stderr" if human else "stdout")),  # type: ignore[arg-type]  # only write() and flush() are used
        cache_logger_on_first_use=False,
    )


def get_logger(name: str = "acrsync") -> Any:
    """A structlog logger; use one snake_case event name plus fields, never an f-string message."""
    return structlog.get_logger(name)


_cold_start = True

F = TypeVar("F", bound=Callable[..., Any])


def inject_fc_context(func: F) -> F:
    """Decorate an FC handler: clear and bind per-invocation context (powertools' ``inject_lambda_context``).

    Binds ``function_name``, ``request_id``, ``cold_start`` (True only on an instance's first invocation)
    and ``correlation_id`` (the CloudEvent ``id`` when the event has one).
    """

    @functools.wraps(func)
    def wrapper(event: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
        global _cold_start  # noqa: PLW0603 - one flag per process is exactly the semantics of a cold start
        structlog.contextvars.clear_contextvars()
        function = getattr(context, "function", None)
        structlog.contextvars.bind_contextvars(
            function_name=getattr(function, "name", None) or func.__module__,
            request_id=getattr(context, "request_id", None) or "",
            cold_start=_cold_start,
            correlation_id=correlation_id_of(event),
        )
        _cold_start = False
        return func(event, context, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def correlation_id_of(event: Any) -> str:
    """The CloudEvent ``id`` of an event given as bytes/str/dict (first of a list), or ``""``."""
    import json

    from acrsync.domain.events import DEFAULT_MAX_BYTES

    if isinstance(event, (bytes, bytearray, str)) and len(event) > DEFAULT_MAX_BYTES:
        return ""  # an oversized body is refused by the parser; never parse it just to log its id
    try:
        doc = json.loads(event) if isinstance(event, (bytes, bytearray, str)) else event
    except (ValueError, UnicodeDecodeError):
        return ""
    if isinstance(doc, list) and doc:
        doc = doc[0]
    if isinstance(doc, dict):
        value = doc.get("id")
        return value if isinstance(value, str) else ""
    return ""


def bind(**fields: Any) -> None:
    """Bind fields to every later line of this invocation."""
    structlog.contextvars.bind_contextvars(**fields)


def secrets_in(values: Iterable[str | None]) -> None:
    """Register several secret values at once."""
    for value in values:
        register_secret(value)
