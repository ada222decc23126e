"""``acr-sync canary``: the one-command proof that a deployment replicates, with each stage's latency."""

from __future__ import annotations

import time

import typer
from rich.markup import escape
from rich.table import Table

from acrsync import bootstrap
from acrsync.cli.common import fail, friendly_errors, out, print_json
from acrsync.domain.images import NAME_RE, SourceImage
from acrsync.service.canary import CANARY_PREFIX, STAGES, iter_stage_rows, run_canary


def register(root: typer.Typer) -> None:
    """Add ``canary`` to the root app."""
    root.command("canary")(canary)


def canary(
    repository: str = typer.Argument(
        ..., help="INSTANCE/NAMESPACE/REPO covered by a rule, e.g. cri-demo-src/team-a/web"
    ),
    *,
    timeout: float = typer.Option(600.0, "--timeout", min=1.0, help="Seconds to wait for every stage."),
    poll: float = typer.Option(2.0, "--poll", min=0.05, help="Seconds between ledger reads."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Push a tiny canary image (tag acrsync-canary-<time>) and follow it through every stage.

    Prints each destination's latency to: push event received, task/copy created, completed, destination
    digest verified; names the first broken stage; removes the canary tags afterwards. Exit code 1 when a
    stage is broken (run it on a timer and alert on that: see the README, "Canary").
    """
    parts = repository.strip("/").split("/")
    if len(parts) != 3 or not all(NAME_RE.match(p) for p in parts[1:]):
        fail(f"{repository[:200]!r}: expected INSTANCE/NAMESPACE/REPO, e.g. cri-demo-src/team-a/web")
    with friendly_errors():
        region = bootstrap.settings().region
        tag = f"{CANARY_PREFIX}{int(time.time())}"
        source = SourceImage(parts[0], region, parts[1], parts[2], tag)
        report = run_canary(bootstrap.canary_deps(), source, timeout_s=timeout, poll_s=poll)
    if as_json:
        print_json(
            {
                "image": report.image,
                "digest": report.digest,
                "passed": report.passed,
                "broken": report.broken,
                "detail": report.detail,
                "destinations": [vars(d) for d in report.destinations],
                "cleanup_problems": report.cleanup,
            }
        )
    elif report.destinations:  # none when the canary stopped before pushing (no rule covers it)
        table = Table("destination", *STAGES, "detail", title=escape(f"canary {report.image}"))
        for row in iter_stage_rows(report):
            table.add_row(*(escape(c) for c in row))
        out.print(table)
    if not as_json:
        for problem in report.cleanup:
            out.print(f"cleanup: {escape(problem)}")
        if report.passed:
            out.print("[green]✓[/] every destination verified", markup=True)
    if not report.passed:
        first = report.broken or next(d.broken for d in report.destinations if d.broken)
        detail = report.detail or next(d.detail for d in report.destinations if d.broken)
        fail(f"broken stage: {first}: {detail}")
