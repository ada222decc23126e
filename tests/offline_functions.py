"""Both FC handlers, called exactly as FC calls them (bytes + context), over a SQLite store in a temp
directory and the ACR model behind the fake registry: no sockets, so the unit tier can drive the handlers
and the CLI through their public surface."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acrsync import bootstrap
from acrsync.local import fc
from acrsync.local.acr_model import AcrModel
from acrsync.local.fake_registry import FakeRegistry
from acrsync.local.fake_world import RecordingNotifier
from acrsync.local.stack import ACCOUNT_ID, seed_events, seed_world
from acrsync.service import rules_admin
from acrsync.service.clock import ManualClock

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_RULES = ROOT / "examples" / "rules.yaml"


@dataclass
class OfflineFunctions:
    """The environment a deployed function gets (store, region, accounts), and the world behind it."""

    workdir: Path
    model: AcrModel = field(init=False)
    clock: ManualClock = field(default_factory=ManualClock)
    notifier: RecordingNotifier = field(default_factory=RecordingNotifier)
    env: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.model = AcrModel(account_id=ACCOUNT_ID, clock=self.clock.now)
        seed_world(self.model)
        seed_events(self.model, ROOT / "events")
        self.env = {
            "ACRSYNC_STORE": f"sqlite:///{self.workdir / 'acrsync.db'}",
            "ACRSYNC_REGION": "cn-hangzhou",
            "ACRSYNC_ALLOWED_ACCOUNT_IDS": ACCOUNT_ID,
        }
        self.configure()

    def configure(self, **variables: str) -> None:
        """(Re)start as a fresh instance with these extra environment variables; the store is kept."""
        self.env.update(variables)
        bootstrap.reset(self.env)
        bootstrap.use(
            clock=self.clock,
            registry=lambda region: FakeRegistry(self.model, region=region),
            notifier=self.notifier,
        )

    def apply_rules(self, path: Path = EXAMPLE_RULES) -> None:
        doc = rules_admin.validate_file(path)
        rules_admin.apply(bootstrap.stores().rules, doc, prune=True, dry_run=False, now=self.clock.now())

    def invoke(self, function: str, body: bytes | str) -> dict[str, Any]:
        raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        return fc.invoke(function, raw, self.env)

    def creates(self) -> list[Any]:
        return self.model.requests_for("CreateRepoSyncTask")

    def close(self) -> None:
        bootstrap.reset()


def log_lines(text: str) -> list[dict[str, Any]]:
    """Every line of captured stdout as JSON (a line that is not JSON fails the test)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]
