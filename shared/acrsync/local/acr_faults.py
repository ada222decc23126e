"""Fault injection for the emulated ACR OpenAPI: throttling, 5xx, latency and dropped connections.

Two ways in: *rates* (seeded RNG, for soak tests and the demo) and *scripted* faults (the next N calls of an
action fail in a chosen way, for deterministic tests). Error codes and texts are the gateway-level ones of
reference §2.2.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

from acrsync.local.acr_state import AcrApiError

THROTTLE = "throttle"
THROTTLE_RETRY_AFTER = "throttle_retry_after"
SERVER_ERROR = "server_error"
UNAVAILABLE = "unavailable"
DROP = "drop"
FORBIDDEN = "forbidden"  # a RAM policy without the action: the gateway's Forbidden.RAM (reference §2.2)
KINDS = (THROTTLE, THROTTLE_RETRY_AFTER, SERVER_ERROR, UNAVAILABLE, DROP, FORBIDDEN)


@dataclass(frozen=True)
class Fault:
    """One injected failure. ``DROP`` has no error: the connection is closed without a response."""

    kind: str
    retry_after_ms: int | None = None

    def as_error(self) -> AcrApiError:
        """The API error this fault answers with (reference §2.2 codes and texts)."""
        if self.kind in (THROTTLE, THROTTLE_RETRY_AFTER):
            return AcrApiError(
                "Throttling.User", "Request was denied due to user flow control.", http_status=400
            )
        if self.kind == SERVER_ERROR:
            return AcrApiError("SystemError", "Unknown error.", http_status=500)
        if self.kind == FORBIDDEN:
            # Gateway-level code common to Alibaba Cloud RPC APIs (reference §2.2, help.aliyun.com/51132).
            return AcrApiError(
                "Forbidden.RAM",
                "User not authorized to operate on the specified resource, or this API doesn't support RAM.",
                http_status=403,
            )
        if self.kind == UNAVAILABLE:
            return AcrApiError(
                "ServiceUnavailable",
                "The request has failed due to a temporary failure of the server.",
                http_status=503,
            )
        raise ValueError(f"fault {self.kind!r} has no error response")


@dataclass
class _Script:
    kind: str
    action: str | None
    remaining: int


class FaultInjector:
    """Decides, per request, whether it fails and how. Thread-safe; the RNG is seeded."""

    def __init__(
        self,
        *,
        throttle_rate: float = 0.0,
        server_error_rate: float = 0.0,
        drop_rate: float = 0.0,
        latency_s: float = 0.0,
        retry_after_ms: int | None = None,
        seed: int = 0,
    ) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._scripts: list[_Script] = []
        self.throttle_rate = throttle_rate
        self.server_error_rate = server_error_rate
        self.drop_rate = drop_rate
        self.latency_s = latency_s
        self.retry_after_ms = retry_after_ms

    def script(self, kind: str, *, action: str | None = None, times: int = 1) -> None:
        """Fail the next ``times`` requests (of ``action``, or of any action) with ``kind``."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {KINDS}")
        with self._lock:
            self._scripts.append(_Script(kind, action, times))

    def clear(self) -> None:
        """Forget scripted faults and set every rate and the latency back to zero."""
        with self._lock:
            self._scripts.clear()
            self.throttle_rate = self.server_error_rate = self.drop_rate = self.latency_s = 0.0

    def draw(self, action: str) -> Fault | None:
        """The fault for this request, if any: scripted faults first, then the configured rates."""
        with self._lock:
            for script in self._scripts:
                if script.remaining > 0 and script.action in (None, action):
                    script.remaining -= 1
                    return self._fault(script.kind)
            roll = self._rng.random()
            for kind, rate in (
                (DROP, self.drop_rate),
                (THROTTLE, self.throttle_rate),
                (SERVER_ERROR, self.server_error_rate),
            ):
                if roll < rate:
                    return self._fault(kind)
                roll -= rate
            return None

    def _fault(self, kind: str) -> Fault:
        if kind == THROTTLE and self.retry_after_ms:
            kind = THROTTLE_RETRY_AFTER
        if kind == THROTTLE_RETRY_AFTER:
            return Fault(kind, self.retry_after_ms or 1000)
        return Fault(kind)
