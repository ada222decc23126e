"""Every ACR OpenAPI call passes this gate: a shared token budget, then retries with jittered backoff.

The budget lives in the store (``BudgetStore``) so it holds across all function instances. Throttling,
5xx and network errors (``UpstreamUnavailable``) are retried with full-jitter exponential backoff,
honouring ``retry_after``, until the caller's deadline; then ``BudgetExhausted`` (retryable) is raised so
FC redelivers the event — the ledger's claims make redelivery safe.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TypeVar

from acrsync.errors import BudgetExhausted, UpstreamUnavailable
from acrsync.logging import get_logger
from acrsync.ports import BudgetStore, Clock

T = TypeVar("T")
log = get_logger(__name__)

BACKOFF_BASE_S = 0.2
BACKOFF_CAP_S = 5.0


class CallGate:
    """Spend one budget token per call; retry transient failures until ``deadline`` (monotonic seconds)."""

    def __init__(
        self,
        budget: BudgetStore,
        clock: Clock,
        *,
        key: str = "acr-openapi",
        qps: int = 10,
        rng: random.Random | None = None,
    ) -> None:
        self.budget = budget
        self.clock = clock
        self.key = key
        self.qps = qps
        self.rng = rng or random.Random()
        self.calls = 0

    def acquire(self, deadline: float) -> None:
        """Wait for a token, or raise ``BudgetExhausted`` if none comes before ``deadline``."""
        while True:
            wait = self.budget.take(self.key, limit=self.qps, window_s=1.0, now=self.clock.now())
            if wait == 0.0:
                return
            if self.clock.monotonic() + wait > deadline:
                raise BudgetExhausted(f"API budget ({self.qps}/s) leaves no call before the deadline")
            self.clock.sleep(wait + self.rng.uniform(0, wait))

    def call(self, fn: Callable[[], T], *, deadline: float, what: str) -> T:
        """Run ``fn`` under the budget; retry ``UpstreamUnavailable`` with backoff until ``deadline``."""
        attempt = 0
        while True:
            self.acquire(deadline)
            self.calls += 1
            try:
                return fn()
            except UpstreamUnavailable as exc:
                attempt += 1
                delay = self.rng.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt))
                if exc.retry_after:
                    delay = max(delay, exc.retry_after)
                if self.clock.monotonic() + delay > deadline:
                    raise BudgetExhausted(f"{what}: still failing after {attempt} attempt(s): {exc}") from exc
                log.warning(
                    "upstream_retry", call=what, attempt=attempt, delay_s=round(delay, 3), error=str(exc)
                )
                self.clock.sleep(delay)
