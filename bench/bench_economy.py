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
        stats = world.standin.stats()
        cu = {"read_cu": stats["total_read_cu"] / TAGS, "write_cu": stats["total_write_cu"] / TAGS}
        by_api = {api: n / TAGS for api, n in stats["requests"].items()}
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
        "capacity_units_per_pushed_tag": cu,
        "requests_per_pushed_tag": by_api,
    }


def _deliver(world: EconomyWorld, completions: list[dict[str, Any]]) -> None:
    for event in completions:
        world.clock.advance(0.2)
        world.invoke("watcher", json.dumps(event).encode(), label="events")


def _warm_events(world: EconomyWorld) -> None:
    """Steady state: completion events were already flowing before the measured tasks."""
    world.invoke("replicator", world.push(1)[0])
    _deliver(world, world.finish_tasks())
    world.spent.clear()


def _tick(world: EconomyWorld) -> dict[str, Any]:
    return world.invoke("watcher", TICK, label="ticks")


def _summary(world: EconomyWorld, tasks: int, start_acr: int, delivered: int) -> dict[str, Any]:
    watcher = world.spent.get("events", 0) + world.spent.get("ticks", 0)
    acr = world.acr_calls(start_acr)
    acr.pop("CreateRepoSyncTask", None)  # the replicator's (the trickle pushes inside the window)
    states = sorted({r.state.value for r in world.rows()})
    return {
        "tasks": tasks,
        "all_verified": states == [State.VERIFIED.value],
        "states": states,
        "round_trips_per_task": round(watcher / tasks, 2),
        "event_invocation_round_trips_per_event": round(world.spent.get("events", 0) / delivered, 2)
        if delivered
        else None,
        "tick_round_trips_per_task": round(world.spent.get("ticks", 0) / tasks, 2),
        "acr_calls_per_task": round(sum(acr.values()) / tasks, 2),
        "acr_by_action": acr,
    }


