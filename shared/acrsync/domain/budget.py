"""The shared-budget decision: at most ``limit`` spends in any ``window_s`` seconds. Pure."""

from __future__ import annotations


def spend_in_window(
    spent: list[float], *, limit: int, window_s: float, now: float
) -> tuple[list[float], float]:
    """The budget decision every backend shares: prune, then spend one token or say how long to wait.

    Returns ``(new_spend_times, wait)``; ``wait == 0.0`` means a token was spent (and ``now`` appended).
    """
    live = sorted(t for t in spent if t > now - window_s)
    if len(live) < limit:
        return [*live, now], 0.0
    oldest_blocking = live[len(live) - limit]
    return live, max(oldest_blocking + window_s - now, 1e-6)
