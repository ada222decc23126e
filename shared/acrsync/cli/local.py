"""``acr-sync local acr``: run the ACR emulator (and DingTalk sink) in the foreground for manual testing."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from acrsync.cli.common import out
from acrsync.local import fc

if TYPE_CHECKING:
    from acrsync.local.demo import DemoReport

app = typer.Typer(
    help="The offline cloud: loopback stand-ins for ACR, DingTalk, FC 3.0 and EventBridge.",
    no_args_is_help=True,
)


def register(root: typer.Typer) -> None:
    """Add the ``local`` group to the root app."""
    root.add_typer(app, name="local")
    root.command("demo")(demo)


@app.command("up")
def up(
    tick: float = typer.Option(0.5, help="Seconds between sync-task progress steps."),
) -> None:
    """Run the offline cloud (ACR, DingTalk, FC 3.0, EventBridge) on loopback; print the env; Ctrl-C stops."""
    from acrsync.local.stack import EVENT_BUS, LocalCloud, seed_events

    with tempfile.TemporaryDirectory(prefix="acrsync-local-") as tmp, LocalCloud(Path(tmp)) as cloud:
        pushed = seed_events(cloud.model, fc.FUNCTIONS_DIR.parent / "events")
        s_yaml = cloud.deployed_s_yaml()
        cloud.model.start_ticker(tick)
        out.print(
            f"ACR emulator, DingTalk sink, FC 3.0 and EventBridge stand-ins are up ({pushed} images from "
            f"events/ pushed; s.yaml deployed into FC/EventBridge as {s_yaml}). Export:"
        )
        for key, value in cloud.env.items():
            out.print(f"export {key}={value}")
        out.print(
            "then e.g.: acr-sync rules apply examples/rules.yaml && "
            "acr-sync invoke replicator events/acs.cr/push_completed.json; "
            f"acr-sync doctor --deployed --s-yaml {s_yaml}; "
            f"outcome events: export ACRSYNC_EVENT_BUS={EVENT_BUS}"
        )
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            out.print("stopping")


def demo() -> None:
    """Run the whole flow offline (push, rules, sync tasks, watcher, DingTalk) and print what happened."""

    from acrsync.local import demo as scenario

    out.print(
        "[bold]acr-sync demo[/] — the whole flow on loopback, nothing leaves this machine\n", markup=True
    )
    # Each act prints its results before the next one starts, so what is shown follows what happened.
    with tempfile.TemporaryDirectory(prefix="acrsync-demo-") as tmp:
        report = scenario.run(Path(tmp), say=lambda line: out.print(f"[dim]•[/] {line}", markup=True))
        _print_replication_act(report)
        from acrsync.cli.demo_links import links_act

        links = links_act(Path(tmp) / "links")
        dataplane = _dataplane(Path(tmp) / "dataplane")
        _print_dataplane(dataplane)
    seconds = report.seconds + links.seconds + dataplane.seconds
    out.print(f"[green]done[/] in {seconds:.1f} s; everything stopped.", markup=True)


def _print_replication_act(report: DemoReport) -> None:
    """The first act: replications, the reconciler, the alerts, doctor --deployed, outcome events."""
    from rich.markdown import Markdown
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Replications", show_lines=False)
    for column in ("tag", "rule", "destination", "task", "attempts", "outcome"):
        table.add_column(column, overflow="fold")
    colours = {"verified": "green", "failed": "red", "mismatch": "red", "canceled": "yellow"}
    for row in report.rows:
        outcome = Text(row.state.value, style=colours.get(row.state.value, ""))
        if row.task_issue:
            outcome.append(f" ({row.task_issue})")
        table.add_row(
            f"{row.source_namespace}/{row.source_repo}:{row.source_tag}",
            row.rule,
            row.dest_ref,
            row.task_id,
            str(row.attempts),
            outcome,
        )
    out.print(table)
    unmatched = [name for name, resp in report.pushes if not resp.get("results")]
    out.print(
        "attempts > 1: retried after a transient TaskIssue; failed: a permanent TaskIssue, alerted once"
    )
    out.print(f"pushes no rule matched (no API call made): {', '.join(unmatched) or 'none'}")
    _print_reconcile(report)
    for title, text in report.alerts:
        out.print(Panel(Markdown(text), title=f"DingTalk received: {title}", expand=False))
    failed = [c for c in report.deployed if c.status != "PASS"]
    out.print(
        f"doctor --deployed: {len(report.deployed) - len(failed)}/{len(report.deployed)} checks PASS "
        "(functions, env names, async config, triggers, EventBridge rules, invocation mode, ACR sync rules)"
    )
    for check in failed:
        out.print(f"  {check.status} {check.name}: {check.detail}", markup=False)
    events = Table(title="Outcome events the subscriber got on the bus (PutEvents, real SDK)")
    for column in ("type", "subject", "id"):
        events.add_column(column, overflow="fold")
    for event in report.events:
        events.add_row(str(event.get("Type")), str(event.get("Subject")), str(event.get("Id")))
    out.print(events)
    calls = ", ".join(f"{k} {v}" for k, v in sorted(report.acr_calls.items()))
    out.print(f"ACR OpenAPI calls (real SDK, signed, to the emulator): {calls}")


def _print_reconcile(report: DemoReport) -> None:
    """The reconciler act: what its pass found, and the drift it recorded for the alert lane."""
    from rich.table import Table

    pass_ = report.reconcile
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(pass_.get("kinds", {}).items()))
    out.print(f"reconciler pass {pass_.get('pass_id')}: {pass_.get('api_calls')} ACR calls; found {kinds}")
    for example in pass_.get("examples", []):
        out.print(f"  repaired (no push event had brought it): {example}")
    table = Table("drift", "destination", "what the reconciler recorded", title="Reconciler")
    for row in report.notices:
        table.add_row(row.error_class, row.dest_ref, row.last_error)
    out.print(table)


def _dataplane(workdir: Path) -> Any:
    from acrsync.local import demo_dataplane

    out.print("\n[bold]registry data plane[/] — copy destinations, signatures, canary", markup=True)
    return demo_dataplane.run(workdir, say=lambda line: out.print(f"[dim]•[/] {escape(line)}", markup=True))


def _print_dataplane(report: Any) -> None:
    from rich.table import Table

    from acrsync.service.canary import STAGES, iter_stage_rows

    row = report.row
    if row is not None:
        copied = (
            f"{row.source_namespace}/{row.source_repo}:{row.source_tag} → {row.dest_ref}: {row.state.value}"
        )
        out.print(escape(copied + f" ({row.extra.get('copy_blobs_sent', '?')} blobs sent)"))
    out.print(escape(f"Harbor dr/team-a/web tags: {', '.join(report.harbor_tags)}"))
    if report.late_referrer:
        out.print(escape(f"Harbor referrers of {row.dest_tag if row else '?'}: {report.late_referrer}"))
    lost = getattr(report, "lost_push", "")
    out.print(escape(f"push with its event lost, copied to Harbor by the reconciler: {lost or 'NOT copied'}"))
    canary = report.canary
    if canary is not None:
        table = Table("destination", *STAGES, "detail", title=escape(f"canary {canary.image}"))
        for cells in iter_stage_rows(canary):
            table.add_row(*(escape(c) for c in cells))
        out.print(table)
        out.print(
            "canary: " + ("passed" if canary.passed else f"BROKEN at {canary.broken or 'a destination'}")
        )
