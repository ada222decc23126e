"""An offline world for the reconciler's referrer step (tests and the bench share it): the emulated source
instance and two ACR destinations, each with an OCI registry stand-in reached the cloud's way
(``ListInstanceEndpoint`` + ``GetAuthorizationToken``), and a "Harbor" copy destination. One rule sends
``team-a/web`` to Harbor (companions on by default), Shanghai (``companions: true``) and Beijing (off).

The emulator's sync tasks move tags in its model only, so ``replicate`` also writes the image into each ACR
destination's registry: what ACR's sync would have carried. The store is SQLite, or with ``tablestore=True``
the Tablestore stand-in (real ``tablestore`` client; ``standin.stats()`` counts every request it served).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acrsync import bootstrap
from acrsync.domain.ledger import LedgerEntry
from acrsync.domain.rules_schema import validate_document
from acrsync.local import fc
from acrsync.local.acr_model import AcrModel
from acrsync.local.acr_registry_actions import attach_registry
from acrsync.local.oci_images import Pushed, put_index, put_referrer
from acrsync.local.oci_registry import OciRegistry
from acrsync.local.stack import ACCOUNT_ID, BEIJING, SHANGHAI, SOURCE, LocalCloud
from acrsync.service import rules_admin
from acrsync.service.clock import ManualClock

if TYPE_CHECKING:
    from acrsync.local.tablestore_standin import TablestoreStandIn

HARBOR_USER, HARBOR_PW = "robot$dr", "harbor-Planted-Secret-91"  # loopback stand-in only
CRED_ENV = "ACRSYNC_REGISTRY_HARBOR"
REPO = "team-a/web"
RULE = "web-everywhere"
COSIGN_OCI11 = "application/vnd.dev.cosign.artifact.sig.v1+json"  # cosign's artifactType in OCI 1.1 mode
_EVENTS = fc.FUNCTIONS_DIR.parent / "events"
TICK = json.dumps(
    {"triggerTime": "2026-11-30T10:00:00Z", "triggerName": "reconcile", "payload": '{"mode":"reconcile"}'}
).encode()


class ReferrersWorld:
    """Drive it with ``replicate``, ``sign``, ``reconcile`` and ``tick``; read the registries in ``regs``."""

    def __init__(
        self,
        cloud: LocalCloud,
        clock: ManualClock,
        regs: dict[str, OciRegistry],
        standin: TablestoreStandIn | None = None,
    ) -> None:
        self.cloud, self.clock, self.regs, self.standin = cloud, clock, regs, standin
        self.env = {**cloud.env, CRED_ENV: f"{HARBOR_USER}:{HARBOR_PW}"}
        if standin is not None:
            self.env.update(
                ACRSYNC_STORE="tablestore://referrers", ACRSYNC_TABLESTORE_ENDPOINT=standin.endpoint
            )

    def replicate(self, tag: str) -> Pushed:
        """Push an image, deliver its event, let ACR's sync and the copier finish and the watcher verify."""
        index = put_index(self.regs["source"].state, REPO, tag, layer_sizes=(3000,))
        self.cloud.model.push(SOURCE[0], "team-a", "web", tag, index.digest)
        doc = json.loads((_EVENTS / "acs.cr" / "push_completed.json").read_text(encoding="utf-8"))
        doc["data"].update(Tag=tag, Digest=index.digest, RepoId="")
        doc["id"] = f"evt-{tag}"
        fc.invoke("replicator", json.dumps(doc).encode(), self.env)
        self.cloud.model.run_pending()
        for _ in range(3):
            self.clock.advance(30)
            self.tick()
        for name in ("shanghai", "beijing"):  # what ACR's sync carried into each instance's registry
            put_index(self.regs[name].state, REPO, tag, layer_sizes=(3000,))
        return index

    def sign(self, subject: Pushed) -> Pushed:
        """``cosign sign`` in OCI 1.1 mode: a tagless manifest whose subject is the image."""
        return put_referrer(self.regs["source"].state, REPO, subject, artifact_type=COSIGN_OCI11)

    def reconcile(self) -> dict[str, Any]:
        """One reconciler invocation (a timer tick), as FC calls it."""
        return fc.invoke("reconciler", TICK, self.env)

    def tick(self) -> dict[str, Any]:
        """One watcher invocation (its sweep timer)."""
        return fc.invoke("watcher", (_EVENTS / "timer" / "sweep.json").read_bytes(), self.env)

    def rows(self) -> list[LedgerEntry]:
        """Every ledger row."""
        return list(bootstrap.stores().ledger.scan())

    def referrer_rows(self) -> list[LedgerEntry]:
        """The rows of referrer copies."""
        return [r for r in self.rows() if r.extra.get("referrer_of")]

    def referrers_at(self, name: str, repo: str, digest: str) -> list[str]:
        """The referrers registry ``name`` lists for ``repo@digest``."""
        doc = json.loads(self.regs[name].state.referrers(repo, digest))
        return [m["digest"] for m in doc["manifests"]]


def rules(harbor: OciRegistry) -> dict[str, Any]:
    """The rules document: one rule, three destinations."""
    dingtalk = {"webhook_env": "ACRSYNC_DINGTALK_WEBHOOK", "secret_env": "ACRSYNC_DINGTALK_SECRET"}
    return {
        "version": 1,
        "channels": {"ops": {"dingtalk": dingtalk}},
        "rules": [
            {
                "name": RULE,
                "alert": "ops",
                "source": {"instance": SOURCE[0], "repositories": [REPO]},
                "destinations": [
                    {"registry": f"{harbor.url}/dr", "credentials_env": CRED_ENV},  # companions: default on
                    {"instance": SHANGHAI[0], "region": SHANGHAI[1], "companions": True},
                    {"instance": BEIJING[0], "region": BEIJING[1]},  # companions off (the ACR default)
                ],
            }
        ],
    }


@contextmanager
def referrers_world(
    workdir: Path, clock: ManualClock, *, tablestore: bool = False
) -> Iterator[ReferrersWorld]:
    """Start everything, apply the rule, yield the world; then stop everything and reset ``bootstrap``."""
    model = AcrModel(account_id=ACCOUNT_ID, clock=clock.now)
    with ExitStack() as stack:
        cloud = stack.enter_context(LocalCloud(workdir, model=model))
        regs = {
            "source": OciRegistry(users={}),
            "harbor": OciRegistry(users={HARBOR_USER: HARBOR_PW}, projects={"dr"}),
            "shanghai": OciRegistry(users={}),
            "beijing": OciRegistry(users={}),
        }
        for reg in regs.values():
            stack.enter_context(reg)
        for instance, name in ((SOURCE[0], "source"), (SHANGHAI[0], "shanghai"), (BEIJING[0], "beijing")):
            attach_registry(cloud.model, instance, regs[name])
        standin = None
        if tablestore:  # the same account keys as every other service of the cloud
            from acrsync.adapters.tablestore_client import create_tables
            from acrsync.local.tablestore_standin import TablestoreStandIn

            emu = cloud.emulator
            standin = TablestoreStandIn(
                access_key_id=emu.access_key_id, access_key_secret=emu.access_key_secret, instance="referrers"
            )
            stack.enter_context(standin)
            create_tables(standin.client())
        world = ReferrersWorld(cloud, clock, regs, standin)
        bootstrap.reset(world.env)
        bootstrap.use(clock=clock)
        stack.callback(bootstrap.reset)
        doc = validate_document(rules(regs["harbor"]))
        rules_admin.apply(bootstrap.stores().rules, doc, prune=True, dry_run=False, now=clock.now())
        yield world
