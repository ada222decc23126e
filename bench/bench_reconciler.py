"""Reconciler benchmark: API calls per pass against the floor, pass time at the default budget, memory as
tags grow, and the time from a lost push event to its repair.

* **Calls per pass** (fake registry on the ACR model, no sockets): a world where every destination is in
  sync, rules ``team-a/*`` -> Shanghai and Beijing. The floor is, per instance, ⌈repositories/100⌉
  ``ListRepository`` pages plus Σ⌈tags/100⌉ ``ListRepoTag`` pages (the source and both destinations).
* **Pass time, 1,000 repositories x 100 tags**: the real SDK against the loopback emulator, budget at the
  default share (50% of ``ACRSYNC_ACR_QPS`` = 10). The budget's clock is simulated, so the run reports the
  budget-bound time a pass takes (virtual seconds) next to the wall time the SDK and emulator spent.
* **Memory**: ``tracemalloc`` peak during a pass (the world is built before tracing starts), as tags grow
  10x by more repositories and, separately, by more tags per repository.
* **Lost event to repair**: pushes whose events are lost at random moments; the reconciler runs a slice
  every 10 minutes (300 s function, 20 s margin); the time until its ``CreateRepoSyncTask``.

Run: ``make bench`` or ``.venv/bin/python -m bench bench_reconciler``.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
import tracemalloc
from typing import Any

from acrsync.adapters.acr import AcrRegistry, build_acr_client
from acrsync.adapters.memory import MemoryBudgetStore, MemoryLedger
from acrsync.adapters.state_store import MemoryStateStore
from acrsync.domain.reconcile import policies
from acrsync.domain.rules import compile_rules
from acrsync.local.acr_emulator import AcrEmulator
from acrsync.local.acr_model import AcrModel
from acrsync.local.fake_registry import FakeRegistry
from acrsync.local.stack import ACCOUNT_ID, seed_world
from acrsync.logging import configure
from acrsync.ports import RegistryApi
from acrsync.service.clock import ManualClock
from acrsync.service.gate import CallGate
from acrsync.service.reconcile import Options, ReconcileDeps, run_slice
from acrsync.service.submit import Submitter

PAGE = 100
DESTS = (("cri-demo-sh", "cn-shanghai"), ("cri-demo-bj", "cn-beijing"))
RULES = [
    {
        "name": "team-a-all",
        "enabled": True,
        "alert": "",
        "source": {"instance": "cri-demo-src", "repositories": ["team-a/*"], "exclude_repositories": []},
        "tags": {"include": [], "exclude": [], "include_prerelease": False},
        "destinations": [
            {"instance": i, "region": r, "namespace": "{namespace}", "repository": "{repo}", "tag": "{tag}"}
            for i, r in DESTS
        ],
    }
]
DEFAULT_SHARE_QPS = 5  # 50% of ACRSYNC_ACR_QPS=10
TIMER_S, SLICE_S = 600.0, 295.0  # s.yaml: every 10 minutes; timeout 300 s minus the 5 s margin


def _seed(
    model: AcrModel, repos: int, tags: int, *, lost: float = 0.0, rng: random.Random | None = None
) -> int:
    """``repos`` x ``tags`` in the source; the destinations hold the same digests except a ``lost`` share."""
    missing = 0
    for r in range(repos):
        src = model.add_repository("cri-demo-src", "team-a", f"svc{r:04d}")
        dests = [model.add_repository(i, "team-a", f"svc{r:04d}") for i, _ in DESTS]
        for t in range(tags):
            digest = "sha256:" + hashlib.sha256(f"{r}:{t}".encode()).hexdigest()
            model._set_tag(src, f"v{t}", digest)
            if rng is not None and rng.random() < lost:
                missing += 1
                continue
            for dest in dests:
                model._set_tag(dest, f"v{t}", digest)
    return missing


def _deps(model: AcrModel, clock: ManualClock, registry: Any, qps: int) -> ReconcileDeps:
    budget = MemoryBudgetStore()
    gate = CallGate(budget, clock, qps=qps)
    ledger = MemoryLedger()
    return ReconcileDeps(
        index=compile_rules(RULES, {}),
        policies=policies(RULES),
        ledger=ledger,
        registry=registry,
        gate=gate,
        clock=clock,
        submitter=Submitter(ledger, registry, gate, clock),
        state=MemoryStateStore(),
        region="cn-hangzhou",
    )


def _world() -> tuple[AcrModel, ManualClock]:
    clock = ManualClock()
    model = AcrModel(account_id=ACCOUNT_ID, clock=clock.now)
    seed_world(model)
    return model, clock


def _fake(model: AcrModel) -> Any:
    registries: dict[str, RegistryApi] = {}

    def registry(region: str) -> RegistryApi:
        return registries.setdefault(region, FakeRegistry(model, region=region))

    return registry


def _floor(repos: int, tags: int) -> int:
    per_instance = math.ceil(repos / PAGE) + repos * max(1, math.ceil(tags / PAGE))
    return per_instance * (1 + len(DESTS))


def calls_per_pass(repos: int, tags: int) -> dict[str, Any]:
    """One full pass over an in-sync world: ACR calls made against the floor."""
    model, clock = _world()
    _seed(model, repos, tags)
    deps = _deps(model, clock, _fake(model), qps=1000)
    before = len(model.requests)
    report = run_slice(deps, deadline=clock.monotonic() + 1e9, options=Options(cursor=False, margin_s=0))
    assert report.completed
    actions: dict[str, int] = {}
    for record in model.requests[before:]:
        actions[record.action] = actions.get(record.action, 0) + 1
    made, floor = sum(actions.values()), _floor(repos, tags)
    return {
        "repos": repos,
        "tags": tags,
        "calls": made,
        "budget_tokens": report.api_calls,
        "floor": floor,
        "ratio": round(made / floor, 3),
    }


def pass_on_emulator(repos: int, tags: int) -> dict[str, Any]:
    """A full pass through the real SDK against the emulator, the budget at the default share."""
    model, clock = _world()
    _seed(model, repos, tags)
    with AcrEmulator(model) as emu:
        clients: dict[str, RegistryApi] = {}

        def registry(region: str) -> RegistryApi:
            if region not in clients:
                client = build_acr_client(
                    region, emu.url, access_key_id=emu.access_key_id, access_key_secret=emu.access_key_secret
                )
                clients[region] = AcrRegistry(client, region=region)
            return clients[region]

        deps = _deps(model, clock, registry, qps=DEFAULT_SHARE_QPS)
        started, virtual = time.perf_counter(), clock.now()
        report = run_slice(deps, deadline=clock.monotonic() + 1e9, options=Options(cursor=False, margin_s=0))
        wall = time.perf_counter() - started
    return {
        "repos": repos,
        "tags": tags,
        "api_calls": report.api_calls,
        "budget_qps": DEFAULT_SHARE_QPS,
        "pass_s_at_budget": round(clock.now() - virtual, 1),
        "slices_of_275s": math.ceil((clock.now() - virtual) / (SLICE_S - 20)),
        "wall_s_sdk_and_emulator": round(wall, 1),
        "calls_per_wall_s": round(report.api_calls / wall, 1),
    }


def peak_memory(repos: int, tags: int) -> int:
    """tracemalloc peak (bytes) of one pass; the world is built before tracing starts."""
    model, clock = _world()
    _seed(model, repos, tags)
    deps = _deps(model, clock, _fake(model), qps=1000)
    model.record = lambda *_a, **_k: None  # type: ignore[method-assign]  # the fake's request log is not ours
    tracemalloc.start()
    run_slice(deps, deadline=clock.monotonic() + 1e9, options=Options(cursor=False, margin_s=0))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def lost_event_to_repair(repos: int, tags: int, lost: int, seed: int = 3) -> dict[str, Any]:
    """Lost pushes at random moments; reconciler slices every TIMER_S; seconds until each is repaired."""
    model, clock = _world()
    _seed(model, repos, tags)
    deps = _deps(model, clock, _fake(model), qps=DEFAULT_SHARE_QPS)
    rng = random.Random(seed)
    start = clock.now()
    pushes = sorted(rng.uniform(0, 3 * TIMER_S) for _ in range(lost))
    when: dict[str, float] = {}
    next_tick, pending = start + TIMER_S * 0.5, list(pushes)
    while pending or len(when) < lost:
        while pending and start + pending[0] <= next_tick:
            at = pending.pop(0)
            tag = f"lost{len(when) + len(pending)}-{int(at)}"
            repo = f"svc{rng.randrange(repos):04d}"
            clock.advance(max(0.0, start + at - clock.now()))
            model.push("cri-demo-src", "team-a", repo, tag)
            when[f"{repo}:{tag}"] = clock.now()
        clock.advance(max(0.0, next_tick - clock.now()))
        run_slice(deps, deadline=clock.monotonic() + SLICE_S)
        next_tick += TIMER_S
        if next_tick - start > 50 * TIMER_S:
            break
    delays = []
    for record in model.requests_for("CreateRepoSyncTask"):
        key = f"{record.params['TargetRepoName']}:{record.params['TargetTag']}"
        if key in when:
            delays.append(record.time - when.pop(key))
    pass_s = (repos * 3 + 3 * math.ceil(repos / PAGE)) / (DEFAULT_SHARE_QPS / 1.25)
    return {
        "repos": repos,
        "tags": tags,
        "lost_events": lost,
        "repaired": len(delays),
        "max_s": round(max(delays), 1) if delays else None,
        "p50_s": round(sorted(delays)[len(delays) // 2], 1) if delays else None,
        "target_s (timer period + one pass, the pass spans ceil(pass/275 s) ticks)": round(
            TIMER_S + math.ceil(pass_s / (SLICE_S - 20)) * TIMER_S, 1
        ),
    }


def run() -> dict[str, Any]:
    configure(level="WARNING")  # the figures, not every submitted task, are the output
    grid = [(10, 10), (100, 100), (100, 250), (300, 30)]
    calls = [calls_per_pass(r, t) for r, t in grid]
    small = peak_memory(20, 100)
    more_repos = peak_memory(200, 100)
    more_tags = peak_memory(20, 1000)
    return {
        "calls_per_pass_vs_floor": calls,
        "pass_1000x100_real_sdk_emulator": pass_on_emulator(1000, 100),
        "peak_traced_bytes": {
            "20x100": small,
            "200x100 (tags x10 by repositories)": more_repos,
            "20x1000 (tags x10 per repository)": more_tags,
            "ratio_by_repositories": round(more_repos / small, 2),
            "ratio_per_repository": round(more_tags / small, 2),
        },
        "lost_event_to_repair": lost_event_to_repair(200, 20, 20),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
