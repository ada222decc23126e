"""What a canary run means: passed, broken (which stage, what to do) or slower than its latency objective.

Pure: the per-destination stage seconds the service measured in, a ``Verdict`` and an ``AlertMessage`` out.
The exit codes are the contract a scheduler alerts on (README "Canary"): 0 every destination verified within
the objective, 1 a stage is broken, 3 nothing is broken but a destination was verified later than the
objective (2 is the CLI's usage error).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from acrsync.domain.messages import AlertMessage

EXIT_PASSED = 0
EXIT_BROKEN = 1
EXIT_OBJECTIVE_MISSED = 3

PASSED, BROKEN, OBJECTIVE_MISSED = "passed", "broken", "objective_missed"
ALL_DESTINATIONS = "every destination"
MAX_SHOWN = 10
DETAIL_MAX_CHARS = 300

# What to do when a stage is the first one missing: the reader of the alert acts on this line.
STAGE_ADVICE: Mapping[str, str] = {
    "rules": "no rule covers the canary: add one whose tags include `glob:acrsync-canary-*` "
    "(`acr-sync rules explain IMAGE` shows what decides)",
    "push": "the canary could not be pushed to the source registry: check the operator's credentials "
    "(cr:GetAuthorizationToken) and the instance's registry endpoint: `acr-sync doctor`",
    "run": "the canary itself could not run (store, credentials or a registry): run it by hand with "
    "`--verbose`, then `acr-sync doctor`",
    "event": "no push event: check the EventBridge trigger and the replicator: `acr-sync doctor --deployed`",
    "task": "no sync task or copy job was created: check the replicator's logs and the function role's "
    "ACR permissions: `acr-sync doctor`",
    "completed": "the sync task or copy did not finish: `acr-sync status --failed` shows why",
    "verified": "the destination does not hold the canary's digest: check what else writes there "
    "(`acr-sync audit --json`)",
}
SLOW_ADVICE = (
    "push → verified is slower than the objective: `acr-sync status --since 1h` shows the latency "
    "percentiles; a queue of sync tasks on the instance, the watcher's timer or a throttled ACR API "
    "(`ACRSYNC_ACR_QPS`) are the usual causes"
)


class StageTimes(Protocol):
    """One destination as measured: seconds from the push to each stage reached, the first broken stage."""

    @property
    def destination(self) -> str: ...
    @property
    def seconds(self) -> Mapping[str, float]: ...
    @property
    def broken(self) -> str: ...
    @property
    def detail(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Breakage:
    """A broken stage: where (a destination, or every one), which stage, what was seen."""

    destination: str
    stage: str
    detail: str


@dataclass(frozen=True, slots=True)
class Slow:
    """A destination verified, but later than the objective."""

    destination: str
    seconds: float
    objective_s: float


@dataclass(frozen=True, slots=True)
class Verdict:
    """The run's outcome: ``passed``, ``broken`` or ``objective_missed``, with what made it so."""

    status: str
    broken: tuple[Breakage, ...] = ()
    slow: tuple[Slow, ...] = ()
    objective_s: float | None = None

    @property
    def exit_code(self) -> int:
        """0 passed, 1 broken (whatever else), 3 only the objective missed."""
        return {PASSED: EXIT_PASSED, BROKEN: EXIT_BROKEN}.get(self.status, EXIT_OBJECTIVE_MISSED)


def misses_objective(times: StageTimes, objective_s: float | None) -> bool:
    """Verified, but later than the objective (a broken destination is broken, not slow)."""
    verified = times.seconds.get("verified")
    return objective_s is not None and verified is not None and not times.broken and verified > objective_s


def judge(
    destinations: Sequence[StageTimes],
    *,
    run_broken: str = "",
    run_detail: str = "",
    objective_s: float | None = None,
) -> Verdict:
    """The verdict of a run: a run-level break (no rule, no push event at all) first, then each
    destination's, then the destinations over the objective."""
    broken = [Breakage(ALL_DESTINATIONS, run_broken, run_detail)] if run_broken else []
    broken += [
        Breakage(d.destination, d.broken, d.detail)
        for d in destinations
        if d.broken and d.broken != run_broken
    ]
    slow = tuple(
        Slow(d.destination, d.seconds["verified"], objective_s)
        for d in destinations
        if objective_s is not None and misses_objective(d, objective_s)
    )
    status = BROKEN if broken else OBJECTIVE_MISSED if slow else PASSED
    return Verdict(status, tuple(broken), slow, objective_s)


def render_alert(image: str, verdict: Verdict, now_iso: str) -> AlertMessage:
    """The one DingTalk message for a failed run: each broken stage and slow destination, what to do."""
    if verdict.broken:
        first = verdict.broken[0]
        title = f"acr-sync canary: broken at {first.stage} ({image})"
        head = f"### acr-sync canary: broken at stage **{first.stage}**"
    else:
        over = f"{len(verdict.slow)} destination(s) over the {_s(verdict.objective_s)} objective"
        title = f"acr-sync canary: {over} ({image})"
        head = f"### acr-sync canary: slower than the {_s(verdict.objective_s)} objective"
    lines = [head, f"- **canary**: {_code(image)}", f"- **reported at**: {now_iso}", ""]
    for i, b in enumerate(verdict.broken[:MAX_SHOWN], 1):
        lines += [
            f"{i}. {_code(b.destination)}: stage **{b.stage}** broken — {_clean(b.detail) or '—'}",
            f"    - do: {STAGE_ADVICE.get(b.stage, 'run `acr-sync doctor`')}",
        ]
    lines += _more(len(verdict.broken))
    if verdict.slow:
        lines += [""] if verdict.broken else []
        lines += [f"**Over the objective** (push → verified ≤ {_s(verdict.objective_s)}):"]
        lines += [
            f"{i}. {_code(s.destination)}: verified after {s.seconds:.1f} s (objective {_s(s.objective_s)})"
            for i, s in enumerate(verdict.slow[:MAX_SHOWN], 1)
        ]
        lines += [*_more(len(verdict.slow)), "", f"> {SLOW_ADVICE}"]
    return AlertMessage(title=title, markdown="\n".join(lines))


def _more(total: int) -> list[str]:
    return [f"…and {total - MAX_SHOWN} more"] if total > MAX_SHOWN else []


def _s(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds:g} s"


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def _clean(text: str) -> str:
    """One line, no backticks, bounded: details quote upstream errors."""
    flat = " ".join(text.split()).replace("`", "'")
    return flat if len(flat) <= DETAIL_MAX_CHARS else flat[: DETAIL_MAX_CHARS - 1] + "…"
