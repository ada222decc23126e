"""``acr-sync backfill|replicate|status|retry|doctor``: the operator commands."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from acrsync import bootstrap
from acrsync.cli import audit as audit_cli
from acrsync.cli.common import err, fail, friendly_errors, out, print_json
from acrsync.domain.images import NAME_RE, TAG_RE, ImageRef, SourceImage, parse_image_ref
from acrsync.domain.ledger import LedgerEntry
from acrsync.service import backfill as backfill_service
from acrsync.service import doctor as doctor_service
from acrsync.service import operate

JSON = typer.Option(False, "--json", help="Print machine-readable JSON.")
IMAGE_HELP = "INSTANCE/NAMESPACE/REPO:TAG, e.g. cri-demo-src/team-a/web:v1.2.3"
RUN_DEADLINE_S = 120.0  # one manual replication or `retry --now`: a few API calls each
TABLE_ROWS = 50  # status tables show this many rows; --json has everything
_STATUS_STYLE = {"PASS": "green", "WARN": "yellow", "FAIL": "bold red"}


def register(root: typer.Typer) -> None:
    """Add the operator commands to the root app."""
    for name, fn in (
        ("backfill", backfill),
        ("replicate", replicate),
        ("status", status),
        ("retry", retry),
        ("doctor", doctor),
    ):
        root.command(name)(fn)


def _image(text: str) -> ImageRef:
    try:
        ref = parse_image_ref(text)
    except ValueError as exc:
        fail(str(exc))
    for label, value, rx in (
        ("namespace", ref.namespace, NAME_RE),
        ("repository", ref.repo, NAME_RE),
        ("tag", ref.tag, TAG_RE),
    ):
        if not rx.match(value):
            fail(f"{text!r}: {value!r} is not a valid ACR {label}")
    return ref


# ---------------------------------------------------------------------------------------------- backfill
@contextmanager
def _progress(show: bool) -> Iterator[Any]:
    """A live counter on a terminal (tags evaluated / tasks submitted); a no-op callback otherwise."""
    if not show:
        yield None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task("starting", total=None)

        def update(report: backfill_service.BackfillReport) -> None:
            text = (
                f"tags evaluated [bold]{report.tags_evaluated}[/]"
                f" · tasks submitted [bold]{report.submitted}[/]"
                f" · skipped (same digest) {report.skipped} · repositories {report.repositories}"
            )
            bar.update(task, description=text)

        yield update


def backfill(
    rule: str = typer.Option("", "--rule", help="Backfill this rule only (default: every enabled rule)."),
    repository: str = typer.Option("", "--repository", help="Only NAMESPACE/REPO matching this glob."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan; claim and submit nothing."),
    max_qps: int = typer.Option(
        0, "--max-qps", min=0, help="ACR calls per second for this run (0: ACRSYNC_ACR_QPS)."
    ),
    as_json: bool = JSON,
) -> None:
    """Replicate images that already exist, as if each tag had just been pushed; re-run to resume."""
    with friendly_errors():
        deps = bootstrap.backfill_deps(rule=rule, max_qps=max_qps)
    plan: list[backfill_service.PlanItem] = []
    # A real run keeps only what went wrong for the summary (10,000 tags must not pile up in memory).
    keep = plan.append if dry_run else (lambda i: plan.append(i) if i.error else None)
    started = time.monotonic()
    with _progress(out.is_terminal and not as_json) as on_progress, friendly_errors():
        report = backfill_service.run(
            deps, repository=repository, dry_run=dry_run, on_item=keep, on_progress=on_progress
        )
    elapsed = time.monotonic() - started
    if as_json:
        print_json({**report.as_dict(), "elapsed_s": round(elapsed, 2), "items": [i.as_dict() for i in plan]})
    else:
        _print_backfill(report, plan, elapsed)
    if report.interrupted or report.actions.get("failed"):
        raise typer.Exit(1)


def _print_backfill(
    report: backfill_service.BackfillReport, items: list[backfill_service.PlanItem], elapsed: float
) -> None:
    if items:
        table = Table(
            "rule", "source", "digest", "destination", "action", title="plan" if report.dry_run else ""
        )
        for i in items:
            table.add_row(
                i.rule, i.source, i.digest[:19], i.destination, i.action + (f" {i.error}" if i.error else "")
            )
        out.print(table)
    rate = report.tags_evaluated / elapsed if elapsed > 0 else 0.0
    out.print(
        f"{'dry run' if report.dry_run else 'backfill'} {report.run_id}: {report.repositories} repositories, "
        f"{report.tags_evaluated} tags evaluated ({rate:.0f}/s), {report.matched} matched, "
        f"{report.submitted} submitted, {report.skipped} skipped (destination has the digest)"
    )
    others = {
        k: v for k, v in report.actions.items() if k not in ("submitted", "reconciled", "skipped_same_digest")
    }
    if others:
        out.print("other outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(others.items())))
    if report.dry_run:
        out.print("[yellow]dry run:[/] nothing claimed or submitted", markup=True)
    if report.interrupted:
        err.print(f"[bold red]interrupted:[/] {escape(str(report.interrupted))}", markup=True)
        err.print("[dim]hint:[/] run the same command again: it resumes, skipping what is done", markup=True)


# --------------------------------------------------------------------------------------------- replicate
def replicate(
    image: str = typer.Argument(..., help=IMAGE_HELP),
    *,
    to: str = typer.Option(
        ..., "--to", help="INSTANCE/REGION\\[/NAMESPACE/REPO:TAG], e.g. cri-dst456/cn-shanghai (same names)."
    ),
    override: bool = typer.Option(False, "--override", help="Overwrite the destination tag if it exists."),
    account: str = typer.Option("", "--account", help="Destination account UID (cross-account)."),
    priority: int = typer.Option(3, "--priority", min=1, max=5, help="1..5, higher runs first."),
    as_json: bool = JSON,
) -> None:
    """Replicate one image now (the console's "Replicate" action); the watcher follows the task."""
    ref = _image(image)
    try:
        destination = operate.parse_destination(to, ref)
    except ValueError as exc:
        fail(str(exc))
    with friendly_errors():
        region = bootstrap.settings().region
        source = SourceImage(ref.instance_id, region, ref.namespace, ref.repo, ref.tag, ref.digest)
        if destination.same_place_as(source):
            fail(f"refusing to replicate {source.ref} onto itself", hint="--to must name another place")
        deps = bootstrap.operator_deps()
        result = operate.replicate_image(
            deps,
            source,
            destination,
            override=override,
            priority=priority,
            account=account,
            event_id=f"manual:{int(deps.clock.now())}",
            deadline=deps.clock.monotonic() + RUN_DEADLINE_S,
        )
    if as_json:
        print_json(result.as_dict())
    elif result.outcome in ("submitted", "reconciled"):
        line = f"{result.source} → {result.destination}: task {result.task_id}"
        out.print(f"[green]✓[/] {escape(line)}", markup=True)
        out.print(f"{result.task_id}")
    elif result.outcome == "duplicate":
        out.print(
            f"already replicated or in flight: {result.source} ({result.digest[:19]}) → {result.destination}"
            f"{', task ' + result.task_id if result.task_id else ''}; nothing submitted. "
            f"If it failed: acr-sync retry {result.source}"
        )
    else:
        out.print(f"{result.outcome}: {result.source} → {result.destination} {result.error}")
    if result.outcome == "failed":
        raise typer.Exit(1)


# ------------------------------------------------------------------------------------------------ status
def status(
    failed: bool = typer.Option(False, "--failed", help="Only failures."),
    since: str = typer.Option("24h", "--since", help="How far back: 30m, 1h, 24h, 7d."),
    as_json: bool = JSON,
) -> None:
    """What happened recently: counts by state, failures and why, open tasks, push-to-verified latency."""
    try:
        since_s = operate.parse_since(since)
    except ValueError as exc:
        fail(str(exc))
    with friendly_errors(), bootstrap.read_only():
        clock = bootstrap.clock()
        report = operate.recent_status(bootstrap.stores().ledger, clock, since_s=since_s, failed_only=failed)
        now = clock.now()
        reconciler = audit_cli.last_pass()
    data = report.as_dict(now)
    if as_json:
        print_json({"since": since, **data, "reconciler": reconciler})
        return
    counts = Table("state", "count", title=f"replications in the last {since}")
    for state, n in sorted(report.counts.items()):
        counts.add_row(state, str(n))
    out.print(counts if report.counts else f"no replications in the last {since}")
    if data["failures"]:
        table = Table(
            "rule", "source", "digest", "destination", "task", "attempts", "state", "TaskIssue / error"
        )
        for f in data["failures"][:TABLE_ROWS]:
            table.add_row(
                f["rule"], f["source"], f["digest"][:19], f["destination"], f["task_id"],
                str(f["attempts"]), f["state"], f["reason"],
            )  # fmt: skip
        table.title = "failures (acr-sync retry --failed re-opens them)"
        out.print(table)
        _more(len(data["failures"]))
    if data["open"] and not failed:
        table = Table("source", "destination", "state", "task", "age", title="open")
        oldest = sorted(data["open"], key=lambda o: -o["age_s"])
        for o in oldest[:TABLE_ROWS]:
            table.add_row(o["source"], o["destination"], o["state"], o["task_id"], _age(o["age_s"]))
        table.title = "open (oldest first)"
        out.print(table)
        _more(len(oldest))
    if report.latency_s:
        lat = report.latency_s
        out.print(f"push → verified: p50 {lat['p50']}s, p90 {lat['p90']}s, p99 {lat['p99']}s")
    audit_cli.print_last_pass(reconciler)


def _more(total: int) -> None:
    if total > TABLE_ROWS:
        out.print(f"… and {total - TABLE_ROWS} more (--json lists them all)")


def _age(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds}s"
    return f"{seconds // 60}m" if seconds < 7200 else f"{seconds // 3600}h"


# ------------------------------------------------------------------------------------------------- retry
def retry(
    image: str = typer.Argument("", help=f"Only this image: {IMAGE_HELP}"),
    *,
    failed: bool = typer.Option(
        True,
        "--failed",
        help="Re-open failed, mismatched and cancelled rows (the default, and all retry does).",
    ),
    rule: str = typer.Option("", "--rule", help="Only rows of this rule."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be re-opened; change nothing."),
    now: bool = typer.Option(False, "--now", help="Submit at once instead of on the watcher's next tick."),
    as_json: bool = JSON,
) -> None:
    """Re-open what failed; the watcher re-submits it on its next tick (or now, with --now)."""
    ref = _image(image) if image else None
    with friendly_errors():
        clock = bootstrap.clock()
        rows = operate.retry(bootstrap.stores().ledger, clock, rule=rule, image=ref, dry_run=dry_run)
        submitted = []
        if now and not dry_run and rows:
            submitted = operate.retry_now(
                rows, bootstrap.submitter(), deadline=clock.monotonic() + RUN_DEADLINE_S
            )
    tasks = {s.entry.claim_id: s for s in submitted}
    if as_json:
        print_json(
            {
                "dry_run": dry_run,
                "reopened": [_row(r) | _task(tasks.get(r.claim_id)) for r in rows],
            }
        )
        return
    if not rows:
        out.print("nothing to retry: no failed, mismatched or cancelled replication matches")
        return
    table = Table("rule", "source", "destination", "then", title="would re-open" if dry_run else "re-opened")
    for r in rows:
        sub = tasks.get(r.claim_id)
        then = f"{sub.outcome} {sub.entry.task_id}" if sub else ("-" if dry_run else "watcher's next tick")
        table.add_row(r.rule, r.source_ref, r.dest_ref, then)
    out.print(table)


def _row(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "rule": entry.rule,
        "source": entry.source_ref,
        "destination": entry.dest_ref,
        "state": entry.state.value,
    }


def _task(sub: Any) -> dict[str, Any]:
    return {} if sub is None else {"outcome": sub.outcome, "task_id": sub.entry.task_id}


# ------------------------------------------------------------------------------------------------ doctor
def doctor(
    send_test_alert: bool = typer.Option(
        False, "--send-test-alert", help="Also send a test DingTalk message."
    ),
    as_json: bool = JSON,
    deployed: bool = typer.Option(
        False,
        "--deployed",
        help="Check the deployment instead: FC functions, triggers, async config, EventBridge rules and "
        "ACR's built-in sync rules against s.yaml (FC 3.0 and EventBridge APIs; values never shown).",
    ),
    s_yaml: Path = typer.Option(
        Path("s.yaml"),
        "--s-yaml",
        help="The Serverless Devs file that says what was meant (with --deployed).",
    ),
) -> None:
    """Preflight: credentials, Premium source, public regions, destinations, rules, store, alerts.

    Copy destinations: each registry's credentials are set and accepted.
    Custom links (link:): ACR's API cannot list links, so each is judged by acr-sync's manual rule for it.
    Rule edited in the console = FAIL; its last task SUCCESS = PASS, ERROR = FAIL; no task yet = WARN.
    Every check runs whatever the others met; the table always prints; the exit code is 1 on any FAIL.
    Opens the store read-only unless --send-test-alert (which records the robot's rate budget there).
    With --deployed: the deployment in the cloud against s.yaml instead (deploy/README.md §3b).
    """
    access = contextlib.nullcontext() if send_test_alert else bootstrap.read_only()
    with friendly_errors(), access:
        if deployed:
            checks = bootstrap.deployed_checks(s_yaml)
        else:
            checks = doctor_service.run_checks(bootstrap.doctor_deps(), send_test_alert=send_test_alert)
    if as_json:
        print_json({"ok": not doctor_service.failed(checks), "checks": [c.as_dict() for c in checks]})
    else:
        table = Table("", "check", "detail", "fix")
        for c in checks:
            table.add_row(Text(c.status, style=_STATUS_STYLE[c.status]), c.name, c.detail, c.fix)
        out.print(table)
    if doctor_service.failed(checks):
        raise typer.Exit(1)
