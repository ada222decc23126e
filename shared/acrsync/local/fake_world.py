"""A wired world of fakes: ACR model + FakeRegistry, memory stores, manual clock, recording notifier.

No sockets: the services the functions run, over in-memory adapters that pass the same contract suites
as the real ones. Service tests and the benchmarks use it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acrsync.adapters.memory import MemoryBudgetStore, MemoryLedger
from acrsync.domain.alerts import AlertMessage
from acrsync.domain.ledger import LedgerEntry
from acrsync.domain.rules import RuleIndex, compile_rules
from acrsync.errors import UpstreamUnavailable
from acrsync.local.acr_model import AcrModel
from acrsync.local.fake_registry import FakeRegistry
from acrsync.local.stack import ACCOUNT_ID, seed_events, seed_world
from acrsync.ports import AlertChannel, Notifier, RegistryApi
from acrsync.service.clock import ManualClock
from acrsync.service.gate import CallGate
from acrsync.service.replicate import ReplicatorDeps, handle_push
from acrsync.service.rules_admin import validate_file
from acrsync.service.submit import Submitter
from acrsync.service.watch import WatchDeps, handle_watch

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE_RULES = ROOT / "examples" / "rules.yaml"


class RecordingNotifier(Notifier):
    """A fake Notifier: records messages; can be told to fail the next N sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[AlertChannel, AlertMessage]] = []
        self.fail_next = 0

    def send(self, channel: AlertChannel, message: AlertMessage) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise UpstreamUnavailable("DingTalk busy (-1)", code="-1")
        self.sent.append((channel, message))


@dataclass
class World:
    """Everything a replicator or watcher needs, as fakes, plus handles for assertions."""

    model: AcrModel
    ledger: MemoryLedger
    clock: ManualClock
    index: RuleIndex
    notifier: RecordingNotifier = field(default_factory=RecordingNotifier)
    budget: MemoryBudgetStore = field(default_factory=MemoryBudgetStore)
    registries: dict[str, RegistryApi] = field(default_factory=dict)
    wrap: Callable[[RegistryApi], RegistryApi] | None = None
    channel: AlertChannel | None = field(
        default_factory=lambda: AlertChannel("ops", "https://example.invalid/robot")
    )

    def registry(self, region: str) -> RegistryApi:
        if region not in self.registries:
            api: RegistryApi = FakeRegistry(self.model, region=region)
            self.registries[region] = self.wrap(api) if self.wrap else api
        return self.registries[region]

    @property
    def gate(self) -> CallGate:
        return CallGate(self.budget, self.clock, qps=1000)

    @property
    def submitter(self) -> Submitter:
        return Submitter(self.ledger, self.registry, self.gate, self.clock)

    def replicator(self) -> ReplicatorDeps:
        return ReplicatorDeps(
            rules=lambda: self.index,
            ledger=self.ledger,
            registry=self.registry,
            gate=self.gate,
            clock=self.clock,
            allowed_accounts=frozenset({ACCOUNT_ID}),
            submitter=self.submitter,
        )

    def watcher(self) -> WatchDeps:
        return WatchDeps(
            ledger=self.ledger,
            registry=self.registry,
            gate=self.gate,
            clock=self.clock,
            submitter=self.submitter,
            notifier=self.notifier,
            channels=lambda name: self.channel,
            allowed_accounts=frozenset({ACCOUNT_ID}),
        )

    def push(self, raw: bytes | str) -> dict[str, Any]:
        return handle_push(raw, self.replicator(), deadline=self.clock.monotonic() + 55).as_response()

    def tick(self) -> dict[str, Any]:
        event = json.dumps({"triggerTime": "2026-11-28T00:00:00Z", "triggerName": "sweep", "payload": "{}"})
        return handle_watch(event, self.watcher(), deadline=self.clock.monotonic() + 115).as_response()

    def creates(self) -> list[Any]:
        return [r for r in self.model.requests_for("CreateRepoSyncTask") if r.outcome == "ok"]

    def rows(self) -> list[LedgerEntry]:
        return list(self.ledger.scan())


def make_world(rules: Path = EXAMPLE_RULES) -> World:
    clock = ManualClock()
    model = AcrModel(account_id=ACCOUNT_ID, clock=clock.now)
    seed_world(model)
    seed_events(model, ROOT / "events")
    doc = validate_file(rules)
    return World(
        model=model, ledger=MemoryLedger(), clock=clock, index=compile_rules(doc.rules, doc.channels)
    )
