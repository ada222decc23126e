"""Test helpers over ``acrsync.local.fake_world``: the world of fakes, and event builders."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from acrsync.domain.registry import Repository, SyncTaskSpec
from acrsync.local.fake_registry import FakeRegistry
from acrsync.local.fake_world import EXAMPLE_RULES, ROOT, RecordingNotifier, World, make_world
from acrsync.ports import RegistryApi

__all__ = [
    "EXAMPLE_RULES",
    "ROOT",
    "Crash",
    "HookedRegistry",
    "RecordingNotifier",
    "World",
    "break_get_repository",
    "crash_once",
    "failure_texts",
    "hook_registries",
    "make_world",
    "push_event",
]


def push_event(
    tag: str, digest: str, *, namespace: str = "team-a", repo: str = "web", event_id: str = ""
) -> bytes:
    """A PushCompleted envelope for cri-demo-src (the shape of events/acs.cr/push_completed.json)."""
    doc = json.loads((ROOT / "events" / "acs.cr" / "push_completed.json").read_text())
    doc["id"] = event_id or f"evt-{namespace}-{repo}-{tag}"
    data = doc["data"]
    data.update({"RepoNamespaceName": namespace, "RepoName": repo, "Tag": tag, "Digest": digest})
    data.pop("RepoId", None)
    return json.dumps(doc).encode()


class Crash(BaseException):
    """The process dies here (not an Exception: nothing in the services may catch it)."""


class HookedRegistry(RegistryApi):
    """Delegates to a registry; runs hooks around ``CreateRepoSyncTask`` and before ``GetRepository``."""

    _OWN = frozenset({"inner", "hooks", "create_repo_sync_task", "get_repository"})

    def __init__(
        self,
        inner: RegistryApi,
        *,
        before_create: Callable[[], None] | None = None,
        after_create: Callable[[SyncTaskSpec, str], None] | None = None,
        before_get_repository: Callable[[], None] | None = None,
    ) -> None:
        self.inner = inner
        self.hooks = (before_create, after_create, before_get_repository)

    def create_repo_sync_task(self, spec: SyncTaskSpec) -> str:
        before, after, _ = self.hooks
        if before is not None:
            before()
        task_id = self.inner.create_repo_sync_task(spec)
        if after is not None:
            after(spec, task_id)
        return task_id

    def get_repository(self, instance_id: str, namespace: str, name: str) -> Repository | None:
        if self.hooks[2] is not None:
            self.hooks[2]()
        return self.inner.get_repository(instance_id, namespace, name)

    def __getattribute__(self, name: str) -> Any:
        if name in HookedRegistry._OWN or name.startswith("_"):
            return object.__getattribute__(self, name)
        return getattr(object.__getattribute__(self, "inner"), name)

    # Every other port method is delegated by __getattribute__.
    get_repo_tag = get_repo_sync_task = list_repo_sync_tasks = None  # type: ignore[assignment]
    list_repositories = list_repo_tags = get_instance = get_namespace = None  # type: ignore[assignment]


def crash_once(when: str) -> dict[str, Any]:
    """Hooks that kill the process once, ``before`` or ``after`` a ``CreateRepoSyncTask``."""
    armed = [True]

    def die(*_: object) -> None:
        if armed[0]:
            armed[0] = False
            raise Crash

    return {"before_create": die} if when == "before" else {"after_create": die}


def hook_registries(world: World, **hooks: Any) -> None:
    """Wrap every region's registry of ``world`` with ``hooks`` (none: unwrap)."""
    world.registries.clear()
    world.wrap = (lambda inner: HookedRegistry(inner, **hooks)) if hooks else None


def failure_texts(world: World) -> list[str]:
    """The markdown of every failure alert sent (not the "resolved" ones)."""
    return [m.markdown for _, m in world.notifier.sent if "resolved" not in m.title]


def break_get_repository(world: World, region: str, error: Exception) -> None:
    """Make ``GetRepository`` in ``region`` raise ``error`` every time (a region down, a RAM denial)."""

    def fail() -> None:
        raise error

    world.registries[region] = HookedRegistry(
        FakeRegistry(world.model, region=region), before_get_repository=fail
    )
