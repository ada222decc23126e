"""The local stack ``acr-sync canary`` runs against (shared by its e2e tests).

The stack: the ACR emulator, a source registry stand-in attached to the source instance (whose pushes
become PushCompleted events delivered to the replicator on a thread, as EventBridge's trigger does), and a
"Harbor" stand-in as a copy destination.
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
from acrsync.local.stack import SOURCE, LocalCloud
from acrsync.service import rules_admin

CRED_ENV = "ACRSYNC_REGISTRY_HARBOR"


class Stack:
    def __init__(self, cloud: LocalCloud, source: OciRegistry, harbor: OciRegistry) -> None:
        self.cloud, self.source, self.harbor = cloud, source, harbor
        self.env = {**cloud.env, CRED_ENV: "robot$dr:harbor-Planted-pw-3"}
        self.events: PushEvents | None = None

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

    def canary(self, repository: str, timeout: float = 20.0, *options: str) -> Any:
        result = CliRunner().invoke(
            app, ["canary", repository, "--timeout", str(timeout), "--poll", "0.1", "--json", *options]
        )
        if self.events is not None:
            self.events.join()
        return result


@pytest.fixture(name="stack")
def stack_fixture(tmp_path: Path) -> Iterator[Stack]:
    with (
        LocalCloud(tmp_path) as cloud,
        OciRegistry(users={}) as source,
        OciRegistry(users={"robot$dr": "harbor-Planted-pw-3"}, projects={"dr"}) as harbor,
    ):
        attach_registry(cloud.model, SOURCE[0], source)
        s = Stack(cloud, source, harbor)
        bootstrap.reset(s.env)
        yield s
        bootstrap.reset()


def harbor(stack: Stack) -> dict[str, Any]:
    """The Harbor stand-in as a copy destination of the canary's rule."""
    return {"registry": f"{stack.harbor.url}/dr", "credentials_env": CRED_ENV}