def _burst(*, events: bool, finish_after_s: float, drop_events: bool = False) -> dict[str, Any]:
    """24 tasks submitted within seconds; ACR finishes them all ``finish_after_s`` later; 10 min of ticks."""
    with economy_world(1, events=events) as world:
        if events:
            _warm_events(world)
        for event in world.push(TASKS):
            world.clock.advance(0.1)
            world.invoke("replicator", event)
        start_acr, delivered = len(world.cloud.model.requests), 0
        elapsed, finished, sweep_due = 0.0, False, None
        for minute in range(1, MINUTES + 1):
            if not finished and elapsed + 60 > finish_after_s:
                world.clock.advance(finish_after_s - elapsed)
                elapsed = finish_after_s
                completions = world.finish_tasks()
                sent = completions[: len(completions) // 2] if drop_events else completions
                _deliver(world, sent)
                delivered, finished = len(sent), True
            world.clock.advance(minute * 60 - elapsed)
            elapsed = minute * 60
            before = world.spent.get("ticks", 0)
            checked = sum(v for k, v in _tick(world)["actions"].items() if k not in ("deferred", "paused"))
            if sweep_due is None and checked >= 20:
                sweep_due = {"rows": checked, "round_trips": world.spent["ticks"] - before}
        out = _summary(world, TASKS, start_acr, delivered)
        before = world.spent.get("ticks", 0)
        world.clock.advance(60)
        reads = world.range_reads()
        _tick(world)
        out["idle_tick"] = {
            "round_trips": world.spent["ticks"] - before,
            "range_reads": world.range_reads() - reads,
        }
        out["sweep_with_20_or_more_due"] = sweep_due
    return out


def _trickle(*, events: bool, finish_after_s: float) -> dict[str, Any]:
    """One task a minute for 10 minutes, each done ``finish_after_s`` after its push; a tick each minute."""
    with economy_world(1, events=events) as world:
        if events:
            _warm_events(world)
        start_acr, delivered = len(world.cloud.model.requests), 0
        for _ in range(MINUTES):
            world.invoke("replicator", world.push(1)[0])
            world.clock.advance(finish_after_s % 60)
            completions = world.finish_tasks() if finish_after_s < 60 else []
            _deliver(world, completions)
            delivered += len(completions)
            world.clock.advance(60 - finish_after_s % 60)
            _tick(world)
            if finish_after_s >= 60:
                world.clock.advance(finish_after_s - 60)
                completions = world.finish_tasks()
                _deliver(world, completions)
                delivered += len(completions)
                world.clock.advance(60 - (finish_after_s - 60))
        for _ in range(MINUTES):
            world.clock.advance(60)
            _tick(world)
        return _summary(world, MINUTES, start_acr, delivered)


def _targets(rep: dict[str, dict[str, Any]], watch: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(figure: str, target: str, measured: Any, met: bool) -> None:
        rows.append({"figure": figure, "target": target, "measured": measured, "met": met})

    for key, r in rep.items():
        trips = r["round_trips_per_pushed_tag"]
        add(f"replicator: Tablestore round trips per pushed tag, {key}", "<= 7", trips, trips <= 7)
    for name in ("10s", "90s"):
        ev, sw = watch[f"events_finish_{name}"], watch[f"sweep_only_finish_{name}"]
        per_event = ev["event_invocation_round_trips_per_event"]
        add(
            f"watcher: round trips per completion event (task done in {name})",
            "<= 5",
            per_event,
            per_event <= 5,
        )
        add(
            f"ACR calls per task with events (task done in {name})",
            "<= 2.05",
            ev["acr_calls_per_task"],
            ev["acr_calls_per_task"] <= 2.05,
        )
        add(
            f"ACR calls per task, sweep only (task done in {name})",
            "<= 3",
            sw["acr_calls_per_task"],
            sw["acr_calls_per_task"] <= 3,
        )
    for shape in ("", "trickle_"):
        for name in ("10s", "90s"):
            ev, sw = watch[f"{shape}events_finish_{name}"], watch[f"{shape}sweep_only_finish_{name}"]
            label = "1 task/min" if shape else "24 tasks at once"
            add(
                f"watcher round trips per task, events vs sweep alone ({label}, done in {name})",
                "events <= sweep",
                f"{ev['round_trips_per_task']} vs {sw['round_trips_per_task']}",
                ev["round_trips_per_task"] <= sw["round_trips_per_task"],
            )
    due = watch["sweep_only_finish_10s"]["sweep_with_20_or_more_due"]
    per_row = round(due["round_trips"] / due["rows"], 2) if due else None
    add("sweep: round trips per due task (24 due)", "<= 3", per_row, per_row is not None and per_row <= 3)
    reads = watch["events_finish_10s"]["idle_tick"]["range_reads"]
    add("idle tick: range reads", "<= 4", reads, reads <= 4)
    lost = watch["events_stop_half_way"]
    add(
        "no loss when half the events are lost",
        "all verified",
        ",".join(lost["states"]),
        lost["all_verified"],
    )
    return rows


def run() -> dict[str, Any]:
    """Every scenario, then the targets with what was measured."""
    rep = {f"D={d}": _replicator(d) for d in (1, 3, 5, 10)}
    watch = {
        "events_finish_10s": _burst(events=True, finish_after_s=10),
        "events_finish_90s": _burst(events=True, finish_after_s=90),
        "sweep_only_finish_10s": _burst(events=False, finish_after_s=10),
        "sweep_only_finish_90s": _burst(events=False, finish_after_s=90),
        "events_stop_half_way": _burst(events=True, finish_after_s=90, drop_events=True),
        "trickle_events_finish_10s": _trickle(events=True, finish_after_s=10),
        "trickle_sweep_only_finish_10s": _trickle(events=False, finish_after_s=10),
        "trickle_events_finish_90s": _trickle(events=True, finish_after_s=90),
        "trickle_sweep_only_finish_90s": _trickle(events=False, finish_after_s=90),
    }
    return {"replicator": rep, "watcher": watch, "targets": _targets(rep, watch)}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
