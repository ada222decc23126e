"""The reconciler over fakes: lost events repaired exactly once, races harmless, resume from the cursor."""

from __future__ import annotations

import random
from pathlib import Path

from acrsync.adapters.state_store import MemoryStateStore
from acrsync.domain.reconcile import Finding, Kind
from acrsync.local.reconcile_world import reconcile_deps, reconcile_pass
from acrsync.service.reconcile import Options
from tests.harness import push_event
from tests.unit.reconcile_fixtures import reconcile_world, settle

DESTS = ("cri-demo-sh", "cri-demo-bj")


def dest_digest(world, instance: str, repo: str, tag: str) -> str | None:  # type: ignore[no-untyped-def]
    for r in world.model.repos.values():
        if (r.instance_id, r.namespace, r.name) == (instance, "team-a", repo):
            found = r.tags.get(tag)
            return found.digest if found else None
    return None


def creates_per_destination(world) -> dict[tuple[str, str, str], int]:  # type: ignore[no-untyped-def]
    counts: dict[tuple[str, str, str], int] = {}
    for record in world.creates():
        key = (record.params["TargetInstanceId"], record.params["TargetRepoName"], record.params["TargetTag"])
        counts[key] = counts.get(key, 0) + 1
    return counts


def test_given_200_pushes_with_30pct_lost_and_10pct_malformed_when_one_pass_runs_then_all_arrive_once(
    tmp_path: Path,
) -> None:
    # GIVEN 200 pushes to team-a/web and team-a/api; 30% never reach the replicator, 10% arrive malformed
    world, rules = reconcile_world(tmp_path)
    rng = random.Random(7)
    pushed: list[tuple[str, str, str]] = []
    for i in range(200):
        repo = ("web", "api")[i % 2]
        tag = f"v1.{i}.0"
        digest = world.model.push("cri-demo-src", "team-a", repo, tag)
        pushed.append((repo, tag, digest))
        fate = rng.random()
        if fate < 0.3:
            continue  # lost
        if fate < 0.4:
            world.push(b'{"specversion": "1.0", "type": "cr:Artifact:PushCompleted", "data": "\\u0000"}')
            continue
        world.push(push_event(tag, digest, repo=repo))
    settle(world, ticks=2)
    # WHEN the reconciler runs one full pass, then ACR and the watcher finish the tasks
    deps = reconcile_deps(world, rules)
    report = reconcile_pass(deps, world)
    settle(world)
    # THEN the pass completed, every destination holds the right digest
    assert report.completed
    for repo, tag, digest in pushed:
        for instance in DESTS:
            assert dest_digest(world, instance, repo, tag) == digest, (instance, repo, tag)
    # AND exactly one CreateRepoSyncTask per destination image
    counts = creates_per_destination(world)
    assert all(counts[(instance, repo, tag)] == 1 for repo, tag, _ in pushed for instance in DESTS)
    assert set(counts.values()) == {1}  # the fixtures' images (seeded, never pushed as events) too
    # AND the repairs were counted as events missed, with one notice sent as one alert
    assert report.tally.events_missed == report.tally.outcomes["submitted"]
    assert 2 * 60 <= report.tally.events_missed <= 2 * 100
    missed = [m for _, m in world.notifier.sent if "no push event brought" in m.markdown]
    assert len(missed) == 1
    assert str(report.tally.events_missed) in missed[0].markdown


def test_given_everything_in_sync_when_a_second_pass_runs_then_it_finds_nothing_and_creates_nothing(
    tmp_path: Path,
) -> None:
    world, rules = reconcile_world(tmp_path)
    for i in range(5):
        digest = world.model.push("cri-demo-src", "team-a", "web", f"v{i}")
        world.push(push_event(f"v{i}", digest))
    settle(world)
    before = len(world.creates())
    findings: list[Finding] = []
    report = reconcile_pass(reconcile_deps(world, rules), world, on_finding=findings.append)
    assert report.completed
    assert {f.kind for f in findings if "/web:" in f.source} == {Kind.IN_SYNC}
    assert report.tally.kinds["in_sync"] >= 10
    assert len(world.creates()) == before


def test_given_a_replicator_racing_the_reconciler_when_both_handle_the_same_pushes_then_no_duplicate_task(
    tmp_path: Path,
) -> None:
    # GIVEN pushes whose events arrive only after the reconciler has listed the source
    world, rules = reconcile_world(tmp_path)
    events = []
    for i in range(20):
        digest = world.model.push("cri-demo-src", "team-a", "web", f"r{i}")
        events.append(push_event(f"r{i}", digest))
    deps = reconcile_deps(world, rules)
    # WHEN the reconciler repairs and, interleaved, the replicator delivers every event (some twice)
    reconcile_pass(deps, world)
    for raw in events + events[:5]:
        world.push(raw)
    reconcile_pass(deps, world)
    settle(world)
    # THEN one task per destination image
    counts = creates_per_destination(world)
    assert all(counts[(d, "web", f"r{i}")] == 1 for i in range(20) for d in DESTS)
    assert set(counts.values()) == {1}


