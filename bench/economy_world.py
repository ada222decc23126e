"""The world the economy benchmark runs in: both handlers as FC calls them, the real SDKs, loopback services.

ACR emulator (real ``alibabacloud-cr20181201`` client) and the Tablestore stand-in (real ``tablestore``
client, which counts every request it serves), a manual clock shared by the services and the ACR model so
minutes pass in no time, and one FC instance per function: each function keeps its own bootstrap cache
(clients, ledger memory, rules cache, API-budget hold), as two deployed functions would. Each ACR call
moves the clock by ``ACR_LATENCY_S``, so API-budget tokens held for 0.25 s expire as they would.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acrsync import bootstrap
from acrsync.adapters.tablestore_client import create_tables
from acrsync.bootstrap import core as bootstrap_core
from acrsync.domain.ledger import LedgerEntry
from acrsync.local import fc
from acrsync.local.acr_model import AcrModel
from acrsync.local.stack import ACCOUNT_ID, LocalCloud, seed_world
from acrsync.local.tablestore_standin import TablestoreStandIn
from acrsync.service import rules_admin
from acrsync.service.clock import ManualClock

ROOT = Path(__file__).resolve().parent.parent
REGIONS = ("cn-shanghai", "cn-beijing", "cn-shenzhen", "cn-hongkong", "ap-southeast-1", "cn-qingdao")
# Assumed latency of one ACR OpenAPI call from FC in the same region (the manual clock moves by it).
ACR_LATENCY_S = 0.03
TICK = json.dumps({"triggerTime": "2026-11-28T00:00:00Z", "triggerName": "sweep", "payload": "{}"}).encode()


def destinations(d: int) -> list[tuple[str, str]]:
    """``d`` destination instances, each in a region of its own (cycling when ``d`` > 6)."""
    return [(f"cri-bench-d{i}", REGIONS[i % len(REGIONS)]) for i in range(d)]


def _rules_yaml(d: int) -> str:
    dests = "\n".join(f"      - {{instance: {inst}, region: {region}}}" for inst, region in destinations(d))
    return (
        "version: 1\nrules:\n  - name: bench-fanout\n    source:\n      instance: cri-demo-src\n"
        f'      repositories: ["team-a/*"]\n    destinations:\n{dests}\n'
    )


@dataclass
class EconomyWorld:
    """Handles for one scenario: the cloud, the stand-in, the clock, and a per-function bootstrap cache."""

    cloud: LocalCloud
    standin: TablestoreStandIn
    clock: ManualClock
    env: dict[str, str]
    caches: dict[str, dict[str, Any]] = field(default_factory=dict)
    tags: int = 0
    completions: list[dict[str, Any]] = field(default_factory=list)
    spent: dict[str, int] = field(default_factory=dict)

    def invoke(self, function: str, event: bytes, *, label: str = "") -> dict[str, Any]:
        """``handler(event, context)`` on this function's instance (its own clients and caches); the
        Tablestore requests it made are added to ``spent[label or function]``."""
        before = self.round_trips()
        try:
            return self._invoke(function, event)
        finally:
            key = label or function
            self.spent[key] = self.spent.get(key, 0) + self.round_trips() - before

    def _invoke(self, function: str, event: bytes) -> dict[str, Any]:
        # One instance per function: swap the one cache every bootstrap module reads at call time.
        saved = bootstrap_core._cache
        if function not in self.caches:
            bootstrap_core._cache = {}
            bootstrap.reset(self.env)
            bootstrap.use(clock=self.clock)
            self.caches[function] = bootstrap_core._cache
        bootstrap_core._cache = self.caches[function]
        try:
            return fc.invoke(function, event, self.env)
        finally:
            bootstrap_core._cache = saved

    def push(self, n: int = 1) -> list[bytes]:
        """Push ``n`` new tags of team-a/web into the emulated source; their PushCompleted events."""
        base = json.loads((ROOT / "events" / "acs.cr" / "push_completed.json").read_text())
        out = []
        for _ in range(n):
            i = self.tags
            self.tags += 1
            digest = "sha256:" + f"{i + 1:064x}"
            self.cloud.model.push("cri-demo-src", "team-a", "web", f"v1.{i}.0", digest)
            base["id"] = f"bench-{i}"
            repo_id = self.cloud.model.repo_by_name("cri-demo-src", "team-a", "web").repo_id
            base["data"].update({"Tag": f"v1.{i}.0", "Digest": digest, "RepoId": repo_id})
            out.append(json.dumps(base).encode())
        return out

    def finish_tasks(self) -> list[dict[str, Any]]:
        """Let ACR finish every open task; the completion events it raised (if anyone listens)."""
        self.completions.clear()
        self.cloud.model.run_pending()
        return list(self.completions)

    def round_trips(self) -> int:
        """Tablestore requests served since the last ``reset``."""
        return int(self.standin.stats()["total_requests"])

    def range_reads(self) -> int:
        """GetRange requests since the last ``reset``."""
        return int(self.standin.stats()["requests"].get("GetRange", 0))

    def acr_calls(self, since: int) -> dict[str, int]:
        """ACR OpenAPI calls by action since request number ``since``."""
        counts: dict[str, int] = {}
        for record in self.cloud.model.requests[since:]:
            counts[record.action] = counts.get(record.action, 0) + 1
        return counts

    def rows(self) -> list[LedgerEntry]:
        """Every ledger row (read on a fresh adapter, outside any function's counts)."""
        from acrsync.adapters.tablestore_store import TablestoreLedger

        return list(TablestoreLedger(self.standin.client()).scan())


@contextmanager
def economy_world(d: int, *, events: bool) -> Iterator[EconomyWorld]:
    """A fresh world with one rule sending team-a/* to ``d`` destinations; nothing left running after."""
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="acrsync-economy-")))
        clock = ManualClock(start=time.time())
        model = AcrModel(account_id=ACCOUNT_ID, clock=clock.now)
        seed_world(model)
        for instance, region in destinations(d):
            model.add_instance(instance, region=region, name=instance)
            model.add_namespace(instance, "team-a", auto_create_repo=True)
        record = model.record

        def record_and_wait(*args: Any, **kwargs: Any) -> Any:
            clock.advance(ACR_LATENCY_S)  # each ACR call takes time, so held API-budget tokens expire
            return record(*args, **kwargs)

        model.record = record_and_wait  # type: ignore[method-assign]
        cloud = stack.enter_context(LocalCloud(tmp / "cloud", model=model, seed=False))
        emu = cloud.emulator
        standin = stack.enter_context(
            TablestoreStandIn(
                access_key_id=emu.access_key_id, access_key_secret=emu.access_key_secret, instance="bench"
            )
        )
        env = {
            **cloud.env,
            "ACRSYNC_STORE": "tablestore://bench",
            "ACRSYNC_TABLESTORE_ENDPOINT": standin.endpoint,
            "ACRSYNC_LOG_LEVEL": "ERROR",
        }
        client = standin.client()
        create_tables(client)
        rules_file = tmp / "rules.yaml"
        rules_file.write_text(_rules_yaml(d))
        from acrsync.adapters.tablestore_store import TablestoreRuleStore

        doc = rules_admin.validate_file(rules_file)
        rules_admin.apply(TablestoreRuleStore(client), doc, prune=True, dry_run=False, now=clock.now())
        world = EconomyWorld(cloud, standin, clock, env)
        if events:
            model.on_sync_completed(world.completions.append)
        try:
            yield world
        finally:
            bootstrap.reset()
