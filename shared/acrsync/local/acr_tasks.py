"""Sync-task progression for ``AcrModel``: PENDING → SYNCHRONIZING → SUCCESS | ERROR | CANCELED, injected
destination failures, the background ticker and the completion CloudEvent (reference §2.4, §1.4).

A mixin so the model module stays small; it relies on the model's state and helpers declared below.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from acrsync.domain.registry import TaskStatus
from acrsync.local.acr_registry_sync import copy_image
from acrsync.local.acr_state import EmuInstance, EmuNamespace, EmuRepo, EmuTask, completion_event
from acrsync.local.oci_store import RegistryError

SyncCallback = Callable[[dict[str, Any]], None]


@dataclass
class DestinationFailure:
    """An injected failure of one destination: ``remaining`` tasks (None = every task) end in ERROR."""

    issue: str
    remaining: int | None


class SyncEngine:
    """Task progression over the model's state (``AcrModel`` supplies the attributes and helpers)."""

    account_id: str
    instances: dict[str, EmuInstance]
    namespaces: dict[tuple[str, str], EmuNamespace]
    repos: dict[str, EmuRepo]
    tasks: dict[str, EmuTask]
    _lock: threading.RLock
    _failures: dict[tuple[str, str], DestinationFailure]
    _subscribers: list[SyncCallback]
    _ticker: threading.Thread | None
    _ticker_stop: threading.Event
    registries: dict[str, Any]  # instance id -> its registry stand-in (acr_registry_actions.attach_registry)

    def now_ms(self) -> int:
        """Milliseconds since the epoch (the model's clock)."""
        raise NotImplementedError

    def new_id(self, prefix: str, length: int = 16) -> str:
        """A fresh id with an ACR prefix."""
        raise NotImplementedError

    def _find_repo(self, instance_id: str, namespace: str, name: str) -> EmuRepo | None:
        raise NotImplementedError

    def add_repository(self, instance_id: str, namespace: str, name: str) -> EmuRepo:
        """Create a repository (idempotent)."""
        raise NotImplementedError

    def _set_tag(self, repo: EmuRepo, tag: str, digest: str) -> None:
        raise NotImplementedError

    def cancel_task(self, task_id: str) -> None:
        """End a non-terminal task as CANCELED (as ``CancelRepoSyncTask`` or a console user would)."""
        with self._lock:
            task = self.tasks[task_id]
            if not task.status.is_terminal:
                self._finish(task, TaskStatus.CANCELED, "")
        self._publish_finished()

    def fail_destination(
        self, instance_id: str, namespace: str, issue: str, *, times: int | None = None
    ) -> None:
        """Make tasks into ``instance_id``/``namespace`` end in ERROR with ``issue``: the next ``times``
        tasks (a transient failure that succeeds on retry), or every one when ``times`` is None."""
        with self._lock:
            self._failures[(instance_id, namespace)] = DestinationFailure(issue, times)

    def on_sync_completed(self, callback: SyncCallback) -> None:
        """Subscribe to ``cr:Artifact:SynchronizationCompleted`` CloudEvents (called when a task ends)."""
        with self._lock:
            self._subscribers.append(callback)

    def advance(self) -> int:
        """Move every unfinished task one step (PENDING → SYNCHRONIZING → SUCCESS | ERROR); return how
        many moved. Higher ``Priority`` first, then oldest (reference §2.3)."""
        with self._lock:
            moving = sorted(
                (t for t in self.tasks.values() if not t.status.is_terminal),
                key=lambda t: (-t.priority, t.create_ms, t.task_id),
            )
            for task in moving:
                if task.status is TaskStatus.PENDING:
                    task.status = TaskStatus.SYNCHRONIZING
                    task.modified_ms = self.now_ms()
                else:
                    self._complete(task)
        self._publish_finished()
        return len(moving)

    def run_pending(self, max_steps: int = 100) -> None:
        """Advance until every task has ended."""
        for _ in range(max_steps):
            if not self.advance():
                return

    def start_ticker(self, interval_s: float = 0.05) -> None:
        """Advance tasks in a background thread every ``interval_s`` (demo mode)."""
        if self._ticker is not None:
            return
        self._ticker_stop.clear()

        def loop() -> None:
            while not self._ticker_stop.wait(interval_s):
                self.advance()

        self._ticker = threading.Thread(target=loop, name="acr-model-ticker", daemon=True)
        self._ticker.start()

    def stop_ticker(self) -> None:
        """Stop the background ticker (no-op if not running)."""
        if self._ticker is not None:
            self._ticker_stop.set()
            self._ticker.join(timeout=5)
            self._ticker = None

    def _complete(self, task: EmuTask) -> None:
        issue = self._destination_issue(task)
        if issue:
            self._finish(task, TaskStatus.ERROR, issue)
            return
        repo = self._find_repo(task.target_instance_id, task.target_namespace, task.target_repo_name)
        if repo is None:
            repo = self.add_repository(task.target_instance_id, task.target_namespace, task.target_repo_name)
        digest = self.repos[task.repo_id].tags[task.tag].digest
        existing = repo.tags.get(task.target_tag)
        # Modelling choice (module docstring): without Override a differing tag is left alone, yet SUCCESS.
        if existing is None or task.override:
            refused = self._copy_content(task, digest)
            if refused:  # the destination's registry would not take the image: the task fails
                self._finish(task, TaskStatus.ERROR, refused)
                return
            self._set_tag(repo, task.target_tag, digest)
        task.synced_size = 23_655_489
        self._finish(task, TaskStatus.SUCCESS, "")

    def _copy_content(self, task: EmuTask, digest: str) -> str:
        """The image itself arrives in the destination instance's registry (when both have one attached);
        what that registry refused ("" when nothing was refused)."""
        source = self.registries.get(task.instance_id)
        target = self.registries.get(task.target_instance_id)
        if source is None or target is None:
            return ""
        try:
            copy_image(
                source,
                f"{task.namespace}/{task.repo}",
                target,
                f"{task.target_namespace}/{task.target_repo_name}",
                tag=task.target_tag,
                digest=digest,
            )
        except RegistryError as exc:  # ⚠ TaskIssue wording assumed, like the others here
            return f"image sync failed: {exc.code} {exc.message}"
        return ""

    def _destination_issue(self, task: EmuTask) -> str:
        failure = self._failures.get((task.target_instance_id, task.target_namespace))
        if failure is not None and failure.remaining != 0:
            if failure.remaining is not None:
                failure.remaining -= 1
            return failure.issue
        target = self.instances.get(task.target_instance_id)
        if target is None or target.region != task.target_region_id:
            return "instance not exist"  # ⚠ TaskIssue wording assumed
        ns = self.namespaces.get((task.target_instance_id, task.target_namespace))
        if ns is None:
            return "namespace not exist"  # ⚠ TaskIssue wording assumed
        exists = self._find_repo(task.target_instance_id, task.target_namespace, task.target_repo_name)
        if exists is None and not ns.auto_create_repo:
            return "repository not exist"  # ⚠ TaskIssue wording assumed
        return ""

    def _finish(self, task: EmuTask, status: TaskStatus, issue: str) -> None:
        task.status = status
        task.issue = issue
        task.progress = 1 if status is TaskStatus.SUCCESS else 0
        task.modified_ms = self.now_ms()
        task.unpublished = True

    def _publish_finished(self) -> None:
        # Callbacks run outside the lock so a subscriber may call back into the model.
        with self._lock:
            events = []
            for task in self.tasks.values():
                if task.unpublished:
                    task.unpublished = False
                    events.append(
                        completion_event(task, self.account_id, self.instances, self.new_id("", 32))
                    )
            subscribers = list(self._subscribers)
        for event in events:
            for callback in subscribers:
                callback(event)
