"""``acr-sync canary``: the one-command proof that a deployment replicates, with each stage's latency."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from acrsync import bootstrap
from acrsync.cli.canary_progress import live_progress, wanted
from acrsync.cli.canary_schedule import checked_schedule, print_schedule
from acrsync.cli.common import err, fail, friendly_errors, out, print_json
from acrsync.domain.canary import BROKEN, Verdict, judge, misses_objective
from acrsync.domain.images import NAME_RE, SourceImage
from acrsync.errors import AcrSyncError
from acrsync.ports import Notifier
from acrsync.service.canary import STAGES, CanaryReport, canary_tag, iter_stage_rows, run_canary
from acrsync.service.canary_alert import AlertOutcome, alert_if_failed


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
    objective: float | None = typer.Option(
        None,
        "--objective",
        min=0.01,
        help="Latency objective: seconds from the push to 'verified', per destination. "
        "A destination verified later misses it (exit 3 when nothing is broken).",
    ),
    alert: bool = typer.Option(
        False,
        "--alert",
        help="When broken or over --objective, send one DingTalk alert to the covering rule's channel "
        "(else the default channel).",
    ),
    schedule: str | None = typer.Option(
        None,
        "--schedule",
        metavar="CRON",
        help="Push nothing: print a crontab line running this canary on CRON (e.g. '*/30 * * * *'), "
        "the env variable names it needs, and the exit codes.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Push a tiny canary image (tag acrsync-canary-<unix seconds>-<4 hex>) and follow it through every stage.

    Prints each destination's latency to: push event received, task/copy created, completed, destination
    digest verified; names the first broken stage; removes the canary tags afterwards. Exit code 0 when
    every destination verified (within --objective), 1 when a stage is broken, 3 when nothing is broken but
    a destination missed --objective. With --schedule, prints how to run it on a timer (README, "Canary").
    """
    parts = repository.strip("/").split("/")
    if len(parts) != 3 or not all(NAME_RE.match(p) for p in parts[1:]):
        fail(f"{repository[:200]!r}: expected INSTANCE/NAMESPACE/REPO, e.g. cri-demo-src/team-a/web")
    if schedule is not None:
        checked_schedule(schedule)  # a wrong schedule is a usage error before anything is read
    with friendly_errors():
        region = bootstrap.settings().region
        source = SourceImage(parts[0], region, parts[1], parts[2], canary_tag(time.time()))
        if schedule is not None:
            options = [
                "--timeout",
                f"{timeout:g}",
                *_objective_args(objective),
                *(["--alert"] if alert else []),
            ]
            print_schedule(schedule, source, options, alert=alert, as_json=as_json)
            return
        report = _run(source, timeout=timeout, poll=poll, alert=alert, as_json=as_json)
        verdict = judge(
            report.destinations, run_broken=report.broken, run_detail=report.detail, objective_s=objective
        )
        sent = _alert(report, verdict) if alert else None
    _show(report, verdict, sent, as_json)
    if verdict.exit_code:
        fail(_summary(verdict), code=verdict.exit_code)


def _run(source: SourceImage, *, timeout: float, poll: float, alert: bool, as_json: bool) -> CanaryReport:
    """Run it; when it cannot run at all (store, credentials): report and alert stage ``run``, then raise."""
    try:
        with live_progress(wanted(as_json), timeout) as progress:
            return run_canary(
                bootstrap.canary_deps(), source, timeout_s=timeout, poll_s=poll, progress=progress
            )
    except AcrSyncError as exc:
        # A scheduled run still leaves a JSON report (and its alert); the error itself follows as usual.
        failed = CanaryReport(source.ref, broken="run", detail=f"{type(exc).__name__}: {exc}")
        verdict = judge([], run_broken="run", run_detail=failed.detail)
        sent = _alert(failed, verdict) if alert else None
        if as_json:
            print_json(_document(failed, verdict, sent))
        elif sent is not None:
            _show_alert(sent)
        raise


def _objective_args(objective: float | None) -> list[str]:
    return [] if objective is None else ["--objective", f"{objective:g}"]


def _alert(report: CanaryReport, verdict: Verdict) -> AlertOutcome:
    return alert_if_failed(
        bootstrap.notifier,
        bootstrap.channels(),
        image=report.image,
        verdict=verdict,
        channel_name=report.alert_channel,
        now=time.time(),
        unbudgeted=_unbudgeted,
    )


def _unbudgeted() -> Notifier:
    from acrsync.adapters.dingtalk import DingTalkNotifier  # only when the store (and its budget) is broken

    return DingTalkNotifier()


def _show(report: CanaryReport, verdict: Verdict, sent: AlertOutcome | None, as_json: bool) -> None:
    if as_json:
        print_json(_document(report, verdict, sent))
        return
    if report.destinations:  # none when the canary stopped before pushing (no rule covers it)
        table = Table("destination", *STAGES, "detail", title=escape(f"canary {report.image}"))
        for row in iter_stage_rows(report, verdict.objective_s):
            table.add_row(*(escape(c) for c in row))
        out.print(table)
    for problem in report.cleanup:
        out.print(f"cleanup: {escape(problem)}")
    if not verdict.exit_code:
        within = f" within {verdict.objective_s:g} s" if verdict.objective_s is not None else ""
        out.print(f"[green]✓[/] every destination verified{escape(within)}", markup=True)
    if sent is not None:
        _show_alert(sent)


def _show_alert(sent: AlertOutcome) -> None:
    if sent.owed and sent.sent:
        err.print(f"alert: sent to channel {sent.channel}")
    elif sent.owed:
        err.print(f"alert: NOT sent (channel {sent.channel}): {sent.error}")


def _document(report: CanaryReport, verdict: Verdict, sent: AlertOutcome | None) -> dict[str, Any]:
    return {
        "image": report.image,
        "digest": report.digest,
        "passed": verdict.exit_code == 0,
        "status": verdict.status,
        "exit_code": verdict.exit_code,
        "objective_s": verdict.objective_s,
        # The first broken stage of the run, whether it broke for every destination or for one.
        "broken": verdict.broken[0].stage if verdict.broken else "",
        "detail": verdict.broken[0].detail if verdict.broken else report.detail,
        "destinations": [
            {**vars(d), "objective_missed": misses_objective(d, verdict.objective_s)}
            for d in report.destinations
        ],
        "cleanup_problems": report.cleanup,
        "alert": None if sent is None else dataclasses.asdict(sent),
    }


def _summary(verdict: Verdict) -> str:
    if verdict.status == BROKEN:
        first = verdict.broken[0]
        return f"broken stage: {first.stage}: {first.detail}"
    slow = "; ".join(f"{s.destination} verified after {s.seconds:.1f} s" for s in verdict.slow[:5])
    return f"latency objective {verdict.objective_s:g} s missed: {slow}"
