"""The shared-budget decision: at most ``limit`` spends in any ``window_s`` seconds. Pure."""

from __future__ import annotations


def spend_in_window(
    spent: list[float], *, limit: int, window_s: float, now: float, count: int = 1
) -> tuple[list[float], float]:
    """The budget decision every backend shares: prune, then spend ``count`` tokens or say how long to wait.

    Returns ``(new_spend_times, wait)``; ``wait == 0.0`` means the tokens were spent (``now`` appended
    ``count`` times). All or nothing: a partial spend never happens.
    """
    if not 0 < count <= limit:
        raise ValueError(f"count must be 1..{limit}, got {count}")
    live = sorted(t for t in spent if t > now - window_s)
    if len(live) + count <= limit:
        return [*live, *([now] * count)], 0.0
    # The (len + count - limit)-th oldest spend must age out before `count` tokens are free.
    blocking = live[len(live) + count - limit - 1]
    return live, max(blocking + window_s - now, 1e-6)
