"""ACR running sync tasks and telling the watcher: what the cloud does after ``CreateRepoSyncTask``.

The emulator's tasks move on a ticker (PENDING -> SYNCHRONIZING -> SUCCESS | ERROR, reference §2.4); each
task that ends is a ``cr:Artifact:SynchronizationCompleted`` CloudEvent (§1.4, shape ⚠ UNVERIFIED) that
EventBridge's rule in ``s.yaml`` (``eventRuleFilterPattern`` on that type) delivers to the watcher, on a
thread, asynchronously, as FC's event trigger does. With registries attached to both instances, the image
itself arrives in the destination's registry when its task succeeds (``acr_registry_sync``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

from acrsync.local.acr_model import AcrModel
from acrsync.local.push_events import deliver


class SyncEvents:
    """``SyncEvents(model, env).start()``; ``join()`` waits for deliveries; ``stop()`` stops the ticker.

    A task ends two ticks after it is created. Keep ``tick_s`` well above the replicator's pause between
    ``CreateRepoSyncTask`` returning and recording the task id: an event that came before that record would
    find no row (in the cloud the timer sweep then polls the task; no sweep runs here).
    """

    def __init__(self, model: AcrModel, env: Mapping[str, str], *, tick_s: float = 0.3) -> None:
        self._model, self._env, self._tick_s = model, dict(env), tick_s
        self._stopped = False
        self.threads: list[threading.Thread] = []
        self.responses: list[dict[str, Any]] = []
        self.errors: list[str] = []  # what a delivery raised (FC would retry it, then dead-letter it)

    def start(self) -> SyncEvents:
        self._model.on_sync_completed(self._completed)
        self._model.start_ticker(self._tick_s)
        return self

    def stop(self) -> None:
        """Stop the ticker and deliver nothing more (the model keeps no way to unsubscribe)."""
        self._stopped = True
        self._model.stop_ticker()
        self.join()

    def join(self, timeout: float = 60.0) -> None:
        for thread in list(self.threads):
            thread.join(timeout)

    def _completed(self, event: dict[str, Any]) -> None:
        if self._stopped:
            return
        body = json.dumps(event).encode()
        thread = threading.Thread(target=deliver, args=(self, "watcher", body, self._env))
        self.threads.append(thread)
        thread.start()
