"""The state of an emulated ACR EE account: instances, namespaces, repositories, tags and sync tasks.

Pure Python, no HTTP: ``acr_emulator`` serves it over the real wire format and ``fake_registry`` calls it
directly. Field names and task states follow the 2018-12-01 API (reference §2.3-2.6).

Modelling assumptions (⚠ not verified against the real service; change them here, not in tests):

* A task is validated against the *destination* only when it runs: a missing destination namespace ends
  the task in ``ERROR`` with ``TaskIssue`` "namespace not exist"; a missing destination repository ends it
  in ``ERROR`` ("repository not exist") unless the namespace has ``AutoCreateRepo``.
* ``Override=false`` with an existing destination tag of a *different* digest: the task still ends in
  ``SUCCESS`` but the destination keeps its old digest. That is why the watcher verifies digests.
* Business "not found" errors come back as HTTP 200 with ``IsSuccess=false`` and an upper-snake code
  (``INSTANCE_NOT_EXIST``, ``NAMESPACE_NOT_EXIST``, ``REPO_NOT_EXIST``: the codes the official Terraform
  provider matches, [REPO] aliyun/terraform-provider-alicloud ``alicloud/service_alicloud_cr_ee.go``);
  ``TAG_NOT_EXIST`` and ``SYNC_TASK_NOT_EXIST`` are by analogy only.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from acrsync.local.acr_faults import FaultInjector
from acrsync.local.acr_state import (
    AcrApiError,
    EmuInstance,
    EmuNamespace,
    EmuRepo,
    EmuTag,
    EmuTask,
    RequestRecord,
    not_exist,
)
from acrsync.local.acr_tasks import DestinationFailure, SyncCallback, SyncEngine

__all__ = [
    "AcrApiError",
    "AcrModel",
    "EmuInstance",
    "EmuNamespace",
    "EmuRepo",
    "EmuTag",
    "EmuTask",
    "RequestRecord",
]


@dataclass
class AcrModel(SyncEngine):
    """One emulated account. Thread-safe: every public method takes the lock."""

    account_id: str = "1234567890123456"
    seed: int = 0
    clock: Callable[[], float] = time.time
    faults: FaultInjector = field(default_factory=FaultInjector)
    instances: dict[str, EmuInstance] = field(default_factory=dict, init=False)
    namespaces: dict[tuple[str, str], EmuNamespace] = field(default_factory=dict, init=False)
    repos: dict[str, EmuRepo] = field(default_factory=dict, init=False, repr=False)
    tasks: dict[str, EmuTask] = field(default_factory=dict, init=False, repr=False)
    sync_rules: list[dict[str, Any]] = field(default_factory=list, init=False, repr=False)  # acr_sync_rules
    event_center_rules: dict[str, list[dict[str, Any]]] = field(default_factory=dict, init=False, repr=False)
    # instance id -> the custom replication link ids it has (acr_link_actions.add_link; CreateRepoSyncRule)
    custom_links: dict[str, set[str]] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)
    _rng: random.Random = field(init=False, repr=False)
    _failures: dict[tuple[str, str], DestinationFailure] = field(default_factory=dict, init=False, repr=False)
    _subscribers: list[SyncCallback] = field(default_factory=list, init=False, repr=False)
    _requests: list[RequestRecord] = field(default_factory=list, init=False, repr=False)
    _ticker: threading.Thread | None = field(default=None, init=False, repr=False)
    _ticker_stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    # instance id -> its registry (an OCI stand-in): ListInstanceEndpoint/GetAuthorizationToken answer from it
    registries: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    # ---------------------------------------------------------------- setup helpers (tests, demo)
    def now_ms(self) -> int:
        """Milliseconds since the epoch, as ACR's ``CreateTime``/``ModifiedTime``."""
        return int(self.clock() * 1000)

    def new_id(self, prefix: str, length: int = 16) -> str:
        """A random id with an ACR prefix (``crr-``, ``rst-``, ``crn-``), reproducible from the seed."""
        with self._lock:
            return prefix + "".join(
                self._rng.choice("0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(length)
            )

    def add_instance(
        self, instance_id: str, *, region: str, name: str = "", specification: str = "Enterprise_Advanced"
    ) -> EmuInstance:
        """Create an instance (``Enterprise_Advanced`` = Premium; ``Enterprise_Standard``/``_Basic``)."""
        with self._lock:
            inst = EmuInstance(
                instance_id, name or instance_id, region, specification, "RUNNING", self.now_ms()
            )
            self.instances[instance_id] = inst
            return inst

    def add_namespace(self, instance_id: str, name: str, *, auto_create_repo: bool = False) -> EmuNamespace:
        """Create a namespace in an existing instance."""
        with self._lock:
            self.instance(instance_id)
            ns = EmuNamespace(instance_id, name, self.new_id("crn-"), auto_create_repo)
            self.namespaces[(instance_id, name)] = ns
            return ns

    def add_repository(self, instance_id: str, namespace: str, name: str) -> EmuRepo:
        """Create a repository in an existing namespace (idempotent)."""
        with self._lock:
            self.namespace(instance_id, namespace)
            existing = self._find_repo(instance_id, namespace, name)
            if existing is not None:
                return existing
            now = self.now_ms()
            repo = EmuRepo(self.new_id("crr-"), instance_id, namespace, name, now, now)
            self.repos[repo.repo_id] = repo
            return repo

    def push(self, instance_id: str, namespace: str, repo: str, tag: str, digest: str = "") -> str:
        """Push an image: create namespace/repository as needed, set the tag; returns the digest."""
        with self._lock:
            if (instance_id, namespace) not in self.namespaces:
                self.add_namespace(instance_id, namespace)
            record = self.add_repository(instance_id, namespace, repo)
            digest = (
                digest
                or "sha256:" + hashlib.sha256(f"{record.repo_id}:{tag}:{self.now_ms()}".encode()).hexdigest()
            )
            self._set_tag(record, tag, digest)
            return digest

    def _set_tag(self, repo: EmuRepo, tag: str, digest: str) -> None:
        now = self.now_ms()
        old = repo.tags.get(tag)
        image_id = hashlib.sha256(digest.encode()).hexdigest()[:32]
        repo.tags[tag] = EmuTag(tag, digest, image_id, 23_655_489, old.create_ms if old else now, now)
        repo.modified_ms = now

    # ---------------------------------------------------------------- lookups (raise AcrApiError)
    def instance(self, instance_id: str) -> EmuInstance:
        """The instance, or ``INSTANCE_NOT_EXIST``."""
        with self._lock:
            inst = self.instances.get(instance_id)
            if inst is None:
                raise not_exist("INSTANCE_NOT_EXIST", "Instance is not exist.")
            return inst

    def namespace(self, instance_id: str, name: str) -> EmuNamespace:
        """The namespace, or ``NAMESPACE_NOT_EXIST``."""
        with self._lock:
            self.instance(instance_id)
            ns = self.namespaces.get((instance_id, name))
            if ns is None:
                raise not_exist("NAMESPACE_NOT_EXIST", "Namespace is not exist.")
            return ns

    def _find_repo(self, instance_id: str, namespace: str, name: str) -> EmuRepo | None:
        for repo in self.repos.values():
            if (repo.instance_id, repo.namespace, repo.name) == (instance_id, namespace, name):
                return repo
        return None

    def repo_by_name(self, instance_id: str, namespace: str, name: str) -> EmuRepo:
        """The repository by namespace and name, or ``REPO_NOT_EXIST``."""
        with self._lock:
            self.instance(instance_id)
            repo = self._find_repo(instance_id, namespace, name)
            if repo is None:
                raise not_exist("REPO_NOT_EXIST", "Repo is not exist.")
            return repo

    def repo_by_id(self, instance_id: str, repo_id: str) -> EmuRepo:
        """The repository by ``RepoId``, or ``REPO_NOT_EXIST``."""
        with self._lock:
            self.instance(instance_id)
            repo = self.repos.get(repo_id)
            if repo is None or repo.instance_id != instance_id:
                raise not_exist("REPO_NOT_EXIST", "Repo is not exist.")
            return repo

    def tag(self, instance_id: str, repo_id: str, tag: str) -> EmuTag:
        """The tag, or ``TAG_NOT_EXIST`` (⚠ code assumed by analogy)."""
        with self._lock:
            found = self.repo_by_id(instance_id, repo_id).tags.get(tag)
            if found is None:
                raise not_exist("TAG_NOT_EXIST", "Tag is not exist.")
            return found

    def list_repos(self, instance_id: str, *, namespace: str = "", name: str = "") -> list[EmuRepo]:
        """Repositories of an instance, optionally filtered, oldest first (⚠ order assumed)."""
        with self._lock:
            self.instance(instance_id)
            return [
                r
                for r in self.repos.values()
                if r.instance_id == instance_id and namespace in ("", r.namespace) and name in ("", r.name)
            ]

    def list_tags(self, instance_id: str, repo_id: str) -> list[EmuTag]:
        """Tags of a repository, most recently updated first (⚠ order assumed)."""
        with self._lock:
            tags = list(self.repo_by_id(instance_id, repo_id).tags.values())
            return sorted(tags, key=lambda t: (-t.update_ms, t.tag))

    # ---------------------------------------------------------------- sync tasks
    def create_sync_task(
        self,
        *,
        instance_id: str,
        repo_id: str,
        tag: str,
        target_instance_id: str,
        target_region_id: str,
        target_namespace: str,
        target_repo_name: str,
        target_tag: str,
        override: bool = False,
        priority: int = 3,
        target_user_id: str = "",
    ) -> EmuTask:
        """``CreateRepoSyncTask``: the source repository and tag must exist; the task starts PENDING."""
        with self._lock:
            source = self.instance(instance_id)
            repo = self.repo_by_id(instance_id, repo_id)
            self.tag(instance_id, repo_id, tag)
            now = self.now_ms()
            task = EmuTask(
                task_id=self.new_id("rst-"),
                batch_id=self.new_id("", 32),
                instance_id=instance_id,
                region=source.region,
                namespace=repo.namespace,
                repo=repo.name,
                repo_id=repo_id,
                tag=tag,
                target_instance_id=target_instance_id,
                target_region_id=target_region_id,
                target_namespace=target_namespace,
                target_repo_name=target_repo_name,
                target_tag=target_tag,
                override=override,
                priority=priority,
                cross_user=bool(target_user_id) and target_user_id != self.account_id,
                create_ms=now,
                modified_ms=now,
            )
            self.tasks[task.task_id] = task
            return task

    def task(self, instance_id: str, task_id: str) -> EmuTask:
        """The task as seen from its source instance, or ``SYNC_TASK_NOT_EXIST`` (⚠ code assumed)."""
        with self._lock:
            self.instance(instance_id)
            task = self.tasks.get(task_id)
            if task is None or task.instance_id != instance_id:
                raise not_exist("SYNC_TASK_NOT_EXIST", "Sync task is not exist.")
            return task

    def list_tasks(
        self, instance_id: str, *, namespace: str = "", repo: str = "", tag: str = "", batch_id: str = ""
    ) -> list[EmuTask]:
        """Tasks created on a source instance, filtered by source image, newest first (⚠ order assumed)."""
        with self._lock:
            self.instance(instance_id)
            found = [
                t
                for t in self.tasks.values()
                if t.instance_id == instance_id
                and namespace in ("", t.namespace)
                and repo in ("", t.repo)
                and tag in ("", t.tag)
                and batch_id in ("", t.batch_id)
            ]
            return sorted(found, key=lambda t: (-t.create_ms, t.task_id))

    # ---------------------------------------------------------------- request log
    def record(
        self, action: str, params: dict[str, str], outcome: str, *, method: str = "", status: int = 200
    ) -> None:
        """Append one line to the request log (both the emulator and the fake call this)."""
        with self._lock:
            self._requests.append(RequestRecord(action, dict(params), self.clock(), outcome, method, status))

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._requests)

    def requests_for(self, action: str) -> list[RequestRecord]:
        """The logged requests of one action."""
        return [r for r in self.requests if r.action == action]
