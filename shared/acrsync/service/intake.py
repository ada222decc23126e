"""Reading a delivery, for both handlers: the parsed events, or a refusal with a reason. Never raises.

The parser raises only ``InvalidEvent`` (``domain.events``). Anything else escaping it is a parser defect
met with hostile input: the same bytes would fail the same way on every redelivery, so it is refused too
(reason ``unparseable``, logged at ERROR so it is seen), never re-raised into an FC retry loop. Refusals
are one structured line each: ``event_refused`` with ``reason``, ``field``, the message and a redacted
shape of the body (key names and types, never values).
"""

from __future__ import annotations

from dataclasses import dataclass

from acrsync.domain.events import DEFAULT_MAX_BYTES, ParsedEvent, RawDataPolicy, describe_shape, parse_events
from acrsync.errors import InvalidEvent
from acrsync.logging import get_logger

log = get_logger(__name__)

R_UNPARSEABLE = "unparseable"
# Reasons that say the body is not an event at all: its shape says nothing more.
_NO_SHAPE = frozenset({"empty", "oversize", "malformed_json", "duplicate_key", R_UNPARSEABLE})


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a delivery was refused: a reason (``malformed_json``, ``foreign_account``...) and a message."""

    reason: str
    message: str

    @property
    def text(self) -> str:
        """``reason: message``, as the handler's response carries it."""
        return f"{self.reason}: {self.message}"


def read_delivery(
    raw: object,
    *,
    allowed_accounts: frozenset[str],
    raw_data: RawDataPolicy,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[ParsedEvent] | Refusal:
    """Parse one delivery (bytes from FC; str/dict/list from local callers), or say why it is refused."""
    try:
        return parse_events(
            raw,  # type: ignore[arg-type]  # any other type is refused by the parser (not_an_object)
            allowed_accounts=allowed_accounts,
            max_bytes=max_bytes,
            raw_data=raw_data,
        )
    except InvalidEvent as exc:
        log.warning(
            "event_refused", reason=exc.reason, field=exc.field, error=str(exc), shape=_shape(raw, exc.reason)
        )
        return Refusal(exc.reason, str(exc))
    except Exception as exc:  # noqa: BLE001 - see the module docstring: refused, logged, never retried
        log.error("event_refused", reason=R_UNPARSEABLE, error_type=type(exc).__name__, size=_size(raw))
        return Refusal(R_UNPARSEABLE, f"the body could not be read ({type(exc).__name__})")


def _shape(raw: object, reason: str) -> object:
    if reason in _NO_SHAPE:
        return None
    try:
        return describe_shape(raw)
    except Exception as exc:  # noqa: BLE001 - a summary for the log must not turn a refusal into a crash
        return {"kind": "undescribable", "error_type": type(exc).__name__}


def _size(raw: object) -> int | None:
    return len(raw) if isinstance(raw, (bytes, bytearray, str)) else None
