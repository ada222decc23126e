"""``acr-sync demo``: the whole flow offline, on a fast-forward clock, in well under a minute.

Local cloud up (ACR emulator + DingTalk sink + SQLite) → ``examples/rules.yaml`` applied → push events for
several tags through the replicator handler as FC calls it → the emulator runs the tasks (Beijing's
``team-a`` namespace is broken on purpose; one Shanghai task fails transiently) → completion events and
timer sweeps through the watcher handler → a report of what was replicated, retried, verified, alerted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acrsync import bootstrap
from acrsync.domain.alerts import DEFAULT_WINDOW_S
from acrsync.domain.ledger import LedgerEntry
from acrsync.local import fc
from acrsync.local.acr_model import AcrModel
from acrsync.local.acr_tag_actions import overwrite_tag_behind_back
from acrsync.local.stack import ACCOUNT_ID, EVENT_BUS, LocalCloud, seed_events
from acrsync.service import rules_admin
from acrsync.service.clock import ManualClock

ROOT = fc.FUNCTIONS_DIR.parent
PUSHES = (
    "acs.cr/push_completed.json",  # team-a/web:v1.2.3 -> Shanghai + Beijing
    "acs.cr/push_completed.v1.3.0.json",  # team-a/web:v1.3.0 -> Shanghai + Beijing
    "acs.cr/push_completed.prerelease.json",  # platform/api-gateway:v2.1.0-rc.1 -> Shanghai mirror
    "acs.cr/push_completed.dated.json",  # a dated build -> another account's instance, retagged
    "acs.cr/push_completed.latest.json",  # excluded by every rule
    "acs.cr/push_completed.debug.json",  # *-debug excluded
)
BROKEN = ("cri-demo-bj", "team-a", "namespace not exist")  # permanent: alerted once, grouped
FLAKY = ("cri-demo-sh", "team-a", "network timeout while pulling layer")  # transient: retried, recovers


@dataclass
class DemoReport:
    """What happened, for printing."""

    pushes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    rows: list[LedgerEntry] = field(default_factory=list)
    alerts: list[tuple[str, str]] = field(default_factory=list)
    acr_calls: dict[str, int] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)  # what the outcome bus received
    deployed: list[Any] = field(default_factory=list)  # doctor --deployed checks
    seconds: float = 0.0
    reconcile: dict[str, Any] = field(default_factory=dict)
    notices: list[LedgerEntry] = field(default_factory=list)


def run(workdir: Path, say: Callable[[str], None] = lambda _: None) -> DemoReport:
    """Run the scenario in ``workdir``; everything started here is stopped before returning."""
    started = time.monotonic()
    # Real "now" (DingTalk signatures must be fresh), taken back to the start of an alert window: windows
    # are aligned to the epoch, so an unaligned start would split the failures over two windows on some runs.
    now = time.time()
    clock = ManualClock(start=now - now % DEFAULT_WINDOW_S)
    model = AcrModel(account_id=ACCOUNT_ID, clock=clock.now)
    report = DemoReport()
    with LocalCloud(workdir, model=model) as cloud:
        # Only the images whose events the demo delivers: anything else in the source would be an event
        # "missed", and the reconciler act below shows exactly one.
        seed_events(model, ROOT / "events", only={name.split("/")[-1] for name in PUSHES})
        model.fail_destination(*BROKEN)
        model.fail_destination(*FLAKY, times=1)
        env = {**cloud.env, "ACRSYNC_EVENT_BUS": EVENT_BUS}  # outcome events on, to the stand-in bus
        bootstrap.reset(env)
        bootstrap.use(clock=clock)
        try:
            _scenario(cloud, env, clock, report, say)
            _deployed(cloud, report, say)  # after `rules apply`: the store it reads alert history from exists
        finally:
            bootstrap.reset()
    report.seconds = time.monotonic() - started
    return report


def _deployed(cloud: LocalCloud, report: DemoReport, say: Callable[[str], None]) -> None:
    """s.yaml "deployed" to the FC and EventBridge stand-ins, then checked as `doctor --deployed` does."""
    report.deployed = bootstrap.deployed_checks(cloud.deployed_s_yaml())
    say(f"doctor --deployed: {len(report.deployed)} checks against s.yaml (FC 3.0 + EventBridge + ACR SDKs)")


def _scenario(
    cloud: LocalCloud, env: dict[str, str], clock: ManualClock, report: DemoReport, say: Callable[[str], None]
) -> None:
    doc = rules_admin.validate_file(ROOT / "examples" / "rules.yaml")
    rules_admin.apply(bootstrap.stores().rules, doc, prune=True, dry_run=False, now=clock.now())
    say(f"applied examples/rules.yaml: {len(doc.rules)} rules")
    completions: list[dict[str, Any]] = []
    cloud.model.on_sync_completed(completions.append)
    for name in PUSHES:
        response = fc.invoke("replicator", (ROOT / "events" / name).read_bytes(), env)
        report.pushes.append((name, response))
    say(f"delivered {len(PUSHES)} push events to the replicator")
    for minute in range(12):
        cloud.model.run_pending()
        while completions:
            fc.invoke("watcher", json.dumps(completions.pop(0)).encode(), env)
        clock.advance(61)
        fc.invoke("watcher", (ROOT / "events" / "timer" / "sweep.json").read_bytes(), env)
        if minute == 0:
            say("ACR ran the tasks; completion events and a timer sweep went to the watcher")
    say("fast-forwarded 12 minutes of timer sweeps (retries, verification, alerts)")
    _reconcile_act(cloud, clock, report, say)
    rows = sorted(bootstrap.stores().ledger.scan(), key=lambda e: (e.source_tag, e.rule, e.dest_ref))
    report.rows = [r for r in rows if "notice" not in r.extra]
    report.notices = [r for r in rows if "notice" in r.extra]
    report.alerts = [(m.title, m.text) for m in cloud.sink.messages]
    report.events = list(cloud.eventbridge_state.received.get(EVENT_BUS, []))
    for record in cloud.model.requests:
        report.acr_calls[record.action] = report.acr_calls.get(record.action, 0) + 1


LOST_PUSH = ("platform", "api-gateway", "v2.2.0")  # platform-api-staging -> the Shanghai mirror only
OVERWRITTEN = ("cri-demo-sh", "team-a", "web", "v1.2.3")  # verified above, then changed by hand


def _reconcile_act(
    cloud: LocalCloud, clock: ManualClock, report: DemoReport, say: Callable[[str], None]
) -> None:
    """A push whose event never arrives, and a destination tag overwritten behind acr-sync's back: the
    reconciler's timer tick repairs the first and reports the second (on_conflict: skip)."""
    namespace, repo, tag = LOST_PUSH
    cloud.model.push("cri-demo-src", namespace, repo, tag)
    instance, ns, name, dest_tag = OVERWRITTEN
    overwrite_tag_behind_back(cloud.model, instance_id=instance, namespace=ns, repo=name, tag=dest_tag)
    say(
        f"pushed {namespace}/{repo}:{tag}, its event lost; "
        f"overwrote {instance} {ns}/{name}:{dest_tag} by hand"
    )
    tick = {
        "triggerTime": "2026-11-30T10:00:00Z",
        "triggerName": "reconcile",
        "payload": '{"mode":"reconcile"}',
    }
    report.reconcile = fc.invoke("reconciler", json.dumps(tick).encode(), cloud.env)
    say("the reconciler's timer fired: one pass over every enabled rule")
    for _ in range(7):  # the repair runs and is verified; the alert windows (5 min) close and are sent
        cloud.model.run_pending()
        clock.advance(61)
        fc.invoke("watcher", (ROOT / "events" / "timer" / "sweep.json").read_bytes(), cloud.env)
