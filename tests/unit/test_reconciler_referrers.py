"""The reconciler's referrer step over fakes: it reads the ledger only when some rule wants companions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from acrsync.adapters.memory import MemoryLedger
from acrsync.domain.ledger import LedgerEntry, State
from acrsync.local.reconcile_world import reconcile_deps, reconcile_pass
from acrsync.ports import CopyLauncher, RegistryClient
from acrsync.service.copy_jobs import CopyDeps
from acrsync.service.referrers import ReferrerDeps
from tests.unit.reconcile_fixtures import reconcile_world


class ScanCounter(MemoryLedger):
    def __init__(self) -> None:
        super().__init__()
        self.scans = 0

    def scan(self, *, since: float = 0.0, states: frozenset[State] | None = None) -> Iterator[LedgerEntry]:
        self.scans += 1
        return super().scan(since=since, states=states)


class NoLauncher(CopyLauncher):
    def launch(self, claim_id: str) -> None:
        raise AssertionError("the referrer step copies in process, it never launches the copier")


def no_registry(*_args: str) -> RegistryClient:
    raise AssertionError("no registry is reached when the ledger holds no recent subject")


@pytest.mark.parametrize(("sh_extra", "scans"), [("", 0), ("        companions: true", 1)])
def test_the_step_scans_the_ledger_once_per_pass_and_only_when_a_rule_has_companions_on(
    tmp_path: Path, sh_extra: str, scans: int
) -> None:
    world, rules = reconcile_world(tmp_path, sh_extra=sh_extra)
    ledger = ScanCounter()
    copies = CopyDeps(ledger, world.clock, NoLauncher(), no_registry, no_registry)
    deps = replace(reconcile_deps(world, rules), referrers=ReferrerDeps(copies, 24 * 3600.0))
    report = reconcile_pass(deps, world)
    assert report.completed
    assert ledger.scans == scans
    assert report.tally.as_dict()["referrers_copied"] == 0
