"""Live progress while the canary waits (minutes, on a real deployment): stages reached per destination.

Shown on stderr only when it is a terminal and the output is not ``--json``; a scheduled or piped run
prints nothing extra. The status line is transient: the final table replaces it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from acrsync.cli.common import bounded, err
from acrsync.service.canary import STAGES, DestinationReport, Progress

MAX_LINES = 8


def progress_text(elapsed_s: float, timeout_s: float, destinations: Sequence[DestinationReport]) -> str:
    """``canary: 12 s of 600 s`` and one line per destination: each stage reached with its seconds."""
    lines = [f"canary: {elapsed_s:.0f} s of {timeout_s:.0f} s"]
    for d in destinations[:MAX_LINES]:
        reached = [f"{s} {d.seconds[s]:.1f}s" for s in STAGES if s in d.seconds]
        waiting = next((s for s in STAGES if s not in d.seconds), "")
        tail = f" · waiting for {waiting}" if waiting else " · done"
        lines.append(f"  {bounded(d.destination, 120)}: {' → '.join(reached) or '-'}{tail}")
    if len(destinations) > MAX_LINES:
        lines.append(f"  …and {len(destinations) - MAX_LINES} more")
    return "\n".join(lines)


@contextmanager
def live_progress(enabled: bool, timeout_s: float) -> Iterator[Progress | None]:
    """A progress callback drawing on stderr, or None (nothing drawn) when not ``enabled``."""
    if not enabled:
        yield None
        return
    with err.status("canary: pushing the canary image", spinner="dots") as status:

        def show(elapsed_s: float, destinations: list[DestinationReport]) -> None:
            # err has markup off: destination names print as written
            status.update(progress_text(elapsed_s, timeout_s, destinations))

        yield show


def wanted(as_json: bool) -> bool:
    """Progress only for a person watching: stderr is a terminal and the output is not JSON."""
    return not as_json and err.is_terminal