def test_given_a_dry_run_when_images_are_missing_then_they_are_reported_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    world, rules = reconcile_world(tmp_path)
    world.model.push("cri-demo-src", "team-a", "web", "v1")
    findings: list[Finding] = []
    report = reconcile_pass(
        reconcile_deps(world, rules),
        world,
        options=Options(write=False, cursor=False),
        on_finding=findings.append,
    )
    assert report.completed
    assert {(f.kind, f.outcome) for f in findings} == {(Kind.MISSING, "dry_run")}
    assert {f.destination for f in findings if "/web:v1" in f.source} == {
        "cri-demo-sh@cn-shanghai/team-a/web:v1",
        "cri-demo-bj@cn-beijing/team-a/web:v1",
    }
    assert world.creates() == []
    assert world.rows() == []


def test_given_a_slice_stopped_by_its_deadline_when_the_next_runs_then_it_resumes_from_the_cursor(
    tmp_path: Path,
) -> None:
    # GIVEN 12 source repositories with one missing image each
    world, rules = reconcile_world(tmp_path)
    for i in range(12):
        world.model.push("cri-demo-src", "team-a", f"svc{i:02d}", "v1")
    state = MemoryStateStore()
    deps = reconcile_deps(world, rules, state=state)
    # WHEN each slice gets time for only a few repositories (each audit costs time on the clock)
    audited: list[str] = []
    world.model.faults.latency_s = 0.0
    slices = 0
    while True:
        slices += 1
        budget_s = 30.0 + 0.0
        report = deps_slice(deps, world, audited, budget_s)
        if report.completed:
            break
        assert slices < 20
    # THEN the pass took several slices and audited every repository exactly once
    assert slices > 1
    assert sorted(audited) == sorted(f"svc{i:02d}" for i in range(12))
    assert {(r.params["TargetRepoName"], r.params["TargetTag"]) for r in world.creates()} >= {
        (f"svc{i:02d}", "v1") for i in range(12)
    }
    assert state.read("reconciler:cursor") == ({}, state.read("reconciler:cursor")[1])
    assert state.read("reconciler:last_pass")[0]["repositories"] == 12


def deps_slice(deps, world, audited: list[str], budget_s: float):  # type: ignore[no-untyped-def]
    """A slice where every repository's audit takes 4 s of clock time; 30 s budget - 20 s margin."""

    def on_finding(finding: Finding) -> None:
        repo = finding.source.split("/")[2].split(":")[0]
        if finding.destination.startswith("cri-demo-sh"):
            audited.append(repo)
            world.clock.advance(4.0)

    return reconcile_pass(deps, world, seconds=budget_s, on_finding=on_finding)


def test_given_listings_whose_last_page_is_full_when_a_pass_runs_then_one_budget_token_per_request(
    tmp_path: Path,
) -> None:
    # GIVEN repositories of exactly 100 and 150 tags (a full last page; a second page)
    world, rules = reconcile_world(tmp_path)
    for i in range(100):
        world.model.push("cri-demo-src", "team-a", "full", f"v{i}")
    for i in range(150):
        world.model.push("cri-demo-src", "team-a", "more", f"v{i}")
    deps = reconcile_deps(world, rules)
    before = len(world.model.requests)
    # WHEN a dry-run pass lists everything
    report = reconcile_pass(deps, world, options=Options(write=False, cursor=False))
    # THEN the budget was charged exactly once per ACR request
    requests = world.model.requests[before:]
    assert report.api_calls == len(requests)
    assert {r.action for r in requests} == {"ListRepository", "ListRepoTag"}


def test_given_the_source_instances_change_mid_pass_when_the_next_slice_runs_then_a_new_pass_starts(
    tmp_path: Path,
) -> None:
    world, rules = reconcile_world(tmp_path)
    for i in range(6):
        world.model.push("cri-demo-src", "team-a", f"svc{i}", "v1")
    state = MemoryStateStore()
    audited: list[str] = []
    first = deps_slice(reconcile_deps(world, rules, state=state), world, audited, 30.0)
    assert not first.completed
    # WHEN a rule for another source instance is added before the next tick
    text = rules.read_text(encoding="utf-8")
    rules.write_text(
        text.replace("instance: cri-demo-src", "instance: cri-demo-sh", 1) + "", encoding="utf-8"
    )
    second = reconcile_pass(reconcile_deps(world, rules, state=state), world)
    # THEN positions of the old pass are not reused: a new pass over the new instances
    assert second.pass_id != first.pass_id
    assert second.completed
