"""The RegistryApi contract: the in-memory fake and the real SDK adapter (on the emulator) must both pass.

Subclass ``RegistryContract`` and provide ``model`` (an ``AcrModel`` seeded with ``seed_world``) and
``registry`` (a ``RegistryApi`` answering from that model).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import pytest

from acrsync.domain.registry import SyncTaskSpec, TaskStatus
from acrsync.errors import UpstreamRejected, UpstreamUnavailable
from acrsync.local.acr_faults import DROP, SERVER_ERROR, THROTTLE, THROTTLE_RETRY_AFTER, UNAVAILABLE
from acrsync.local.acr_model import AcrModel
from acrsync.ports import RegistryApi

SRC, DST = "cri-src0001", "cri-dst0001"
SRC_REGION, DST_REGION = "cn-hangzhou", "cn-shanghai"
DIGEST_V1 = "sha256:" + "1" * 64
DIGEST_OLD = "sha256:" + "0" * 64


@dataclass(frozen=True)
class World:
    """What ``seed_world`` created."""

    repo_id: str
    dst_repo_id: str


def seed_world(model: AcrModel) -> World:
    """Two instances; ``team-a/web:v1`` in the source; ``team-a/web`` (no tags) and an auto-create
    namespace ``auto`` in the destination."""
    model.add_instance(SRC, region=SRC_REGION, name="src", specification="Enterprise_Advanced")
    model.add_instance(DST, region=DST_REGION, name="dst", specification="Enterprise_Standard")
    model.push(SRC, "team-a", "web", "v1", DIGEST_V1)
    model.add_namespace(DST, "team-a")
    model.add_namespace(DST, "auto", auto_create_repo=True)
    dst = model.add_repository(DST, "team-a", "web")
    return World(repo_id=model.repo_by_name(SRC, "team-a", "web").repo_id, dst_repo_id=dst.repo_id)


def spec(world: World, **changes: Any) -> SyncTaskSpec:
    """``team-a/web:v1`` from the source to the same place in the destination."""
    base = SyncTaskSpec(
        instance_id=SRC,
        repo_id=world.repo_id,
        tag="v1",
        target_instance_id=DST,
        target_region_id=DST_REGION,
        target_namespace="team-a",
        target_repo_name="web",
        target_tag="v1",
    )
    return replace(base, **changes)


class RegistryContract:
    """Behaviour every ``RegistryApi`` implementation must show."""

    @pytest.fixture
    def world(self, model: AcrModel) -> World:
        return seed_world(model)

    # ------------------------------------------------------------------ lookups
    def test_repository_is_found_by_namespace_and_name(self, registry: RegistryApi, world: World) -> None:
        # WHEN
        repo = registry.get_repository(SRC, "team-a", "web")
        # THEN
        assert repo is not None
        assert (repo.repo_id, repo.namespace, repo.name) == (world.repo_id, "team-a", "web")

    def test_missing_repository_is_none(self, registry: RegistryApi, world: World) -> None:
        assert registry.get_repository(SRC, "team-a", "nope") is None

    def test_repository_lookup_is_cached(self, registry: RegistryApi, model: AcrModel, world: World) -> None:
        # GIVEN one lookup
        registry.get_repository(SRC, "team-a", "web")
        # WHEN the same repository is looked up again
        again = registry.get_repository(SRC, "team-a", "web")
        # THEN the API was asked once
        assert again is not None
        assert len(model.requests_for("GetRepository")) == 1

    def test_tag_lookup_returns_its_digest(self, registry: RegistryApi, world: World) -> None:
        tag = registry.get_repo_tag(SRC, world.repo_id, "v1")
        assert tag is not None
        assert tag.digest == DIGEST_V1

    def test_missing_tag_is_none(self, registry: RegistryApi, world: World) -> None:
        assert registry.get_repo_tag(SRC, world.repo_id, "v404") is None

    def test_instance_reports_its_edition(self, registry: RegistryApi, world: World) -> None:
        instance = registry.get_instance(SRC)
        assert instance is not None
        assert (instance.specification, instance.status, instance.region) == (
            "Enterprise_Advanced",
            "RUNNING",
            SRC_REGION,
        )

    def test_missing_instance_is_none(self, registry: RegistryApi, world: World) -> None:
        assert registry.get_instance("cri-missing") is None

    def test_namespace_reports_auto_create(self, registry: RegistryApi, world: World) -> None:
        auto, plain = registry.get_namespace(DST, "auto"), registry.get_namespace(DST, "team-a")
        assert auto is not None
        assert plain is not None
        assert (auto.auto_create_repo, plain.auto_create_repo) == (True, False)

    def test_missing_namespace_is_none(self, registry: RegistryApi, world: World) -> None:
        assert registry.get_namespace(DST, "nope") is None

    # ------------------------------------------------------------------ sync tasks
    def test_task_runs_to_success_and_copies_the_source_digest(
        self, registry: RegistryApi, model: AcrModel, world: World
    ) -> None:
        # GIVEN a new task
        task_id = registry.create_repo_sync_task(spec(world))
        assert task_id.startswith("rst-")
        assert registry.get_repo_sync_task(SRC, task_id).status is TaskStatus.PENDING
        # WHEN the emulated ACR works through it
        model.advance()
        assert registry.get_repo_sync_task(SRC, task_id).status is TaskStatus.SYNCHRONIZING
        model.advance()
        # THEN it succeeded and the destination tag has the source digest
        assert registry.get_repo_sync_task(SRC, task_id).status is TaskStatus.SUCCESS
        copied = registry.get_repo_tag(DST, world.dst_repo_id, "v1")
        assert copied is not None
        assert copied.digest == DIGEST_V1

    def test_task_records_where_the_image_came_from_and_went(
        self, registry: RegistryApi, world: World
    ) -> None:
        task = registry.get_repo_sync_task(
            SRC, registry.create_repo_sync_task(spec(world, target_tag="v1-copy"))
        )
        assert task.image_from is not None
        assert task.image_to is not None
        assert (task.image_from.instance_id, task.image_from.namespace, task.image_from.tag) == (
            SRC,
            "team-a",
            "v1",
        )
        assert (task.image_to.instance_id, task.image_to.region, task.image_to.tag) == (
            DST,
            DST_REGION,
            "v1-copy",
        )
        assert task.trigger == "INITIATIVE"

    def test_without_override_a_differing_destination_tag_is_kept_yet_the_task_succeeds(
        self, registry: RegistryApi, model: AcrModel, world: World
    ) -> None:
        # GIVEN the destination tag exists with other content
        model.push(DST, "team-a", "web", "v1", DIGEST_OLD)
        # WHEN syncing without override
        task_id = registry.create_repo_sync_task(spec(world, override=False))
        model.run_pending()
        # THEN SUCCESS, but the old digest stays (what the watcher's verification catches)
        assert registry.get_repo_sync_task(SRC, task_id).status is TaskStatus.SUCCESS
        kept = registry.get_repo_tag(DST, world.dst_repo_id, "v1")
        assert kept is not None
        assert kept.digest == DIGEST_OLD

    def test_with_override_the_destination_tag_is_replaced(
        self, registry: RegistryApi, model: AcrModel, world: World
    ) -> None:
        model.push(DST, "team-a", "web", "v1", DIGEST_OLD)
        registry.create_repo_sync_task(spec(world, override=True))
        model.run_pending()
        replaced = registry.get_repo_tag(DST, world.dst_repo_id, "v1")
        assert replaced is not None
        assert replaced.digest == DIGEST_V1

    def test_override_is_sent_as_lowercase_true(
        self, registry: RegistryApi, model: AcrModel, world: World
    ) -> None:
        registry.create_repo_sync_task(spec(world, override=True))
        assert model.requests_for("CreateRepoSyncTask")[0].params["Override"] == "true"

    def test_missing_destination_namespace_ends_in_error(
        self, registry: RegistryApi, model: AcrModel, world: World
    ) -> None:
        task_id = registry.create_repo_sync_task(spec(world, target_namespace="ghost"))
        model.run_pending()
        task = registry.get_repo_sync_task(SRC, task_id)
        assert (task.status, task.issue) == (TaskStatus.ERROR, "namespace not exist")

    def test_missing_destination_repository_errors_unless_the_namespace_auto_creates(
        self, registry: RegistryApi, model: AcrModel, world: World
    ) -> None:
        # GIVEN one task into a namespace without auto-create and one into a namespace with it
        plain = registry.create_repo_sync_task(spec(world, target_repo_name="new-repo"))
        auto = registry.create_repo_sync_task(
            spec(world, target_namespace="auto", target_repo_name="new-repo")
        )
        # WHEN both run
        model.run_pending()
        # THEN only the auto-create one succeeds, and its repository now exists
        assert registry.get_repo_sync_task(SRC, plain).status is TaskStatus.ERROR
        assert registry.get_repo_sync_task(SRC, auto).status is TaskStatus.SUCCESS
        assert registry.get_repository(DST, "auto", "new-repo") is not None

    def test_transient_destination_failure_clears_after_the_given_number_of_tasks(
        self, registry: RegistryApi, model: AcrModel, world: World
    ) -> None:
        # GIVEN the destination fails once
        model.fail_destination(DST, "team-a", "blob upload timeout", times=1)
        # WHEN a task fails and is retried
        first = registry.create_repo_sync_task(spec(world))
        model.run_pending()
        retry = registry.create_repo_sync_task(spec(world))
        model.run_pending()
        # THEN the first carries ACR's issue and the retry succeeds
        failed = registry.get_repo_sync_task(SRC, first)
        assert (failed.status, failed.issue) == (TaskStatus.ERROR, "blob upload timeout")
        assert registry.get_repo_sync_task(SRC, retry).status is TaskStatus.SUCCESS

    def test_canceled_task_reports_canceled(
        self, registry: RegistryApi, model: AcrModel, world: World
    ) -> None:
        task_id = registry.create_repo_sync_task(spec(world))
        model.cancel_task(task_id)
        assert registry.get_repo_sync_task(SRC, task_id).status is TaskStatus.CANCELED

    def test_background_ticker_finishes_tasks_without_manual_ticks(
        self, registry: RegistryApi, model: AcrModel, world: World
    ) -> None:
        # GIVEN the model ticking on its own
        model.start_ticker(interval_s=0.01)
        try:
            task_id = registry.create_repo_sync_task(spec(world))
            # WHEN we poll like the watcher does
            deadline = time.monotonic() + 5
            while registry.get_repo_sync_task(SRC, task_id).status is not TaskStatus.SUCCESS:
                assert time.monotonic() < deadline, "task never finished"
                time.sleep(0.01)
        finally:
            model.stop_ticker()
        # THEN it finished by itself
        assert registry.get_repo_sync_task(SRC, task_id).status is TaskStatus.SUCCESS

    def test_completion_publishes_a_synchronization_completed_event(
        self, registry: RegistryApi, model: AcrModel, world: World
    ) -> None:
        events: list[dict[str, Any]] = []
        model.on_sync_completed(events.append)
        task_id = registry.create_repo_sync_task(spec(world))
        model.run_pending()
        assert [(e["type"], e["data"]["SyncTaskId"], e["data"]["TaskStatus"]) for e in events] == [
            ("cr:Artifact:SynchronizationCompleted", task_id, "SUCCESS")
        ]

    def test_task_for_a_missing_source_tag_is_rejected(self, registry: RegistryApi, world: World) -> None:
        with pytest.raises(UpstreamRejected) as caught:
            registry.create_repo_sync_task(spec(world, tag="v404"))
        assert caught.value.code == "TAG_NOT_EXIST"

    def test_priority_out_of_range_is_rejected(self, registry: RegistryApi, world: World) -> None:
        with pytest.raises(UpstreamRejected):
            registry.create_repo_sync_task(spec(world, priority=9))

    def test_unknown_task_is_rejected(self, registry: RegistryApi, world: World) -> None:
        with pytest.raises(UpstreamRejected):
            registry.get_repo_sync_task(SRC, "rst-doesnotexist")

    # ------------------------------------------------------------------ paging
    def test_task_listing_pages_past_one_hundred_and_filters_by_tag(
        self, registry: RegistryApi, model: AcrModel, world: World
    ) -> None:
        # GIVEN 105 tasks of v1 and one of v2
        ids = {registry.create_repo_sync_task(spec(world, target_tag=f"t{i}")) for i in range(105)}
        model.push(SRC, "team-a", "web", "v2")
        registry.create_repo_sync_task(spec(world, tag="v2"))
        # WHEN listing the v1 tasks
        listed = list(registry.list_repo_sync_tasks(SRC, namespace="team-a", repo="web", tag="v1"))
        # THEN every one, each once, over two pages
        assert {t.task_id for t in listed} == ids
        assert len(listed) == 105
        assert len(model.requests_for("ListRepoSyncTask")) == 2

    def test_repository_listing_pages_past_one_hundred(
        self, registry: RegistryApi, model: AcrModel, world: World
    ) -> None:
        for i in range(120):
            model.add_repository(SRC, "team-a", f"repo-{i:03d}")
        names = [r.name for r in registry.list_repositories(SRC)]
        assert sorted(names) == sorted(["web", *[f"repo-{i:03d}" for i in range(120)]])
        assert len(model.requests_for("ListRepository")) == 2

    def test_tag_listing_pages_past_one_hundred(
        self, registry: RegistryApi, model: AcrModel, world: World
    ) -> None:
        for i in range(150):
            model.push(SRC, "team-a", "web", f"b{i}")
        tags = {t.tag for t in registry.list_repo_tags(SRC, world.repo_id)}
        assert tags == {"v1", *(f"b{i}" for i in range(150))}

    # ------------------------------------------------------------------ faults
    @pytest.mark.parametrize("kind", [THROTTLE, SERVER_ERROR, UNAVAILABLE, DROP])
    def test_transient_faults_are_upstream_unavailable(
        self, registry: RegistryApi, model: AcrModel, world: World, kind: str
    ) -> None:
        model.faults.script(kind, action="GetRepoTag")
        with pytest.raises(UpstreamUnavailable):
            registry.get_repo_tag(SRC, world.repo_id, "v1")
        # and the next call goes through
        assert registry.get_repo_tag(SRC, world.repo_id, "v1") is not None

    def test_throttling_with_retry_after_carries_the_wait(
        self, registry: RegistryApi, model: AcrModel, world: World
    ) -> None:
        model.faults.retry_after_ms = 1500
        model.faults.script(THROTTLE_RETRY_AFTER, action="CreateRepoSyncTask")
        with pytest.raises(UpstreamUnavailable) as caught:
            registry.create_repo_sync_task(spec(world))
        assert (caught.value.code, caught.value.retry_after) == ("Throttling.User", 1.5)
