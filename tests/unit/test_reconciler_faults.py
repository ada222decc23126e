"""Bad input and a bad day: missing instances, no permission, 30% throttling — findings and retries, never a
crash, never a lost cursor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from acrsync.adapters.state_store import MemoryStateStore
from acrsync.domain.reconcile import Finding, Kind
from acrsync.domain.registry import TagInfo
from acrsync.domain.rules import compile_rules
from acrsync.errors import UpstreamRejected
from acrsync.local.acr_model import AcrModel
from acrsync.local.fake_registry import FakeRegistry
from acrsync.local.reconcile_world import reconcile_deps, reconcile_pass
from acrsync.service.rules_admin import validate_file
from tests.harness import Crash
from tests.unit.reconcile_fixtures import reconcile_world, settle
from tests.unit.test_reconciler import DESTS, creates_per_destination


class NoPrivilegeOn(FakeRegistry):
    """The fake registry, except that RAM denies listing one repository's tags."""

    def __init__(self, model: AcrModel, region: str, denied: str) -> None:
        super().__init__(model, region=region)
        self.denied = denied

    def list_repo_tags(self, instance_id: str, repo_id: str) -> Iterator[TagInfo]:
        if repo_id == self.denied:
            raise UpstreamRejected("ACR ListRepoTag refused: NoPrivilege", code="NoPrivilege")
        return super().list_repo_tags(instance_id, repo_id)


def test_given_a_destination_instance_that_does_not_exist_then_unreachable_findings_and_one_alert(
    tmp_path: Path,
) -> None:
    world, rules = reconcile_world(tmp_path, bj_extra="")
    rules.write_text(rules.read_text().replace("cri-demo-bj", "cri-gone"), encoding="utf-8")
    world, rules = reconcile_world(tmp_path)
    rules.write_text(
        rules.read_text().replace("instance: cri-demo-bj", "instance: cri-gone"), encoding="utf-8"
    )

    doc = validate_file(rules)
    world.index = compile_rules(doc.rules, doc.channels)
    for tag in ("v1", "v2"):
        world.model.push("cri-demo-src", "team-a", "web", tag)
    findings: list[Finding] = []
    report = reconcile_pass(reconcile_deps(world, rules), world, on_finding=findings.append)
    settle(world)
    assert report.completed
    gone = [f for f in findings if f.destination.startswith("cri-gone")]
    assert {f.kind for f in gone} == {Kind.UNREACHABLE}
    assert len(gone) == 2
    assert "INSTANCE_NOT_EXIST" in gone[0].detail
    assert {f.outcome for f in findings if f.destination.startswith("cri-demo-sh")} == {"submitted"}
    assert len([m for _, m in world.notifier.sent if "destination unreachable" in m.title]) == 1


def test_given_a_source_repository_without_permission_then_a_finding_and_the_others_are_audited(
    tmp_path: Path,
) -> None:
    world, rules = reconcile_world(tmp_path)
    world.model.push("cri-demo-src", "team-a", "secret", "v1")
    world.model.push("cri-demo-src", "team-a", "web", "v1")
    denied = world.model.repo_by_name("cri-demo-src", "team-a", "secret").repo_id
    world.wrap = lambda api: NoPrivilegeOn(world.model, "cn-hangzhou", denied)
    findings: list[Finding] = []
    report = reconcile_pass(reconcile_deps(world, rules), world, on_finding=findings.append)
    assert report.completed
    (unreadable,) = [f for f in findings if "secret" in f.source]
    assert unreadable.kind is Kind.UNREACHABLE
    assert "NoPrivilege" in unreadable.detail
    assert {f.destination.split("/")[2] for f in findings if f.kind is Kind.MISSING} == {"web:v1"}


def test_given_30pct_throttling_when_slices_run_until_the_pass_completes_then_all_repaired_exactly_once(
    tmp_path: Path,
) -> None:
    world, rules = reconcile_world(tmp_path)
    for i in range(30):
        world.model.push("cri-demo-src", "team-a", f"svc{i % 6}", f"v{i}")
    world.model.faults.throttle_rate = 0.3
    state = MemoryStateStore()
    deps = reconcile_deps(world, rules, state=state)
    stops: list[str] = []
    for _ in range(30):
        report = reconcile_pass(deps, world, seconds=40.0)
        if report.completed:
            break
        stops.append(report.stopped)
        assert state.read("reconciler:cursor")[0]["pass_id"] == report.pass_id  # the cursor holds
    assert report.completed
    world.model.faults.throttle_rate = 0.0
    settle(world)
    counts = creates_per_destination(world)
    assert all(counts[(d, f"svc{i % 6}", f"v{i}")] == 1 for i in range(30) for d in DESTS)
    assert any(r.outcome.startswith("Throttling") for r in world.model.requests)


class DiesOnListing(FakeRegistry):
    """The process dies (FC kills the instance) during the ``n``-th ``ListRepoTag``."""

    def __init__(self, model: AcrModel, region: str, calls: list[int], n: int) -> None:
        super().__init__(model, region=region)
        self.calls, self.n = calls, n

    def list_repo_tags(self, instance_id: str, repo_id: str) -> Iterator[TagInfo]:
        self.calls[0] += 1
        if self.calls[0] == self.n:
            raise Crash
        return super().list_repo_tags(instance_id, repo_id)


def test_given_an_invocation_killed_mid_pass_when_the_next_runs_then_it_resumes_and_repeats_one_repository(
    tmp_path: Path,
) -> None:
    # GIVEN 8 repositories with one missing image each, and a reconciler killed during its 7th listing
    world, rules = reconcile_world(tmp_path)
    for i in range(8):
        world.model.push("cri-demo-src", "team-a", f"svc{i}", "v1")
    calls = [0]
    world.wrap = lambda api: DiesOnListing(world.model, "cn-hangzhou", calls, n=7)
    state = MemoryStateStore()
    deps = reconcile_deps(world, rules, state=state)
    with pytest.raises(Crash):
        reconcile_pass(deps, world)
    cursor, _ = state.read("reconciler:cursor")
    # WHEN the next tick runs
    listed: list[str] = []
    world.wrap = None
    world.registries.clear()
    report = reconcile_pass(deps, world, on_finding=lambda f: listed.append(f.source))
    # THEN the pass completes from the cursor: only the repositories not yet done are audited again
    assert report.completed
    assert report.pass_id == cursor["pass_id"]
    # (destination repositories do not exist yet: one ListRepoTag per repository, the 7th is svc6's)
    assert cursor["done"] == 6
    assert sorted({s.split("/")[2].split(":")[0] for s in listed}) == ["svc6", "svc7"]
    counts = creates_per_destination(world)
    assert all(counts[(d, f"svc{i}", "v1")] == 1 for i in range(8) for d in DESTS)
