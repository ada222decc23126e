"""The reconciler's referrer step over fakes: what it reads of the ledger, and what it never reads.

Its subjects come from each repository's audit (the source tags updated within the window whose
destination has companions on); their rows are read by key. The ledger's history — rows outside the
window, rows of other repositories — is never range-read, so a pass costs the same however long it is.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from acrsync.adapters.memory import MemoryLedger
from acrsync.domain.ledger import LedgerEntry, State
from acrsync.domain.oci import Descriptor
from acrsync.local.fake_world import World
from acrsync.local.reconcile_world import reconcile_deps, reconcile_pass
from acrsync.ports import CopyLauncher, RegistryClient
from acrsync.service.copy_jobs import CopyDeps
from acrsync.service.reconcile import SliceReport
from acrsync.service.referrers import ReferrerDeps
from tests.harness import push_event
from tests.registry_fakes import UnusedRegistry
from tests.unit.reconcile_fixtures import reconcile_world, settle

COMPANIONS_SH = "        companions: true"
DAY = 24 * 3600.0


class ReadCounter(MemoryLedger):
    """The world's ledger, counting batched reads; once ``refuse_scans`` is set a full-ledger read fails."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []
        self.refuse_scans = False

    def scan(self, *, since: float = 0.0, states: frozenset[State] | None = None) -> Iterator[LedgerEntry]:
        if self.refuse_scans:
            raise AssertionError("the reconciler read the whole ledger (scan): history-sized on Tablestore")
        return super().scan(since=since, states=states)

    def get_many(self, claim_ids: Sequence[str]) -> dict[str, LedgerEntry]:
        self.batches.append(len(claim_ids))
        return super().get_many(claim_ids)


class NoLauncher(CopyLauncher):
    def launch(self, claim_id: str) -> None:
        raise AssertionError("the referrer step copies in process, it never launches the copier")


class NoReferrers(UnusedRegistry):
    """A registry whose images have no referrers: it only answers the referrers listing, and counts it
    (nothing is missing, so nothing else may be asked)."""

    def __init__(self, asked: list[tuple[str, str]]) -> None:
        self.asked = asked

    def referrers(self, repo: str, digest: str) -> list[Descriptor]:
        self.asked.append((repo, digest))
        return []


def replicate(world: World, repo: str, tags: Sequence[str]) -> list[str]:
    """Push ``tags`` of ``team-a/<repo>`` with their events; ACR and the watcher finish. Their digests."""
    digests = []
    for tag in tags:
        digest = world.model.push("cri-demo-src", "team-a", repo, tag)
        world.push(push_event(tag, digest, repo=repo))
        digests.append(digest)
    settle(world)
    return digests


def counted_world(tmp: Path, **extra: str) -> tuple[World, Path, ReadCounter]:
    world, rules = reconcile_world(tmp, **extra)
    world.ledger = ReadCounter()
    return world, rules, world.ledger


def referrer_deps(world: World, asked: list[tuple[str, str]], window_s: float = DAY) -> ReferrerDeps:
    def client(*_args: str) -> RegistryClient:
        return NoReferrers(asked)

    return ReferrerDeps(CopyDeps(world.ledger, world.clock, NoLauncher(), client, client), window_s)


def one_pass(world: World, rules: Path, ledger: ReadCounter, referrers: ReferrerDeps) -> SliceReport:
    ledger.refuse_scans, ledger.batches = True, []
    return reconcile_pass(replace(reconcile_deps(world, rules), referrers=referrers), world)


def test_given_no_rule_with_companions_when_a_pass_runs_then_the_step_reads_nothing(tmp_path: Path) -> None:
    world, rules, ledger = counted_world(tmp_path)
    replicate(world, "web", ["v1"])
    asked: list[tuple[str, str]] = []
    report = one_pass(world, rules, ledger, referrer_deps(world, asked))
    assert report.completed
    assert ledger.batches == []
    assert asked == []
    assert report.tally.referrers == {}


def test_given_a_long_ledger_history_when_a_pass_runs_then_only_recent_subjects_rows_are_read_by_key(
    tmp_path: Path,
) -> None:
    # GIVEN a month of history: 40 images of team-a/web and 30 of team-a/api, replicated 30 days ago
    world, rules, ledger = counted_world(tmp_path, sh_extra=COMPANIONS_SH)
    old_web = replicate(world, "web", [f"old-{i}" for i in range(40)])
    replicate(world, "api", [f"old-{i}" for i in range(30)])
    world.clock.advance(30 * DAY)
    # AND today two new images of team-a/web (one pushed twice under two tags) and one of team-a/api
    new_web = replicate(world, "web", ["v2", "v3"])
    world.model.push("cri-demo-src", "team-a", "web", "latest", new_web[1])
    world.push(push_event("latest", new_web[1], repo="web"))
    new_api = replicate(world, "api", ["v9"])
    settle(world)
    assert {r.state for r in world.rows()} == {State.VERIFIED}
    asked: list[tuple[str, str]] = []
    # WHEN a pass runs (a scan would raise)
    report = one_pass(world, rules, ledger, referrer_deps(world, asked))
    # THEN it completed and followed exactly the recent subjects (asked at the source: none has referrers)
    assert report.completed
    assert report.tally.referrers["subjects"] == 3
    assert sorted(asked) == sorted([*(("team-a/web", d) for d in new_web), ("team-a/api", *new_api)])
    assert not set(old_web) & {d for _, d in asked}
    # AND the ledger was read once per repository, by the keys of its recent tags' companion destinations
    assert sorted(ledger.batches) == [1, 3]  # api: v9; web: v2, v3, latest (Shanghai only)


def test_given_the_window_set_to_zero_when_a_pass_runs_then_the_step_reads_nothing(tmp_path: Path) -> None:
    world, rules, ledger = counted_world(tmp_path, sh_extra=COMPANIONS_SH)
    replicate(world, "web", ["v1"])
    asked: list[tuple[str, str]] = []
    report = one_pass(world, rules, ledger, referrer_deps(world, asked, window_s=0.0))
    assert report.completed
    assert (ledger.batches, asked) == ([], [])
