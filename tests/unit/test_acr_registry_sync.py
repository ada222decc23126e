"""The emulator's sync task and the instances' registries: a task that succeeds lands the image itself in
the destination instance's registry; one the destination registry refuses ends in ERROR."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from acrsync.domain.registry import TaskStatus
from acrsync.local.acr_model import AcrModel
from acrsync.local.oci_images import put_index
from acrsync.local.oci_store import RegistryState


@dataclass
class Registry:
    """What the sync engine reads of an attached registry stand-in: its state."""

    state: RegistryState


@pytest.fixture
def model() -> AcrModel:
    m = AcrModel()
    m.add_instance("cri-src", region="cn-hangzhou")
    m.add_instance("cri-dst", region="cn-beijing")
    m.add_namespace("cri-dst", "team-a", auto_create_repo=True)
    return m


def _sync(model: AcrModel, tag: str) -> str:
    repo = model.repo_by_name("cri-src", "team-a", "web")
    task = model.create_sync_task(
        instance_id="cri-src",
        repo_id=repo.repo_id,
        tag=tag,
        target_instance_id="cri-dst",
        target_region_id="cn-beijing",
        target_namespace="team-a",
        target_repo_name="web",
        target_tag=tag,
    )
    model.run_pending()
    return task.task_id


def test_given_registries_on_both_instances_when_a_task_succeeds_then_the_image_is_in_the_destination(
    model: AcrModel,
) -> None:
    src, dst = Registry(RegistryState()), Registry(RegistryState())
    model.registries.update({"cri-src": src, "cri-dst": dst})
    index = put_index(src.state, "team-a/web", "v1", layer_sizes=(100, 3000))
    model.push("cri-src", "team-a", "web", "v1", index.digest)
    task = model.task("cri-src", _sync(model, "v1"))
    assert task.status is TaskStatus.SUCCESS
    # the OpenAPI and the registry agree: the tag, and everything the index references, byte for byte
    assert model.repo_by_name("cri-dst", "team-a", "web").tags["v1"].digest == index.digest
    assert dst.state.tags["team-a/web"]["v1"] == index.digest
    assert dst.state.manifests["team-a/web"].keys() == src.state.manifests["team-a/web"].keys()
    assert dst.state.links["team-a/web"] == src.state.links["team-a/web"]
    for digest in src.state.links["team-a/web"]:
        assert b"".join(dst.state.read_blob(digest)) == b"".join(src.state.read_blob(digest))
    src.state.close()
    dst.state.close()


def test_given_a_destination_registry_that_refuses_the_push_when_the_task_runs_then_it_ends_in_error(
    model: AcrModel,
) -> None:
    src, dst = Registry(RegistryState()), Registry(RegistryState(projects={"other"}))
    model.registries.update({"cri-src": src, "cri-dst": dst})
    index = put_index(src.state, "team-a/web", "v1", layer_sizes=(10,))
    model.push("cri-src", "team-a", "web", "v1", index.digest)
    task = model.task("cri-src", _sync(model, "v1"))
    assert task.status is TaskStatus.ERROR
    assert "image sync failed: NAME_UNKNOWN" in task.issue
    assert "v1" not in model.repo_by_name("cri-dst", "team-a", "web").tags  # no tag without its image
    src.state.close()
    dst.state.close()


def test_given_a_tag_record_without_content_when_synced_then_only_the_openapi_tag_moves(
    model: AcrModel,
) -> None:
    dst = Registry(RegistryState())
    model.registries.update({"cri-src": Registry(RegistryState()), "cri-dst": dst})
    digest = model.push("cri-src", "team-a", "web", "v2")  # seeded as most emulator tests do: no content
    assert model.task("cri-src", _sync(model, "v2")).status is TaskStatus.SUCCESS
    assert model.repo_by_name("cri-dst", "team-a", "web").tags["v2"].digest == digest
    assert dst.state.tags == {}
    dst.state.close()


@dataclass
class Hooks:
    """The push and delete notifications an attached ``OciRegistry`` calls (after end-7 and end-9)."""

    on_push: list[Callable[[str, str, str], None]]
    on_delete: list[Callable[[str, str], None]]


def test_given_an_attached_registry_when_a_tag_is_pushed_then_deleted_then_the_openapi_follows(
    model: AcrModel,
) -> None:
    from acrsync.local.acr_registry_actions import attach_registry

    hooks = Hooks([], [])
    attach_registry(model, "cri-src", hooks)
    (pushed,), (deleted,) = hooks.on_push, hooks.on_delete
    pushed("team-a/web", "v1", "sha256:" + "a" * 64)
    pushed("team-a/web", "latest", "sha256:" + "a" * 64)
    pushed("team-a/web", "v2", "sha256:" + "b" * 64)
    repo = model.repo_by_name("cri-src", "team-a", "web")
    assert repo.tags["v1"].digest == "sha256:" + "a" * 64
    deleted("team-a/web", "sha256:" + "a" * 64)
    assert sorted(model.repo_by_name("cri-src", "team-a", "web").tags) == ["v2"]
