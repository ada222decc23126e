"""Every ACR OpenAPI call passes this gate: a shared token budget, then retries with jittered backoff.

The budget lives in the store (``BudgetStore``) so it holds across all function instances. Throttling,
5xx and network errors (``UpstreamUnavailable``) are retried with full-jitter exponential backoff,
honouring ``retry_after``, until the caller's deadline; then ``BudgetExhausted`` (retryable) is raised so
FC redelivers the event — the ledger's claims make redelivery safe.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import TypeVar

from acrsync.errors import BudgetExhausted, UpstreamUnavailable
from acrsync.logging import get_logger
from acrsync.ports import BudgetStore, Clock

T = TypeVar("T")
log = get_logger(__name__)

BACKOFF_BASE_S = 0.2
BACKOFF_CAP_S = 5.0
# How long a reserved batch of tokens may be used locally (see ``CallGate.acquire``).
HOLD_S = 0.25
# A reservation for several known calls holds each token this long (ACR answers in well under 100 ms).
CALL_HOLD_S = 0.1


def not_executed(exc: UpstreamUnavailable) -> bool:
    """Whether the failed request certainly did nothing: throttled, or the gateway said unavailable (503)."""
    return exc.code.startswith("Throttling") or exc.code == "ServiceUnavailable"


class CallGate:
    """Spend one budget token per call; retry transient failures until ``deadline`` (monotonic seconds)."""

    def __init__(
        self,
        budget: BudgetStore,
        clock: Clock,
        *,
        key: str = "acr-openapi",
        qps: int = 10,
        batch: int = 4,
        rng: random.Random | None = None,
    ) -> None:
        self.budget = budget
        self.clock = clock
        self.key = key
        self.qps = qps
        # The largest divisor of qps not above `batch`: whole batches fill the window, none is stranded.
        self.batch = max(d for d in range(1, max(1, min(batch, qps)) + 1) if qps % d == 0)
        self.rng = rng or random.Random()
        self.calls = 0
        self._lock = threading.Lock()
        self._held = 0
        self._held_until = 0.0

    def acquire(self, deadline: float) -> None:
        """Wait for a token, or raise ``BudgetExhausted`` if none comes before ``deadline``.

        Tokens are reserved from the shared store ``batch`` at a time (one store round trip per batch) and
        used locally within ``HOLD_S``. To stay strict — never more than ``qps`` calls in any second, across
        all instances — a reservation is recorded at the *end* of its hold and over a window of
        ``1 + HOLD_S`` seconds: every call in any 1 s window then belongs to a record inside one store
        window. The price is a ceiling of ``qps / (1 + HOLD_S)`` calls per second.
        """
        with self._lock:
            if self._held and self.clock.now() < self._held_until:
                self._held -= 1
                return
        self._take(self.batch, deadline, use_one=True)

    def reserve(self, count: int, deadline: float, *, ahead: int = 0) -> None:
        """Make sure the next ``count`` calls have tokens, in one budget decision (one store round trip).

        For work that knows how many calls it is about to make (D creates; a check's two reads). When
        fewer than ``count`` are held, takes ``count + ahead`` (calls expected soon after), rounded up to
        whole batches and capped at ``qps``, held ``CALL_HOLD_S`` per token (at least ``HOLD_S``) so that
        a fan-out's calls, made one after another, all find theirs.

        Still strict: a reservation made at ``t`` with hold ``H`` is recorded at ``t + H`` and decided over
        a window of ``1 + H``, so every decision counts exactly the records later than ``t - 1`` whatever
        the holds; any call inside a 1 s window ``[a, a + 1]`` belongs to a reservation recorded at or after
        ``a`` and made before ``a + 1``, and the last such decision counted all of them. A long hold only
        keeps its tokens out of the budget longer (until ``t + H + 1``).
        """
        with self._lock:
            if self._held >= count and self.clock.now() < self._held_until:
                return
        take = min(self.qps, -(-(count + ahead) // self.batch) * self.batch)
        self._take(take, deadline, use_one=False, hold=max(HOLD_S, take * CALL_HOLD_S))

    def _take(self, count: int, deadline: float, *, use_one: bool, hold: float = HOLD_S) -> None:
        while True:
            now = self.clock.now()
            wait = self.budget.take(
                self.key, limit=self.qps, window_s=1.0 + hold, now=now + hold, count=count
            )
            if wait == 0.0:
                with self._lock:
                    self._held, self._held_until = count - int(use_one), now + hold
                return
            if self.clock.monotonic() + wait > deadline:
                raise BudgetExhausted(f"API budget ({self.qps}/s) leaves no call before the deadline")
            self.clock.sleep(wait + self.rng.uniform(0, 0.1 * wait))  # a little jitter spreads contenders

    def call(self, fn: Callable[[], T], *, deadline: float, what: str, idempotent: bool = True) -> T:
        """Run ``fn`` under the budget; retry ``UpstreamUnavailable`` with backoff until ``deadline``.

        A call that is not ``idempotent`` (``CreateRepoSyncTask``: ACR has no idempotency token) is retried
        only when the failure proves the request was not executed (throttled, or refused by the gateway);
        after a timeout, a dropped connection or a 500 it may have been, so the error is raised for the
        caller to reconcile against ``ListRepoSyncTask`` instead.
        """
        attempt = 0
        while True:
            self.acquire(deadline)
            self.calls += 1
            try:
                return fn()
            except UpstreamUnavailable as exc:
                if not idempotent and not not_executed(exc):
                    raise
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
