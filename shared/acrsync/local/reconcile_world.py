"""The reconciler over the world of fakes (``fake_world.World``): tests and the bench share this wiring."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from acrsync.adapters.state_store import MemoryStateStore
from acrsync.domain.reconcile import Finding, policies
from acrsync.domain.rules import compile_rules
from acrsync.local.fake_world import World
from acrsync.ports import StateStore
from acrsync.service.gate import CallGate
from acrsync.service.reconcile import Options, ReconcileDeps, SliceReport, run_slice
from acrsync.service.rules_admin import validate_file
from acrsync.service.submit import Submitter


def reconcile_deps(
    world: World, rules: Path, *, state: StateStore | None = None, qps: int = 1000, only_rule: str = ""
) -> ReconcileDeps:
    """A reconciler on the world's model, ledger and clock; ``state`` keeps the cursor between slices."""
    doc = validate_file(rules)
    chosen = [r for r in doc.rules if not only_rule or r["name"] == only_rule]
    gate = CallGate(world.budget, world.clock, qps=qps)
    return ReconcileDeps(
        index=compile_rules(doc.rules, doc.channels),  # the file as it is now (tests edit it)
        policies=policies(chosen),
        ledger=world.ledger,
        registry=world.registry,
        gate=gate,
        clock=world.clock,
        submitter=Submitter(world.ledger, world.registry, gate, world.clock),
        state=state or MemoryStateStore(),
        region="cn-hangzhou",
    )


def reconcile_pass(
    deps: ReconcileDeps,
    world: World,
    *,
    options: Options | None = None,
    seconds: float = 280.0,
    on_finding: Callable[[Finding], None] | None = None,
) -> SliceReport:
    """One slice with ``seconds`` before its deadline (the function's timeout minus its margin)."""
    return run_slice(
        deps, deadline=world.clock.monotonic() + seconds, options=options or Options(), on_finding=on_finding
    )
