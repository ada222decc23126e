"""Economy benchmark: Tablestore round trips and ACR calls, through both handlers as FC calls them.

Everything is measured from outside: ``handler(bytes, context)`` for each function (its own FC instance),
the real SDKs against the ACR emulator and the Tablestore stand-in, which counts the requests it serves.

- Replicator: round trips per pushed tag for a rule with D = 1, 3, 5 and 10 destinations (10 tags each,
  two seconds apart, so the 10 calls/s ACR budget never makes a push wait; rule-version checks amortise
  as in production), and per duplicate delivery of the same events.
- Watcher: 24 tasks (D = 1) pushed within seconds, from submitted to verified, in four scenarios — with
  ``SynchronizationCompleted`` events or with the one-minute sweep alone, and tasks that finish before
  the first poll (10 s) or after it (90 s); then 10 minutes of ticks. Round trips and ACR calls per task,
  round trips per sweep that finds 24 tasks due, and range reads of a tick with nothing open.
- No loss when events stop: half the completion events are dropped; the sweep must still verify all.

Run: ``make bench`` or ``.venv/bin/python -m bench bench_economy``.
"""

from __future__ import annotations

import json
from typing import Any

from acrsync.domain.ledger import State
from bench.economy_world import TICK, EconomyWorld, economy_world

TAGS = 10
TASKS = 24
MINUTES = 10


def _replicator(d: int) -> dict[str, Any]:
    with economy_world(d, events=False) as world:
        events = world.push(TAGS + 1)
        world.invoke("replicator", events[0])  # the instance warms up: clients, rules compiled
        world.standin.reset_stats()
        creates_before = len(world.cloud.model.requests_for("CreateRepoSyncTask"))
        for event in events[1:]:
            world.clock.advance(2.0)
            assert world.invoke("replicator", event)["status"] == "ok"
        fresh = world.round_trips() / TAGS
        creates = len(world.cloud.model.requests_for("CreateRepoSyncTask")) - creates_before
        world.standin.reset_stats()
        for event in events[1:]:
            world.clock.advance(2.0)
            world.invoke("replicator", event)
        duplicate = world.round_trips() / TAGS
    return {
        "destinations": d,
        "round_trips_per_pushed_tag": round(fresh, 2),
        "round_trips_per_duplicate_delivery": round(duplicate, 2),
        "create_repo_sync_task_per_tag": creates / TAGS,
    }


def _deliver(world: EconomyWorld, completions: list[dict[str, Any]]) -> None:
    for event in completions:
        world.clock.advance(0.2)
        world.invoke("watcher", json.dumps(event).encode())


def _watcher(*, events: bool, finish_after_s: float, drop_events: bool = False) -> dict[str, Any]:
    with economy_world(1, events=events) as world:
        for event in world.push(TASKS):
            world.clock.advance(0.1)
            world.invoke("replicator", event)
        start_acr = len(world.cloud.model.requests)
        world.standin.reset_stats()
        elapsed, finished, sweep_due = 0.0, False, None
        for minute in range(1, MINUTES + 1):
            if not finished and elapsed + 60 > finish_after_s:
                world.clock.advance(finish_after_s - elapsed)
                elapsed = finish_after_s
                completions = world.finish_tasks()
                _deliver(world, completions[: len(completions) // 2] if drop_events else completions)
                finished = True
            world.clock.advance(minute * 60 - elapsed)
            elapsed = minute * 60
            before = world.round_trips()
            response = world.invoke("watcher", TICK)
            checked = sum(v for k, v in response["actions"].items() if k not in ("deferred", "paused"))
            if sweep_due is None and checked >= 20:
                sweep_due = {"rows": checked, "round_trips": world.round_trips() - before}
        total = world.round_trips()
        world.standin.reset_stats()
        world.clock.advance(60)
        world.invoke("watcher", TICK)
        idle = {"round_trips": world.round_trips(), "range_reads": world.range_reads()}
        acr = world.acr_calls(start_acr)
        states = sorted({r.state.value for r in world.rows()})
    return {
        "tasks": TASKS,
        "all_verified": states == [State.VERIFIED.value],
        "states": states,
        "round_trips_per_task": round(total / TASKS, 2),
        "acr_calls_per_task": round(sum(acr.values()) / TASKS, 2),
        "acr_by_action": acr,
        "sweep_with_20_or_more_due": sweep_due,
        "idle_tick": idle,
    }


def _targets(rep: dict[str, dict[str, Any]], watch: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(figure: str, target: str, measured: float | str, met: bool) -> None:
        rows.append({"figure": figure, "target": target, "measured": measured, "met": met})

    for key, r in rep.items():
        add(
            f"replicator round trips per pushed tag, {key}",
            "<= 7",
            r["round_trips_per_pushed_tag"],
            r["round_trips_per_pushed_tag"] <= 7,
        )
    ev_fast, ev_slow = watch["events_finish_10s"], watch["events_finish_90s"]
    sw_fast, sw_slow = watch["sweep_only_finish_10s"], watch["sweep_only_finish_90s"]
    for name, w in (("finish 10 s", ev_fast), ("finish 90 s", ev_slow)):
        add(
            f"watcher round trips per task, events, {name}",
            "<= 5",
            w["round_trips_per_task"],
            w["round_trips_per_task"] <= 5,
        )
        add(
            f"ACR calls per task, events, {name}",
            "<= 2.05",
            w["acr_calls_per_task"],
            w["acr_calls_per_task"] <= 2.05,
        )
    for name, w in (("finish 10 s", sw_fast), ("finish 90 s", sw_slow)):
        add(
            f"ACR calls per task, sweep only, {name}",
            "<= 3",
            w["acr_calls_per_task"],
            w["acr_calls_per_task"] <= 3,
        )
    for name, ev, sw in (("10 s", ev_fast, sw_fast), ("90 s", ev_slow, sw_slow)):
        add(
            f"events path <= sweep alone (round trips per task, finish {name})",
            "events <= sweep",
            f"{ev['round_trips_per_task']} vs {sw['round_trips_per_task']}",
            ev["round_trips_per_task"] <= sw["round_trips_per_task"],
        )
    due = sw_fast["sweep_with_20_or_more_due"]
    per_row = round(due["round_trips"] / due["rows"], 2) if due else float("nan")
    add("sweep round trips per due task (>= 20 due)", "<= 3", per_row, bool(due) and per_row <= 3)
    add(
        "idle tick range reads",
        "<= 4",
        ev_fast["idle_tick"]["range_reads"],
        ev_fast["idle_tick"]["range_reads"] <= 4,
    )
    lost = watch["events_stop_half_way"]
    add("no loss when events stop", "all verified", ",".join(lost["states"]), lost["all_verified"])
    return rows


def run() -> dict[str, Any]:
    """Every scenario, then the targets with what was measured."""
    rep = {f"D={d}": _replicator(d) for d in (1, 3, 5, 10)}
    watch = {
        "events_finish_10s": _watcher(events=True, finish_after_s=10),
        "events_finish_90s": _watcher(events=True, finish_after_s=90),
        "sweep_only_finish_10s": _watcher(events=False, finish_after_s=10),
        "sweep_only_finish_90s": _watcher(events=False, finish_after_s=90),
        "events_stop_half_way": _watcher(events=True, finish_after_s=90, drop_events=True),
    }
    return {"replicator": rep, "watcher": watch, "targets": _targets(rep, watch)}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
