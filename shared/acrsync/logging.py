"""Structured logging in the aws-lambda-powertools manner, on structlog.

JSON lines in functions; a console renderer when a person runs the CLI. Each invocation clears and binds
contextvars (function name, request id, ``cold_start``, correlation id); a redaction processor keeps
credentials, STS tokens and DingTalk tokens/secrets out of every line, also when they show up
percent-encoded or base64-encoded. Values are bounded: bound context values (from the event and the FC
context) are cut to ``MAX_CONTEXT_CHARS``, every other string to ``MAX_FIELD_CHARS``, control characters are
escaped, and containers are walked to ``MAX_DEPTH`` only, so a hostile event cannot make a line huge,
split it in two, or make logging itself raise.
"""

from __future__ import annotations

import base64
import functools
import logging
import re
import sys
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus

import structlog
from structlog.tracebacks import ExceptionDictTransformer

REDACTED = "***"
MAX_CONTEXT_CHARS = 128  # correlation id, request id, function name and every bind()-ed value
MAX_FIELD_CHARS = 4096  # any other string in a line (tracebacks under "exception" are left whole)
MAX_DEPTH = 6  # nested containers in a field are summarised below this depth
# Control characters, line/paragraph separators, and lone surrogates (a console cannot encode them).
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_WHOLE_KEYS = frozenset({"exception", "stack"})  # multi-line by design; still redacted

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
_QUERY_SECRETS = r"access[_-]?token|sign|signature|security[_-]?token|sts[_-]?token"
# Where a parameter name starts: not inside a word ("design="), or right after an encoded "?" or "&".
_NAME_START = r"(?:(?<![a-z0-9])|(?<=%3f)|(?<=%26))"
# Secret-looking substrings inside free text: query parameters of any URL (also percent-encoded, as in a URL
# quoted inside another URL: ``access_token%3D...%26``), JSON members quoted in an upstream error body, and
# DingTalk ``SEC...`` secrets. A group 2 keeps the prefix; the rest is masked.
_TEXT_PATTERNS = (
    re.compile(rf"(?i)({_NAME_START}(?:{_QUERY_SECRETS})(?:=|%3d))((?:(?!%26)[^&\s\"'])+)"),
    re.compile(rf"(?i)(\"(?:{_QUERY_SECRETS}|secret|password)\"\s*:\s*\")([^\"]+)"),
    re.compile(r"\bSEC[0-9a-f]{16,}\b"),
)

_registered: set[str] = set()
_registered_values: set[str] = set()  # as given: matched in any mix of escaped and plain characters
_registered_re: list[re.Pattern[str] | None] = [None]  # rebuilt lazily after each registration
_TEXT_MARGIN = 256  # longest text-pattern match worth keeping past a cut (a token value)


