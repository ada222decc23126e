"""``acr-sync local acr``: run the ACR emulator (and DingTalk sink) in the foreground for manual testing."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from acrsync.cli.common import out
from acrsync.local import fc

app = typer.Typer(help="The offline cloud: loopback stand-ins for ACR and DingTalk.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    """Add the ``local`` group to the root app."""
    root.add_typer(app, name="local")
    root.command("demo")(demo)


@app.command("up")
def up(
    tick: float = typer.Option(0.5, help="Seconds between sync-task progress steps."),
) -> None:
    """Start the ACR emulator and DingTalk sink on free loopback ports; print the env to use; Ctrl-C stops."""
    from acrsync.local.stack import LocalCloud, seed_events

    with tempfile.TemporaryDirectory(prefix="acrsync-local-") as tmp, LocalCloud(Path(tmp)) as cloud:
        pushed = seed_events(cloud.model, fc.FUNCTIONS_DIR.parent / "events")
        cloud.model.start_ticker(tick)
        out.print(f"ACR emulator and DingTalk sink are up ({pushed} images from events/ pushed). Export:")
        for key, value in cloud.env.items():
            out.print(f"export {key}={value}")
        out.print(
            "then e.g.: acr-sync rules apply examples/rules.yaml && "
            "acr-sync invoke replicator events/acs.cr/push_completed.json"
        )
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            out.print("stopping")


def demo() -> None:
    """Run the whole flow offline (push, rules, sync tasks, watcher, DingTalk) and print what happened."""
    from rich.markdown import Markdown
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    from acrsync.local import demo as scenario

    out.print(
        "[bold]acr-sync demo[/] — the whole flow on loopback, nothing leaves this machine\n", markup=True
    )
    with tempfile.TemporaryDirectory(prefix="acrsync-demo-") as tmp:
        report = scenario.run(Path(tmp), say=lambda line: out.print(f"[dim]•[/] {line}", markup=True))
        dataplane = _dataplane(Path(tmp) / "dataplane")
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
    for title, text in report.alerts:
        out.print(Panel(Markdown(text), title=f"DingTalk received: {title}", expand=False))
    calls = ", ".join(f"{k} {v}" for k, v in sorted(report.acr_calls.items()))
    out.print(f"ACR OpenAPI calls (real SDK, signed, to the emulator): {calls}")
    _print_dataplane(dataplane)
    out.print(
        f"[green]done[/] in {report.seconds + dataplane.seconds:.1f} s; everything stopped.", markup=True
    )


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
    canary = report.canary
    if canary is not None:
        table = Table("destination", *STAGES, "detail", title=escape(f"canary {canary.image}"))
        for cells in iter_stage_rows(canary):
            table.add_row(*(escape(c) for c in cells))
        out.print(table)
        out.print(
            "canary: " + ("passed" if canary.passed else f"BROKEN at {canary.broken or 'a destination'}")
        )
