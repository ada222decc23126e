"""Backfill over the emulated account (fake registry, memory ledger, manual clock): planned exactly as the
rules say, submitted once per destination however it is interrupted and re-run, within the QPS budget."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from acrsync.domain.images import SourceImage
from acrsync.domain.registry import SyncTaskSpec
from acrsync.domain.rules import evaluate
from acrsync.errors import RuleConfigError
from acrsync.local.acr_faults import SERVER_ERROR
from acrsync.ports import RegistryApi
from acrsync.service import backfill
from acrsync.service.backfill import BackfillDeps, PlanItem
from acrsync.service.gate import CallGate
from acrsync.service.rules_admin import validate_file
from acrsync.service.submit import CLAIM_STALE_S, Submitter
from tests.harness import EXAMPLE_RULES, World, make_world

SRC, REGION = "cri-demo-src", "cn-hangzhou"
REPOS = [
    ("team-a", "web"),
    ("team-a", "api"),
    ("team-a", "sandbox-x"),
    ("platform", "api-gw"),
    ("misc", "tool"),
]


def _tags(n: int) -> list[str]:
    """A mix the example rules treat differently: semver, prereleases, release-N, dated, debug, latest."""
    kinds = [
        lambda i: f"v1.{i}.0",
        lambda i: f"2.{i}.1-rc.1",
        lambda i: f"release-{i}",
        lambda i: f"2026{i % 12 + 1:02d}{i % 28 + 1:02d}-{i:07x}",
        lambda i: f"1.{i}.0-debug",
        lambda i: f"nightly-{i}",
        lambda i: f"hotfix-{i}",
        lambda i: f"feature-{i}",
    ]
    return [kinds[i % len(kinds)](i) for i in range(n)]


def seed_tags(world: World, total: int) -> None:
    """``total`` tags spread over five source repositories (2,000 in the big tests)."""
    for i, tag in enumerate(_tags(total)):
        ns, repo = REPOS[i % len(REPOS)]
        world.model.push(SRC, ns, repo, tag, "sha256:" + f"{i:064x}")


def deps_for(world: World, *, qps: int = 1000, registry: Any = None) -> BackfillDeps:
    reg = registry or world.registry
    gate = CallGate(world.budget, world.clock, qps=qps)
    return BackfillDeps(
        index=world.index,
        ledger=world.ledger,
        registry=reg,
        gate=gate,
        clock=world.clock,
        submitter=Submitter(world.ledger, reg, gate, world.clock),
        region=REGION,
    )


def expected(world: World) -> set[tuple[str, str, str]]:
    """What the rules ask for, computed independently: every source tag through ``evaluate``."""
    out: set[tuple[str, str, str]] = set()
    for repo in world.model.list_repos(SRC):
        for tag in repo.tags.values():
            image = SourceImage(SRC, REGION, repo.namespace, repo.name, tag.tag, tag.digest, repo.repo_id)
            out |= {(r.rule, r.source.ref, r.destination.ref) for r in evaluate(world.index, image)}
    return out


def run(world: World, deps: BackfillDeps | None = None, **kwargs: Any) -> tuple[Any, list[PlanItem]]:
    items: list[PlanItem] = []
    report = backfill.run(deps or deps_for(world), on_item=items.append, **kwargs)
    return report, items


def create_counts(world: World) -> Counter[tuple[str, str, str, str, str]]:
    return Counter(
        (p["Tag"], p["TargetInstanceId"], p["TargetNamespace"], p["TargetRepoName"], p["TargetTag"])
        for p in (r.params for r in world.creates())
    )


@pytest.fixture
def world() -> World:
    w = make_world()
    seed_tags(w, 2000)
    return w


def test_dry_run_plans_exactly_what_the_rules_ask_for_and_writes_nothing(world: World) -> None:
    # WHEN a dry run goes over 2,000 tags
    report, items = run(world, dry_run=True)
    # THEN the plan is the rules' expectation, one item per (rule, source tag, destination)
    want = expected(world)
    assert len(want) > 500
    assert {(i.rule, i.source, i.destination) for i in items} == want
    assert len(items) == len(want)
    assert {i.action for i in items} == {"would_submit"}
    assert report.tags_evaluated >= 2000
    # AND nothing was claimed or submitted
    assert world.rows() == []
    assert world.model.requests_for("CreateRepoSyncTask") == []


def test_backfill_submits_each_destination_once_and_a_rerun_submits_nothing(world: World) -> None:
    # WHEN the backfill runs twice
    first, _ = run(world)
    second, items = run(world)
    # THEN every planned destination got exactly one task, all from the first run
    counts = create_counts(world)
    assert first.submitted == len(expected(world)) == len(counts)
    assert set(counts.values()) == {1}
    assert second.submitted == 0
    assert {i.action for i in items} == {"duplicate"}
    # AND the claims carry the run id
    assert {r.event_id for r in world.rows()} == {f"backfill:{first.run_id}"}


class Interrupting(RegistryApi):
    """Delegates to the fake; after ``after`` creates, the next create is followed by ``exc``."""

    def __init__(self, inner: RegistryApi, *, after: int, exc: BaseException) -> None:
        self.inner, self.after, self.exc, self.creates = inner, after, exc, 0

    def create_repo_sync_task(self, spec: SyncTaskSpec) -> str:
        task_id = self.inner.create_repo_sync_task(spec)
        self.creates += 1
        if self.creates == self.after + 1:
            raise self.exc  # the task exists in ACR; the ledger never hears of it
        return task_id

    def __getattribute__(self, name: str) -> Any:
        if name in ("inner", "after", "exc", "creates", "create_repo_sync_task"):
            return object.__getattribute__(self, name)
        return getattr(object.__getattribute__(self, "inner"), name)

    get_repository = get_repo_tag = get_repo_sync_task = list_repo_sync_tasks = None  # type: ignore[assignment]
    list_repositories = list_repo_tags = get_instance = get_namespace = None  # type: ignore[assignment]


class Crash(BaseException):
    """The process dies (not an Exception: nothing may catch it)."""


def test_ctrl_c_halfway_then_a_rerun_submits_each_destination_exactly_once(world: World) -> None:
    # GIVEN a run interrupted by Ctrl-C right after its 300th CreateRepoSyncTask returned
    flaky = Interrupting(world.registry(REGION), after=300, exc=KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        run(world, deps_for(world, registry=lambda region: flaky))
    assert len(world.creates()) == 301
    # WHEN the operator runs it again at once
    report, _ = run(world)
    # THEN the orphan task was adopted (not created again) and everything else submitted once
    counts = create_counts(world)
    assert set(counts.values()) == {1}
    assert len(counts) == len(expected(world))
    assert report.actions.get("reconciled") == 1
    assert all(r.task_id for r in world.rows())


def test_process_death_halfway_is_reconciled_once_the_claim_goes_stale(world: World) -> None:
    # GIVEN a run that died right after a create returned (no chance to release its claim)
    dying = Interrupting(world.registry(REGION), after=500, exc=Crash())
    with pytest.raises(Crash):
        run(world, deps_for(world, registry=lambda region: dying))
    # WHEN it is re-run at once: the orphan claim may still be in flight elsewhere, so it is left alone
    early, _ = run(world)
    assert early.actions.get("duplicate", 0) >= 501
    # AND re-run again after CLAIM_STALE_S
    world.clock.advance(CLAIM_STALE_S + 1)
    late, _ = run(world)
    # THEN the orphan was adopted; every destination holds exactly one task
    assert late.actions.get("reconciled") == 1
    assert set(create_counts(world).values()) == {1}
    assert len(create_counts(world)) == len(expected(world))


def test_destination_already_holding_the_digest_is_skipped(world: World) -> None:
    # GIVEN Shanghai already holds team-a/web:v1.0.0 with the source digest, and v1.40.0 with another digest
    web = world.model.repo_by_name(SRC, "team-a", "web")
    same, other = web.tags["v1.0.0"].digest, "sha256:" + "e" * 64
    world.model.push("cri-demo-sh", "team-a", "web", "v1.0.0", same)
    world.model.push("cri-demo-sh", "team-a", "web", "v1.40.0", other)
    # WHEN the backfill runs
    report, items = run(world)
    by_dest = {i.destination: i.action for i in items}
    # THEN the same-digest destination is skipped and counted, the different one is submitted
    assert by_dest["cri-demo-sh@cn-shanghai/team-a/web:v1.0.0"] == "skipped_same_digest"
    assert by_dest["cri-demo-sh@cn-shanghai/team-a/web:v1.40.0"] == "submitted"
    assert by_dest["cri-demo-bj@cn-beijing/team-a/web:v1.0.0"] == "submitted"
    assert report.skipped == 1
    # AND each destination repository was looked up once (cached), not once per tag
    lookups = Counter(
        (r.params["InstanceId"], r.params["RepoNamespaceName"], r.params["RepoName"])
        for r in world.model.requests_for("GetRepository")
    )
    assert lookups
    assert set(lookups.values()) == {1}


def test_max_qps_holds_in_every_one_second_window(world: World) -> None:
    # GIVEN a budget of 20 calls per second (manual clock: the gate's waits advance it)
    start = world.clock.now()
    report, _ = run(world, deps_for(world, qps=20), repository="team-a/web")
    times = sorted(r.time for r in world.model.requests)
    # THEN no one-second window saw more than 20 ACR calls
    busiest = max(sum(1 for t in times if s - 1.0 < t <= s) for s in times)
    assert busiest <= 20
    # AND the run was actually paced: N calls took at least N/20 - 1 seconds
    assert len(times) > 100
    assert world.clock.now() - start >= len(times) / 20 - 1
    assert report.submitted > 0


def test_repository_glob_lists_tags_of_matching_repositories_only(world: World) -> None:
    # WHEN a dry run is narrowed to platform/*
    report, items = run(world, dry_run=True, repository="platform/*")
    # THEN only platform repositories had their tags listed, and only their tags were planned
    names = {r.repo_id: f"{r.namespace}/{r.name}" for r in world.model.list_repos(SRC)}
    listed = {names[r.params["RepoId"]] for r in world.model.requests_for("ListRepoTag")}
    assert "platform/api-gw" in listed
    assert all(n.startswith("platform/") for n in listed)
    assert report.repositories == len(listed)
    assert items
    assert {i.source.split("/")[1] for i in items} == {"platform"}


def test_repositories_no_rule_can_match_are_never_listed(world: World) -> None:
    # GIVEN only team-a-releases (team-a/*, excluding team-a/sandbox-*)
    deps = BackfillDeps(**{**_fields(deps_for(world)), "index": _index("team-a-releases")})
    # WHEN a dry run goes over the account
    report, _ = run(world, deps, dry_run=True)
    # THEN the tags of misc/tool, platform/api-gw and the excluded sandbox were never listed
    listed = {r.params["RepoId"] for r in world.model.requests_for("ListRepoTag")}
    names = {r.repo_id: f"{r.namespace}/{r.name}" for r in world.model.list_repos(SRC)}
    assert {names[i] for i in listed} == {"team-a/web", "team-a/api"}
    assert report.repositories == 2


def _index(rule: str) -> Any:
    doc = validate_file(EXAMPLE_RULES)
    return backfill.index_for(doc.rules, doc.channels, rule)


def _fields(deps: BackfillDeps) -> dict[str, Any]:
    return {f: getattr(deps, f) for f in deps.__dataclass_fields__}


def test_rule_option_plans_that_rule_even_where_an_earlier_rule_would_win(world: World) -> None:
    # GIVEN team-a-web-shanghai, whose destinations team-a-releases (earlier) also asks for
    deps = BackfillDeps(**{**_fields(deps_for(world)), "index": _index("team-a-web-shanghai")})
    _, items = run(world, deps, dry_run=True)
    assert items
    assert {i.rule for i in items} == {"team-a-web-shanghai"}


def test_rule_option_refuses_unknown_and_disabled_rules() -> None:
    doc = validate_file(EXAMPLE_RULES)
    with pytest.raises(RuleConfigError, match="no such rule"):
        backfill.index_for(doc.rules, doc.channels, "nope")
    with pytest.raises(RuleConfigError, match="disabled"):
        backfill.index_for(doc.rules, doc.channels, "nightly-to-beijing")


def test_transient_listing_failure_is_retried_and_the_run_completes(world: World) -> None:
    # GIVEN ListRepoTag fails twice with a 500 (SystemError) partway
    world.model.faults.script(SERVER_ERROR, action="ListRepoTag", times=2)
    report, items = run(world, dry_run=True)
    assert not report.interrupted
    assert {(i.rule, i.source, i.destination) for i in items} == expected(world)


def test_persistent_outage_stops_the_run_with_a_reason_and_keeps_what_was_done(world: World) -> None:
    world.model.faults.script(SERVER_ERROR, action="ListRepository", times=100)
    report, _ = run(world)
    assert "ListRepository" in report.interrupted or "SystemError" in report.interrupted
    assert report.submitted == 0
