"""``acr-sync audit``: what the rules say every destination should hold, against what it holds.

Dry run by default; ``--repair`` acts as the reconciler function does (repairs, conflict policies),
``--prune`` deletes what rules with ``prune: true`` allow. ``status`` shows the function's last pass.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from acrsync import bootstrap
from acrsync.cli.common import err, fail, friendly_errors, out, print_json
from acrsync.domain.images import COPY_REGION
from acrsync.domain.patterns import PatternError, compile_pattern
from acrsync.domain.reconcile import DEFAULT_PRUNE_GRACE, Finding, Kind
from acrsync.errors import StoreNotSetUp
from acrsync.service.reconcile import LAST_PASS_KEY, Options, SliceReport, run_slice

COLUMNS = (Kind.IN_SYNC, Kind.MISSING, Kind.CONFLICT, Kind.EXTRA, Kind.UNREACHABLE)
OTHER = (Kind.PENDING, Kind.FAILED, Kind.UNVERIFIABLE)
AUDIT_S = 24 * 3600.0
TABLE_ROWS = 50


def register(root: typer.Typer) -> None:
    """Add ``audit`` to the root app."""
    root.command("audit")(audit)


def audit(
    rule: str = typer.Option("", "--rule", help="Audit this rule only (default: every enabled rule)."),
    repository: str = typer.Option("", "--repository", help="Only source NAMESPACE/REPO matching this glob."),
    repair: bool = typer.Option(
        False, "--repair", help="Repair missing images and apply each destination's on_conflict policy."
    ),
    prune: bool = typer.Option(
        False,
        "--prune",
        help="Delete extra tags acr-sync created (rules with prune: true, after prune_grace); at a "
        "registry: destination by tag, where the registry allows it.",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print every finding as JSON (kind, images, digests)."
    ),
) -> None:
    """Compare desired and actual state of every destination; dry run unless --repair / --prune.

    ACR destinations are read with ListRepoTag. Copy destinations (registry:) are read over the registry's
    API: its tag list, and a HEAD of every tag the rules ask for (the reconciler function HEADs a share)."""
    try:  # a usage error, said before the store is opened (not an "unexpected" error from the pass)
        compile_pattern(repository) if repository else None
    except PatternError as exc:
        fail(f"--repository: {exc}", hint="give one glob of NAMESPACE/REPO, e.g. --repository 'team-a/*'")
    with friendly_errors():
        deps = bootstrap.reconciler_deps(rule=rule)
    findings: list[Finding] = []
    table: dict[tuple[str, str], dict[str, int]] = {}

    def on_finding(finding: Finding) -> None:
        dest = _place(finding.destination)
        row = table.setdefault((finding.rule or "-", dest), {})
        row[finding.kind.value] = row.get(finding.kind.value, 0) + 1
        if finding.kind is not Kind.IN_SYNC:
            findings.append(finding)

    options = Options(
        write=repair, prune=prune, repository=repository, cursor=False, margin_s=0.0, recheck_all=True
    )
    started = time.monotonic()
    with _progress(out.is_terminal and not as_json) as on_repository, friendly_errors():
        report = run_slice(
            deps,
            deadline=deps.clock.monotonic() + AUDIT_S,
            options=options,
            on_finding=on_finding,
            on_repository=on_repository,
        )
    elapsed = round(time.monotonic() - started, 2)
    if as_json:
        rows = [{"rule": r, "destination": d, **counts} for (r, d), counts in sorted(table.items())]
        print_json(
            {
                **report.as_dict(),
                "elapsed_s": elapsed,
                "summary": rows,
                "findings": [f.as_dict() for f in findings],
            }
        )
    else:
        _print(report, table, findings, elapsed, dry_run=not (repair or prune))
    if report.stopped:
        raise typer.Exit(1)


def _place(destination: str) -> str:
    """``INSTANCE@REGION`` of a destination image; a copy destination's registry (it has '/' in it)."""
    registry, copy, _ = destination.partition(f"@{COPY_REGION}/")
    return f"{registry}@{COPY_REGION}" if copy else destination.split("/", maxsplit=1)[0] or "(source)"


@contextmanager
def _progress(show: bool) -> Iterator[Any]:
    if not show:
        yield None
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err) as bar:
        task = bar.add_task("auditing", total=None)

        def update(report: SliceReport) -> None:
            kinds = report.tally.kinds
            bar.update(
                task,
                description=(
                    f"{report.repositories} repositories · {kinds.get('in_sync', 0)} in sync · "
                    f"{kinds.get('missing', 0)} missing · {kinds.get('conflict', 0)} conflict · "
                    f"{report.api_calls or 0} API calls"
                ),
            )

        yield update


