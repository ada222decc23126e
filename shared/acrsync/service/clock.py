"""Clocks: the real one, and a manual one for tests and the demo's fast-forward."""

from __future__ import annotations

import threading
import time

from acrsync.ports import Clock


class SystemClock(Clock):
    """Wall time and monotonic time from the OS."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


class ManualClock(Clock):
    """Time that moves only when told to; ``sleep`` advances it instantly (tests never wait)."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self._now = start
        self._lock = threading.Lock()
        self.slept = 0.0

    def now(self) -> float:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        return self.now()

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))
        with self._lock:
            self.slept += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        with self._lock:
            self._now += seconds
