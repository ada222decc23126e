"""The local stack ``acr-sync canary`` runs against (shared by its e2e tests).

The stack: the ACR emulator, a source registry stand-in attached to the source instance (whose pushes
become PushCompleted events delivered to the replicator on a thread, as EventBridge's trigger does), a
"Harbor" stand-in as a copy destination, and a registry stand-in attached to the Beijing instance (an
ACR-sync destination: ``replication()`` runs ACR's sync tasks and delivers their completion events to the
watcher).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from acrsync import bootstrap
from acrsync.cli.app import app
from acrsync.domain.rules_schema import validate_document
from acrsync.local.acr_registry_actions import attach_registry
from acrsync.local.oci_registry import OciRegistry
from acrsync.local.push_events import PushEvents
from acrsync.local.stack import BEIJING, SOURCE, LocalCloud
from acrsync.local.sync_events import SyncEvents
from acrsync.service import rules_admin

CRED_ENV = "ACRSYNC_REGISTRY_HARBOR"


class Stack:
    def __init__(
        self, cloud: LocalCloud, source: OciRegistry, harbor: OciRegistry, beijing: OciRegistry
    ) -> None:
        self.cloud, self.source, self.harbor, self.beijing = cloud, source, harbor, beijing
        self.env = {**cloud.env, CRED_ENV: "robot$dr:harbor-Planted-pw-3"}
        self.events: PushEvents | None = None
        self.syncs: SyncEvents | None = None

    def rules(
        self,
        *destinations: dict[str, Any],
        repositories: tuple[str, ...] = ("team-a/*",),
        alert: str = "",
        channels: dict[str, Any] | None = None,
    ) -> None:
        rule = {
            "name": "canary-covered",
            "source": {"instance": SOURCE[0], "repositories": list(repositories)},
            "tags": {"include": ["glob:acrsync-canary-*"]},
            "destinations": list(destinations),
            **({"alert": alert} if alert else {}),
        }
        doc = {"version": 1, "channels": channels or {}, "rules": [rule]}
        rules_admin.apply(
            bootstrap.stores().rules, validate_document(doc), prune=True, dry_run=False, now=0.0
        )

    def trigger(self, *, timeout_s: int | None = None) -> None:
        self.events = PushEvents(
            self.source, self.cloud.model, SOURCE[0], SOURCE[1], self.env, timeout_s=timeout_s
        ).start()

    def replication(self) -> SyncEvents:
        """ACR runs sync tasks; each task that ends is delivered to the watcher."""
        self.syncs = SyncEvents(self.cloud.model, self.env).start()
        return self.syncs

    def canary(self, repository: str, timeout: float = 20.0, *options: str) -> Any:
        result = CliRunner().invoke(
            app, ["canary", repository, "--timeout", str(timeout), "--poll", "0.1", "--json", *options]
        )
        if self.events is not None:
            self.events.join()
        if self.syncs is not None:
            self.syncs.join()
        return result


@pytest.fixture(name="stack")
def stack_fixture(tmp_path: Path) -> Iterator[Stack]:
    with (
        LocalCloud(tmp_path) as cloud,
        OciRegistry(users={}) as source,
        OciRegistry(users={"robot$dr": "harbor-Planted-pw-3"}, projects={"dr"}) as harbor,
        OciRegistry(users={}) as beijing,
    ):
        attach_registry(cloud.model, SOURCE[0], source)
        attach_registry(cloud.model, BEIJING[0], beijing)
        s = Stack(cloud, source, harbor, beijing)
        bootstrap.reset(s.env)
        yield s
        if s.syncs is not None:
            s.syncs.stop()
        bootstrap.reset()


def beijing() -> dict[str, Any]:
    """The Beijing ACR EE instance as an ACR-sync destination of the canary's rule."""
    return {"instance": BEIJING[0], "region": BEIJING[1]}


def harbor(stack: Stack) -> dict[str, Any]:
    """The Harbor stand-in as a copy destination of the canary's rule."""
    return {"registry": f"{stack.harbor.url}/dr", "credentials_env": CRED_ENV}