def _print(
    report: SliceReport,
    table: dict[tuple[str, str], dict[str, int]],
    findings: list[Finding],
    elapsed: float,
    *,
    dry_run: bool,
) -> None:
    summary = Table("rule", "destination", *(k.value.replace("_", " ") for k in COLUMNS), "other")
    for (rule, dest), counts in sorted(table.items()):
        other = ", ".join(f"{k.value} {counts[k.value]}" for k in OTHER if counts.get(k.value))
        summary.add_row(rule, dest, *(str(counts.get(k.value, 0)) for k in COLUMNS), other)
    out.print(summary if table else "nothing to audit: no enabled rule selects a repository")
    if findings:
        detail = Table("kind", "source", "destination", "expected", "actual", "action", "detail")
        for f in findings[:TABLE_ROWS]:
            action = f.action.value + (f" → {f.outcome}" if f.outcome else "")
            detail.add_row(
                f.kind.value,
                f.source,
                f.destination,
                f.expected_digest[:19],
                f.actual_digest[:19],
                action,
                f.detail,
            )
        out.print(detail)
        if len(findings) > TABLE_ROWS:
            out.print(f"… and {len(findings) - TABLE_ROWS} more (--json lists them all)")
    out.print(
        f"audit {report.pass_id}: {report.repositories} repositories in {elapsed}s, "
        f"{report.api_calls} API calls"
        + _copies_said(report.tally.copies)
        + (
            f"; {report.tally.events_missed} repaired that no event brought"
            if report.tally.events_missed
            else ""
        )
    )
    if dry_run and findings:
        out.print(
            "[yellow]dry run:[/] nothing changed; --repair fixes, --prune deletes (where rules allow)",
            markup=True,
        )
    if report.stopped:
        err.print(f"[bold red]stopped:[/] {escape(report.stopped)}", markup=True)


def _copies_said(counts: Mapping[str, int]) -> str:
    """``, copy destinations: 2 tag lists, 5 HEADs`` (registry requests of the audit), or ""."""
    if not counts.get("tag_lists"):
        return ""
    return f", copy destinations: {counts['tag_lists']} tag lists, {counts.get('heads', 0)} HEADs"


def last_pass() -> dict[str, Any]:
    """The reconciler function's last completed pass (empty if none yet).

    ``status`` reads it read-only, so a SQLite store set up before the reconciler existed has no state table
    until a function or a write command opens it (and adds it): no pass has run there yet, so say so."""
    try:
        doc, _ = bootstrap.state_store().read(LAST_PASS_KEY)
    except StoreNotSetUp:
        return {}
    return doc


def print_last_pass(doc: dict[str, Any]) -> None:
    """One line for ``status``: when, how long, what it found and did."""
    if not doc:
        out.print("reconciler: no completed pass yet")
        return
    when = dt.datetime.fromtimestamp(float(doc["finished_at"]), tz=dt.timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%SZ"
    )
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(doc.get("kinds", {}).items())) or "nothing"
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(doc.get("outcomes", {}).items())) or "nothing done"
    out.print(
        f"reconciler: last pass {doc['pass_id']} finished {when} after {doc.get('duration_s', 0)}s over "
        f"{doc.get('repositories', 0)} repositories: {kinds}; {outcomes}; "
        f"{doc.get('events_missed', 0)} repaired that no push event brought"
        + _referrers_said(doc.get("referrers") or {})
        + _copies_said(doc.get("copy_destinations") or {}).replace(",", ";", 1)
    )


def _referrers_said(counts: Mapping[str, Any]) -> str:
    """``; referrers: copied 2, failed 1`` (the pass's referrer step), or "" when it found no subject."""
    said = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if k in _REFERRER_SHOWN and v)
    return f"; referrers: {said}" if said else ""


_REFERRER_SHOWN = ("copied", "failed", "retrying", "unsupported", "unreadable")


def reconcile_settings(rules: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The reconciler's keys per rule, defaults filled in (``rules explain`` shows them)."""
    out_: dict[str, dict[str, Any]] = {}
    for rule in rules:
        out_[str(rule["name"])] = {
            "prune": bool(rule.get("prune", False)),
            "prune_grace": str(rule.get("prune_grace") or DEFAULT_PRUNE_GRACE),
            "destinations": {
                (
                    f"{d['registry']}@{COPY_REGION}"
                    if d.get("registry")
                    else f"{d['instance']}@{d['region']}"
                ): {
                    "on_conflict": str(d.get("on_conflict") or "skip"),
                    **({"role_arn": d["role_arn"]} if d.get("role_arn") else {}),
                }
                for d in rule.get("destinations", [])
            },
        }
    return out_


def describe_settings(settings: Mapping[str, Any]) -> str:
    """``prune after 7d; cri-sh@cn-shanghai on_conflict skip`` in one line."""
    prune = f"prune after {settings['prune_grace']}" if settings["prune"] else "prune off"
    dests = "; ".join(
        f"{name} on_conflict {d['on_conflict']}"
        + (f" (reads via {d['role_arn']})" if "role_arn" in d else "")
        for name, d in settings["destinations"].items()
    )
    return f"{prune}; {dests}" if dests else prune
