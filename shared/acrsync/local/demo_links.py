"""The demo's custom-link act: a destination with ``link: <LinkId>``, on a fast-forward clock.

The source instance has a custom replication link (made in the console: ``add_link``); rule
``team-a-over-link`` sends ``team-a/*`` to Shanghai over it. One push: acr-sync creates its manual
(``INITIATIVE``) sync rule with that ``LinkId``, creates the task with ``CreateRepoSyncTaskByRule``, and the
watcher verifies the destination digest. Rule ``platform-link-typo`` names a ``LinkId`` the instance does
not have: ACR refuses the rule, the row fails as ``link_refused`` and the alert says to check the LinkId.
Last, ``doctor``'s link rows, exactly as ``acr-sync doctor`` prints them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acrsync import bootstrap
from acrsync.domain.alerts import DEFAULT_WINDOW_S
from acrsync.domain.ledger import LedgerEntry
from acrsync.domain.rules_schema import validate_document
from acrsync.local import fc
from acrsync.local.acr_link_actions import add_link
from acrsync.local.acr_model import AcrModel
from acrsync.local.stack import ACCOUNT_ID, SHANGHAI, SOURCE, LocalCloud
from acrsync.service import rules_admin
from acrsync.service.clock import ManualClock
from acrsync.service.doctor import Check, run_checks

LINK = "link-demo-hz-sh"  # the link the source instance has
TYPO = "link-demo-hz-sh2"  # a LinkId it does not have
GOOD = ("team-a", "web", "v1.5.0")
REFUSED = ("platform", "api-gateway", "v2.3.0")
EVENTS = fc.FUNCTIONS_DIR.parent / "events"


@dataclass
class LinkActReport:
    """What the custom-link act did."""

    rule: Mapping[str, Any] = field(default_factory=dict)  # the managed rule, as ListRepoSyncRule lists it
    by_rule: list[Mapping[str, str]] = field(default_factory=list)  # CreateRepoSyncTaskByRule calls
    row: LedgerEntry | None = None  # the link destination's row (verified)
    refused: LedgerEntry | None = None  # the wrong link's row (failed, link_refused)
    alerts: list[tuple[str, str]] = field(default_factory=list)  # DingTalk (title, text) of link_refused
    doctor: list[Check] = field(default_factory=list)  # doctor's custom-link rows
    seconds: float = 0.0


def run(workdir: Path, say: Callable[[str], None] = lambda _: None) -> LinkActReport:
    """Run the act in ``workdir``; everything started here is stopped before returning."""
    started = time.monotonic()
    now = time.time()
    clock = ManualClock(start=now - now % DEFAULT_WINDOW_S)  # one alert window (see demo.run)
    report = LinkActReport()
    with LocalCloud(workdir, model=AcrModel(account_id=ACCOUNT_ID, clock=clock.now)) as cloud:
        add_link(cloud.model, SOURCE[0], LINK)
        bootstrap.reset(cloud.env)
        bootstrap.use(clock=clock)
        try:
            _apply(clock)
            say(
                f"{SOURCE[0]} has custom link {LINK}; rule team-a-over-link sends team-a/* to {SHANGHAI[0]} "
                f"over it, rule platform-link-typo names {TYPO}, which the instance does not have"
            )
            _act(cloud, clock, report, say)
            report.doctor = [
                c for c in run_checks(bootstrap.doctor_deps()) if c.name.startswith("custom link")
            ]
            say("ran doctor: its custom-link rows")
        finally:
            bootstrap.reset()
    report.seconds = time.monotonic() - started
    return report


def _apply(clock: ManualClock) -> None:
    def rule(name: str, namespace: str, link: str) -> dict[str, Any]:
        return {
            "name": name,
            "source": {"instance": SOURCE[0], "repositories": [f"{namespace}/*"]},
            "destinations": [{"instance": SHANGHAI[0], "region": SHANGHAI[1], "link": link}],
        }

    doc = {
        "version": 1,
        "rules": [rule("team-a-over-link", "team-a", LINK), rule("platform-link-typo", "platform", TYPO)],
    }
    rules_admin.apply(
        bootstrap.stores().rules, validate_document(doc), prune=True, dry_run=False, now=clock.now()
    )


def _act(cloud: LocalCloud, clock: ManualClock, report: LinkActReport, say: Callable[[str], None]) -> None:
    for image in (GOOD, REFUSED):
        fc.invoke("replicator", _push(cloud.model, *image), cloud.env)
    report.rule = next((r for r in cloud.model.sync_rules if r["LinkId"] == LINK), {})
    report.by_rule = [
        r.params for r in cloud.model.requests_for("CreateRepoSyncTaskByRule") if r.outcome == "ok"
    ]
    say(f"pushed {GOOD[0]}/{GOOD[1]}:{GOOD[2]} and {REFUSED[0]}/{REFUSED[1]}:{REFUSED[2]} to the replicator")
    for _ in range(7):  # ACR runs the task; the watcher verifies; the alert window closes and is sent
        cloud.model.run_pending()
        clock.advance(61)
        fc.invoke("watcher", (EVENTS / "timer" / "sweep.json").read_bytes(), cloud.env)
    say("fast-forwarded 7 minutes of timer sweeps (verification, alerts)")
    rows = {e.source_namespace: e for e in bootstrap.stores().ledger.scan()}
    report.row, report.refused = rows.get(GOOD[0]), rows.get(REFUSED[0])
    report.alerts = [(m.title, m.text) for m in cloud.sink.messages if "custom link" in m.title]


def _push(model: AcrModel, namespace: str, repo: str, tag: str) -> bytes:
    """Push the image into the emulated source and return its push event, as EventBridge delivers it."""
    digest = model.push(SOURCE[0], namespace, repo, tag)
    event = json.loads((EVENTS / "acs.cr" / "push_completed.json").read_text(encoding="utf-8"))
    event["id"] = f"demo-link-{namespace}-{tag}"
    event["data"].update(RepoNamespaceName=namespace, RepoName=repo, Tag=tag, Digest=digest, RepoId="")
    return json.dumps(event).encode()
