"""Backfill benchmark: tags evaluated and tasks submitted per second at a fixed ACR QPS budget.

Two runs over ``examples/rules.yaml``:

* ``fake``: 10,000 source tags, the in-memory fake registry and ledger, a manual clock (the gate's waits
  advance it instantly). ``simulated_*`` rates are what the budget allows (the real-world throughput at that
  QPS); ``wall_*`` rates are what the engine itself costs. ``peak_kib`` is the traced memory peak of a dry run
  over the same tags (streaming: it should not grow with the tag count).
* ``emulator``: a short run through the real ACR SDK against the loopback emulator, SQLite ledger, wall clock.

Run: ``.venv/bin/python bench/bench_backfill.py``
"""

from __future__ import annotations

import json
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from acrsync import bootstrap
from acrsync.adapters.memory import MemoryBudgetStore, MemoryLedger
from acrsync.local.acr_model import AcrModel
from acrsync.local.fake_registry import FakeRegistry
from acrsync.local.stack import LocalCloud, seed_world
from acrsync.logging import configure
from acrsync.service import backfill, rules_admin
from acrsync.service.backfill import BackfillDeps
from acrsync.service.clock import ManualClock
from acrsync.service.gate import CallGate
from acrsync.service.submit import Submitter

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "examples" / "rules.yaml"
SRC, REGION = "cri-demo-src", "cn-hangzhou"
FAKE_TAGS = 10_000
FAKE_QPS = 50
EMULATOR_TAGS = 60
EMULATOR_QPS = 100
REPOS = [("team-a", "web"), ("team-a", "api"), ("platform", "api-gw"), ("misc", "tool")]


def _seed(model: AcrModel, n: int) -> None:
    kinds = ("v1.{i}.0", "release-{i}", "nightly-{i}", "feature-{i}", "hotfix-{i}")
    for i in range(n):
        ns, repo = REPOS[i % len(REPOS)]
        model.push(SRC, ns, repo, kinds[i % len(kinds)].format(i=i), "sha256:" + f"{i:064x}")


def _fake_deps(model: AcrModel, clock: ManualClock, qps: int) -> BackfillDeps:
    doc = rules_admin.validate_file(RULES)
    ledger = MemoryLedger()
    registries: dict[str, FakeRegistry] = {}

    def registry(region: str) -> FakeRegistry:
        return registries.setdefault(region, FakeRegistry(model, region=region))

    gate = CallGate(MemoryBudgetStore(), clock, qps=qps)
    return BackfillDeps(
        index=backfill.index_for(doc.rules, doc.channels),
        ledger=ledger,
        registry=registry,
        gate=gate,
        clock=clock,
        submitter=Submitter(ledger, registry, gate, clock),
        region=REGION,
    )


def _rates(report: backfill.BackfillReport, seconds: float, prefix: str) -> dict[str, float]:
    return {
        f"{prefix}_s": round(seconds, 3),
        f"{prefix}_tags_per_s": round(report.tags_evaluated / seconds, 1) if seconds else 0.0,
        f"{prefix}_tasks_per_s": round(report.submitted / seconds, 1) if seconds else 0.0,
    }


def bench_fake(tags: int = FAKE_TAGS, qps: int = FAKE_QPS) -> dict[str, Any]:
    """Backfill ``tags`` tags through the fake registry at ``qps``; also a traced dry run for memory."""
    clock = ManualClock()
    model = AcrModel(clock=clock.now)
    seed_world(model)
    _seed(model, tags)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    dry = backfill.run(_fake_deps(model, clock, qps), dry_run=True)
    peak_kib = (tracemalloc.get_traced_memory()[1] - base) / 1024
    tracemalloc.stop()
    deps = _fake_deps(model, clock, qps)
    calls_before = len(model.requests)
    sim_start, wall_start = clock.now(), time.perf_counter()
    report = backfill.run(deps)
    wall, simulated = time.perf_counter() - wall_start, clock.now() - sim_start
    calls = len(model.requests) - calls_before
    return {
        "tags": report.tags_evaluated,
        "matched": report.matched,
        "submitted": report.submitted,
        "qps_budget": qps,
        "acr_calls": calls,
        "observed_calls_per_simulated_s": round(calls / simulated, 1) if simulated else 0.0,
        **_rates(report, simulated, "simulated"),
        **_rates(report, wall, "wall"),
        "dry_run_peak_kib": round(peak_kib, 1),
        "dry_run_planned": dry.matched,
    }


def bench_emulator(tags: int = EMULATOR_TAGS, qps: int = EMULATOR_QPS) -> dict[str, Any]:
    """A short backfill through the real SDK over loopback, on the wall clock."""
    with tempfile.TemporaryDirectory(prefix="acrsync-bench-") as tmp, LocalCloud(Path(tmp)) as cloud:
        _seed(cloud.model, tags)
        bootstrap.reset(cloud.env)
        doc = rules_admin.validate_file(RULES)
        rules_admin.apply(bootstrap.stores().rules, doc, prune=True, dry_run=False, now=time.time())
        deps = bootstrap.backfill_deps(max_qps=qps)
        started = time.perf_counter()
        report = backfill.run(deps)
        wall = time.perf_counter() - started
        calls = len(cloud.model.requests)
        bootstrap.reset()
    return {
        "tags": report.tags_evaluated,
        "submitted": report.submitted,
        "qps_budget": qps,
        "acr_calls": calls,
        "observed_calls_per_s": round(calls / wall, 1),
        **_rates(report, wall, "wall"),
    }


def run() -> dict[str, Any]:
    """Both runs; returns their numbers."""
    return {"fake": bench_fake(), "emulator": bench_emulator()}


if __name__ == "__main__":
    configure(level="WARNING")  # the per-task INFO lines would drown the numbers
    print(json.dumps(run(), indent=2))
