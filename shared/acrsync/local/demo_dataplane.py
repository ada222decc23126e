"""The demo's second act: the registry data plane, on real time (the canary times real latencies).

A source registry stand-in behind the emulated source instance (reached the cloud's way:
``ListInstanceEndpoint`` + ``GetAuthorizationToken``), a "Harbor" stand-in with a ``dr`` project and a
robot account, and a rule copying ``team-a/*`` releases there. A signed multi-arch image is pushed and
copied with its signature; then signed again the OCI 1.1 way (a tagless referrer, no push event) and one
reconciler pass carries that to Harbor too; then ``acr-sync canary`` pushes its own image through the
source registry, whose push becomes an event for the replicator (as EventBridge would deliver it), and
times every stage — at Harbor (a copy) and at the Beijing instance (an ACR sync task, its registry a
stand-in too).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acrsync import bootstrap
from acrsync.domain.images import SourceImage
from acrsync.domain.ledger import LedgerEntry
from acrsync.domain.rules_schema import validate_document
from acrsync.local import fc
from acrsync.local.acr_registry_actions import attach_registry
from acrsync.local.demo_lost_copy import LOST_TAG, lost_push_repaired
from acrsync.local.oci_images import Pushed, put_cosign_signature, put_index, put_referrer
from acrsync.local.oci_registry import OciRegistry
from acrsync.local.push_events import PushEvents
from acrsync.local.stack import BEIJING, SOURCE, LocalCloud
from acrsync.local.sync_events import SyncEvents
from acrsync.service import rules_admin
from acrsync.service.canary import CANARY_PREFIX, CanaryReport, canary_tag, run_canary

CRED_ENV = "ACRSYNC_REGISTRY_HARBOR"
HARBOR_USER, HARBOR_PASSWORD = "robot$dr+acrsync", "demo-harbor-robot-secret"  # loopback stand-in only
TAG = "v1.4.0"
COSIGN_OCI11 = "application/vnd.dev.cosign.artifact.sig.v1+json"  # cosign's artifactType in OCI 1.1 mode


@dataclass
class DataPlaneReport:
    """What the data-plane act did."""

    row: LedgerEntry | None = None
    harbor_tags: list[str] = field(default_factory=list)
    late_referrer: str = ""  # the tagless signature pushed after the copy, if it reached Harbor
    lost_push: str = ""  # the digest of a push whose event was lost, if a reconciler pass copied it to Harbor
    canary: CanaryReport | None = None
    seconds: float = 0.0


def run(workdir: Path, say: Callable[[str], None] = lambda _: None) -> DataPlaneReport:
    """Run the act in ``workdir``; everything started here is stopped before returning."""
    started = time.monotonic()
    report = DataPlaneReport()
    with (
        LocalCloud(workdir) as cloud,
        OciRegistry(users={}) as source,
        OciRegistry(users={HARBOR_USER: HARBOR_PASSWORD}, projects={"dr"}) as harbor,
        OciRegistry(users={}) as beijing,
    ):
        attach_registry(cloud.model, SOURCE[0], source)
        attach_registry(cloud.model, BEIJING[0], beijing)
        env = {**cloud.env, CRED_ENV: f"{HARBOR_USER}:{HARBOR_PASSWORD}"}
        bootstrap.reset(env)
        try:
            _apply_rules(harbor)
            say(f"a Harbor stand-in at {harbor.url} (project dr, robot account); rule dr-to-harbor")
            report.row = _copy_signed_image(cloud, source, env)
            report.harbor_tags = sorted(harbor.state.tags.get("dr/team-a/web", {}))
            say(f"pushed a signed 2-platform team-a/web:{TAG}; copied with its signature to Harbor")
            report.late_referrer = _sign_later(source, harbor, env)
            say(
                "signed it later with a tagless OCI 1.1 referrer (no tag, no push event); "
                + "one reconciler pass "
                + ("copied it to Harbor" if report.late_referrer else "did NOT copy it to Harbor")
            )
            report.lost_push = lost_push_repaired(cloud, source, harbor, env)
            say(
                f"pushed team-a/web:{LOST_TAG}, its event lost; the next reconciler pass "
                + ("copied it to Harbor" if report.lost_push else "did NOT copy it to Harbor")
            )
            events = PushEvents(source, cloud.model, SOURCE[0], SOURCE[1], env).start()
            syncs = SyncEvents(cloud.model, env).start()
            canary_source = SourceImage(SOURCE[0], SOURCE[1], "team-a", "web", canary_tag(time.time()))
            report.canary = run_canary(bootstrap.canary_deps(), canary_source, timeout_s=30, poll_s=0.1)
            events.join()
            syncs.stop()
            say(
                "ran acr-sync canary: pushed through the source registry, followed to Harbor (copy) and to "
                f"{BEIJING[0]} (ACR sync task), cleaned up at all three"
            )
        finally:
            bootstrap.reset()
    report.seconds = time.monotonic() - started
    return report


def _apply_rules(harbor: OciRegistry) -> None:
    doc = {
        "version": 1,
        "rules": [
            {
                "name": "dr-to-harbor",
                "source": {"instance": SOURCE[0], "repositories": ["team-a/*"]},
                "tags": {"include": ["semver:>=1.0.0", f"glob:{CANARY_PREFIX}*"]},
                "destinations": [{"registry": f"{harbor.url}/dr", "credentials_env": CRED_ENV}],
            },
            _canary_to_acr(),
        ],
    }
    rules_admin.apply(
        bootstrap.stores().rules, validate_document(doc), prune=True, dry_run=False, now=time.time()
    )


def _sign_later(source: OciRegistry, harbor: OciRegistry, env: dict[str, str]) -> str:
    """``cosign sign`` in OCI 1.1 mode after the copy, then one reconciler pass (its referrer step follows
    recent images): the referrer's digest if Harbor now lists it as a referrer of the image, else ""."""
    media, body, digest = source.state.get_manifest("team-a/web", TAG) or ("", b"", "")
    signature = put_referrer(
        source.state, "team-a/web", Pushed(digest, media, len(body)), artifact_type=COSIGN_OCI11
    )
    tick = {"triggerName": "reconcile", "triggerTime": _utc_now(), "payload": '{"mode":"reconcile"}'}
    fc.invoke("reconciler", json.dumps(tick).encode(), env)
    listed = json.loads(harbor.state.referrers("dr/team-a/web", digest))["manifests"]
    return signature.digest if signature.digest in {m["digest"] for m in listed} else ""


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _canary_to_acr() -> dict[str, Any]:
    """Canaries also go to the Beijing ACR EE instance by ``CreateRepoSyncTask``: the product's core path."""
    return {
        "name": "canary-to-beijing",
        "source": {"instance": SOURCE[0], "repositories": ["team-a/*"]},
        "tags": {"include": [f"glob:{CANARY_PREFIX}*"]},
        "destinations": [{"instance": BEIJING[0], "region": BEIJING[1]}],
    }


def _copy_signed_image(cloud: LocalCloud, source: OciRegistry, env: dict[str, str]) -> LedgerEntry | None:
    index = put_index(source.state, "team-a/web", TAG, layer_sizes=(64 * 1024, 2 * 1024 * 1024))
    put_cosign_signature(source.state, "team-a/web", index.digest)
    cloud.model.push(SOURCE[0], "team-a", "web", TAG, index.digest)
    event = json.loads((fc.FUNCTIONS_DIR.parent / "events" / "acs.cr" / "push_completed.json").read_text())
    event["id"] = f"demo-{TAG}"
    event["data"].update(Tag=TAG, Digest=index.digest, RepoId="")
    fc.invoke("replicator", json.dumps(event).encode(), env)
    rows: list[Any] = [r for r in bootstrap.stores().ledger.scan() if r.source_tag == TAG]
    return rows[0] if rows else None