def _encoded_forms(value: str) -> set[str]:
    """The secret as written and as it shows up in URLs, form bodies and headers (percent-encoded, once or
    twice, and base64)."""
    once = quote(value, safe="")
    raw = value.encode("utf-8")
    b64 = {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    forms = {value, once, quote(value), quote_plus(value), quote(once, safe="")}
    return forms | b64 | {b.rstrip("=") for b in b64}


def _as_pattern(form: str) -> str:
    # ``%2b`` and ``%2B`` are the same byte: the hex of each escape matches in either case.
    parts = re.split(r"(%[0-9A-F]{2})", form)
    return "".join(f"%(?i:{p[1:]})" if re.fullmatch(r"%[0-9A-F]{2}", p) else re.escape(p) for p in parts)


def _any_spelling(value: str) -> str:
    """A pattern for ``value`` with each character as written or escaped in any mix, as partial encoders
    write it (``ab+cd/ef%3D%3D``: only ``=`` encoded; ``\\/`` from JSON; ``%25..`` when quoted twice)."""
    parts = []
    for char in value:
        if re.fullmatch(r"[A-Za-z0-9_.~-]", char):  # never percent-encoded
            parts.append(re.escape(char))
            continue
        escapes = quote(char, safe="").split("%")[1:]  # one per UTF-8 byte
        spellings = [
            re.escape(char),
            "".join(f"%(?i:{h})" for h in escapes),
            "".join(f"%25(?i:{h})" for h in escapes),
        ]
        spellings += [r"\+"] if char == " " else [r"\\/"] if char == "/" else []
        parts.append("(?:" + "|".join(spellings) + ")")
    return "".join(parts)


def register_secret(value: str | None) -> None:
    """Remember a secret value so it is masked wherever it shows up, even inside free text or encoded."""
    if value and len(value) >= 6:
        _registered.update(f for f in _encoded_forms(value) if len(f) >= 6)
        _registered_values.add(value)
        _registered_re[0] = None


def _registered_pattern() -> re.Pattern[str] | None:
    if _registered_re[0] is None and _registered:
        # Longest first: a form that contains another is masked whole; any mix of escapes before the rest.
        values = [_any_spelling(v) for v in sorted(_registered_values, key=len, reverse=True)]
        forms = [_as_pattern(f) for f in sorted(_registered, key=len, reverse=True)]
        _registered_re[0] = re.compile("|".join(values + forms))
    return _registered_re[0]


def _norm(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "")


def redact_text(text: str) -> str:
    """Mask registered secrets (and their encoded forms) and secret-shaped substrings in a string."""
    registered = _registered_pattern()
    if registered is not None:
        text = registered.sub(REDACTED, text)
    for pattern in _TEXT_PATTERNS:
        if pattern.groups == 2:
            text = pattern.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


def redact(value: Any, key: str = "", _depth: int = 0, *, limit: int | None = None) -> Any:
    """Deep-redact a value: secret keys are masked, strings scrubbed, containers walked (to ``MAX_DEPTH``).

    ``limit``: strings also come out fit for a line (``safe_text``). They are cut *before* scrubbing (cheap
    on a 200 KB value) with room left for the longest secret spelling, so a secret across the cut is still
    masked whole; the count of characters cut is of the original.
    """
    if key and _norm(key) in _SECRET_KEYS and value not in (None, ""):
        return REDACTED
    if isinstance(value, (str, BaseException)):
        return _scrub(value if isinstance(value, str) else repr(value), limit)
    if not isinstance(value, (dict, list, tuple)):
        return value
    if _depth >= MAX_DEPTH:
        return f"<{type(value).__name__} nested deeper than {MAX_DEPTH}>"
    if isinstance(value, dict):
        return {k: redact(v, str(k), _depth + 1, limit=limit) for k, v in value.items()}
    return [redact(v, "", _depth + 1, limit=limit) for v in value]


def _scrub(text: str, limit: int | None) -> str:
    if limit is None:
        return redact_text(text)
    room = limit + max(map(len, _registered), default=0) + _TEXT_MARGIN
    return _fit(redact_text(text[:room]), limit, len(text))


def safe_text(value: object, limit: int = MAX_CONTEXT_CHARS) -> str:
    """A string fit for a log line: control characters escaped (``\\x1b``, ``\\ud800``), cut to ``limit``
    characters with the number cut off said (``...(+199872 chars)``)."""
    text = value if isinstance(value, str) else repr(value)
    return _fit(text, limit, len(text))


def _fit(text: str, limit: int, original: int) -> str:
    out = _CONTROL_RE.sub(_escape, text[:limit])[:limit]
    cut = max(original, len(text)) - limit
    return f"{out}...(+{cut} chars)" if cut > 0 else out


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def redaction_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the last line of defence before a line is rendered.

    Every value is redacted and bounded (``MAX_FIELD_CHARS``); tracebacks are redacted only.
    """
    return {
        k: redact(v, k, limit=None if k in _WHOLE_KEYS else MAX_FIELD_CHARS) for k, v in event_dict.items()
    }


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


_console = [False]  # True while a person's console (the CLI) owns logging


def console_owned() -> bool:
    """True when the CLI configured logging for a person: handlers it runs must not take it over (their
    JSON lines would land on stdout, mixed into ``--json`` output)."""
    return _console[0]


def configure(*, level: str = "INFO", human: bool = False, stream: Any = None) -> None:
    """Configure structlog for the process: JSON lines on stdout (functions) or console on stderr (people)."""
    _console[0] = human
    renderer: Any
    if human:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
        tail: list[Any] = [structlog.dev.set_exc_info, redaction_processor, renderer]
    else:
        tail = [
            # No frame locals: they would put event bodies and credentials' neighbours into the line.
            structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False)),
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
        bind(
            function_name=getattr(function, "name", None) or func.__module__,
            request_id=getattr(context, "request_id", None) or "",
            correlation_id=correlation_id_of(event),
        )
        structlog.contextvars.bind_contextvars(cold_start=_cold_start)
        _cold_start = False
        try:
            return func(event, context, *args, **kwargs)
        finally:  # the CLI logs on after `invoke`: its lines must not carry this invocation's context
            structlog.contextvars.clear_contextvars()

    return wrapper  # type: ignore[return-value]


def correlation_id_of(event: Any) -> str:
    """The CloudEvent ``id`` of an event given as bytes/str/dict (first of a list), or ``""``. Never raises.

    Runs before the handler's guard, on untrusted bytes: whatever the body is (oversized, not UTF-8,
    nested past the recursion limit, a 5,000-digit number), the answer is ``""`` and the parser, later,
    refuses the body with its reason. The id is returned as sent; ``bind`` bounds it.
    """
    import json

    from acrsync.domain.events import DEFAULT_MAX_BYTES

    if isinstance(event, (bytes, bytearray, str)) and len(event) > DEFAULT_MAX_BYTES:
        return ""  # an oversized body is refused by the parser; never parse it just to log its id
    try:
        doc = json.loads(event) if isinstance(event, (bytes, bytearray, str)) else event
        if isinstance(doc, list) and doc:
            doc = doc[0]
        value = doc.get("id") if isinstance(doc, dict) else None
    except Exception:  # noqa: BLE001 - RecursionError, ValueError, MemoryError...: the parser says why later
        return ""
    return value if isinstance(value, str) else ""


def bind(**fields: Any) -> None:
    """Bind fields to every later line of this invocation, each bounded by ``safe_text``.

    Bound values repeat on every line: they are cut to ``MAX_CONTEXT_CHARS`` with control characters
    escaped. Numbers and booleans are kept as they are.
    """
    structlog.contextvars.bind_contextvars(**{k: _context_value(v) for k, v in fields.items()})


def _context_value(value: Any) -> Any:
    return value if value is None or isinstance(value, (bool, int, float)) else safe_text(value)


def secrets_in(values: Iterable[str | None]) -> None:
    """Register several secret values at once."""
    for value in values:
        register_secret(value)
