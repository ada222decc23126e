"""``acr-sync demo``'s custom-link act, printed: the managed rule, the task by rule, the verified
destination, the refused LinkId with its alert, and doctor's link rows."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape

from acrsync.cli.common import out

if TYPE_CHECKING:
    from acrsync.local.demo_links import LinkActReport


def links_act(workdir: Path) -> LinkActReport:
    """Run the act (its own offline cloud in ``workdir``) and print it; the report."""
    from acrsync.local import demo_links

    out.print(f"\n[bold]custom replication link[/] — a destination with link: {demo_links.LINK}", markup=True)
    report = demo_links.run(workdir, say=lambda line: out.print(f"[dim]•[/] {escape(line)}", markup=True))
    _print(report)
    return report


def _print(report: LinkActReport) -> None:
    rule = report.rule
    if rule:
        out.print(
            f"managed sync rule {rule['SyncRuleId']} ({rule['SyncRuleName']}): {rule['SyncTrigger']}, "
            f"LinkId {rule['LinkId']}, {rule['LocalNamespaceName']}/{rule['LocalRepoName']} → "
            f"{rule['TargetInstanceId']} {rule['TargetNamespaceName']}/{rule['TargetRepoName']}",
            markup=False,
        )
    for params in report.by_rule:
        out.print(
            f"CreateRepoSyncTaskByRule SyncRuleId={params.get('SyncRuleId')} Tag={params.get('Tag')}",
            markup=False,
        )
    for row in (report.row, report.refused):
        if row is not None:
            image = f"{row.source_namespace}/{row.source_repo}:{row.source_tag}"
            if row.state.value == "verified":
                outcome = f"verified (task {row.task_id}, destination digest checked)"
            else:
                outcome = f"{row.state.value} ({row.error_class}): {row.last_error}"
            out.print(f"{image} → {row.dest_ref}: {outcome}", markup=False)
    for title, _ in report.alerts:
        out.print(f"DingTalk received: {title}", markup=False)
    for check in report.doctor:
        out.print(f"doctor {check.status} {check.name}: {check.detail}", markup=False)
        if check.fix:
            out.print(f"  fix: {check.fix}", markup=False)
