"""Push events from an OCI stand-in attached to an emulated ACR instance: what EventBridge does in the cloud.

A tagged push to the stand-in records the tag in the ACR model (so ``GetRepoTag`` agrees) and delivers a
``cr:Artifact:PushCompleted`` CloudEvent to the replicator handler on a thread, asynchronously, as
EventBridge's FC trigger does. The payload shape is the one ``events/acs.cr/push_completed.json`` assumes.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from acrsync.local import fc
from acrsync.local.acr_model import AcrModel


class PushEvents:
    """``PushEvents(registry, model, instance, region, env).start()``; ``join()`` waits for deliveries."""

    def __init__(
        self,
        registry: Any,
        model: AcrModel,
        instance: str,
        region: str,
        env: Mapping[str, str],
        *,
        timeout_s: int | None = None,
    ) -> None:
        self._registry, self._model = registry, model
        self._instance, self._region, self._env = instance, region, dict(env)
        self._timeout_s = timeout_s  # the replicator's function timeout (default: s.yaml's)
        self.threads: list[threading.Thread] = []
        self.responses: list[dict[str, Any]] = []
        self.errors: list[str] = []  # what a delivery raised (FC would retry it, then dead-letter it)

    def start(self) -> PushEvents:
        self._registry.on_push.append(self._pushed)
        return self

    def join(self, timeout: float = 60.0) -> None:
        for thread in list(self.threads):
            thread.join(timeout)

    def _pushed(self, repository: str, tag: str, digest: str) -> None:
        namespace, _, repo = repository.partition("/")
        self._model.push(self._instance, namespace, repo, tag, digest)
        event = {
            "id": str(uuid.uuid4()),
            "source": "acs.cr",
            "specversion": "1.0",
            "type": "cr:Artifact:PushCompleted",
            "subject": f"acs.cr:{self._region}:{self._model.account_id}:{self._instance}",
            "aliyunaccountid": self._model.account_id,
            "aliyunregionid": self._region,
            "data": {
                "InstanceId": self._instance,
                "RegionId": self._region,
                "RepoNamespaceName": namespace,
                "RepoName": repo,
                "Tag": tag,
                "Digest": digest,
            },
        }
        thread = threading.Thread(target=self._deliver, args=(json.dumps(event).encode(),))
        self.threads.append(thread)
        thread.start()

    def _deliver(self, body: bytes) -> None:
        deliver(self, "replicator", body, self._env, self._timeout_s)


def deliver(
    into: Any, function: str, body: bytes, env: Mapping[str, str], timeout_s: int | None = None
) -> None:
    """Invoke ``function``'s handler with ``body`` as FC's event trigger would; append its response to
    ``into.responses`` or what it raised to ``into.errors``."""
    context = fc.make_context(function, env)
    if timeout_s is not None:
        context = replace(context, function=replace(context.function, timeout=timeout_s))
    try:
        into.responses.append(fc.load_handler(function)(body, context))
    except Exception as exc:  # noqa: BLE001 - FC records a failed invocation; so do we
        into.errors.append(f"{type(exc).__name__}: {exc}")
