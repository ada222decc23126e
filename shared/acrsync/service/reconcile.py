"""The reconciler: level-triggered conformance. Events make acr-sync fast; this makes it correct.

A *pass* walks every source repository the enabled rules select (``ListRepository`` per source instance,
in listing order) and audits each (``reconcile_repo``). An invocation runs a *slice* of a pass and stops
well before its deadline; a durable cursor (``StateStore``, ``reconcile_pass``) records the pass, its
position (instance, repositories done) and its counts after every repository, so the next invocation resumes
where the last one stopped — a killed invocation re-audits at most the repository it was in. Right after a
repository's audit, the tagless referrers of its recently pushed images follow them (``service.referrers``:
candidates from the audit's own tag listing, their ledger rows read by key). When a pass completes its
summary becomes ``last_pass`` (``acr-sync status``) and, if it repaired images no event had brought, one
"events missed" notice goes to the alert lane. What a slice takes and reports: ``reconcile_slice``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from acrsync.domain.events import TimerTick, parse_events
from acrsync.domain.images import SourceImage
from acrsync.domain.patterns import compile_pattern
from acrsync.domain.reconcile import Finding, Kind, RulePolicy
from acrsync.domain.registry import Repository
from acrsync.domain.rules_eval import CompiledRule, RuleIndex, repository_selects
from acrsync.errors import InvalidEvent, RetryableError, UpstreamRejected
from acrsync.logging import get_logger
from acrsync.service.reconcile_act import Actor
from acrsync.service.reconcile_copy import RECENT_S, CopyReader, slot_of
from acrsync.service.reconcile_pass import (
    CURSOR_KEY,
    LAST_PASS_KEY,
    finish_pass,
    new_pass,
    pass_ordinal,
    save_cursor,
)
from acrsync.service.reconcile_repo import RepoAudit
from acrsync.service.reconcile_slice import SLICE_MARGIN_S, Options, ReconcileDeps, SliceReport, Tally
from acrsync.service.referrers import close_clients, referrer_step
from acrsync.service.replicate import ReplicatorDeps

# The reconciler's public names, importable from here as before (their homes: reconcile_slice, _pass).
__all__ = [
    "CURSOR_KEY",
    "LAST_PASS_KEY",
    "SLICE_MARGIN_S",
    "Options",
    "ReconcileDeps",
    "SliceReport",
    "Tally",
    "handle_tick",
    "run_slice",
]

log = get_logger(__name__)

_DEFAULTS = Options()  # frozen: one shared default, as when it was a parameter default


def handle_tick(raw: bytes | str, deps: ReconcileDeps, *, deadline: float) -> dict[str, Any]:
    """The reconciler function: a timer tick runs one slice; anything else is refused with a reason."""
    try:
        events = parse_events(raw, allowed_accounts=frozenset())
    except InvalidEvent as exc:
        log.warning("event_refused", reason=exc.reason, field=exc.field, error=str(exc))
        return {"status": "refused", "reason": f"{exc.reason}: {exc}"}
    if not any(isinstance(e, TimerTick) for e in events):
        log.warning("event_refused", reason="unsupported_type", kinds=[type(e).__name__ for e in events])
        return {"status": "refused", "reason": "unsupported_type: the reconciler takes timer ticks"}
    report = run_slice(deps, deadline=deadline)
    log.info("reconcile_handled", **report.as_dict())
    return {"status": "ok", **report.as_dict()}


def run_slice(
    deps: ReconcileDeps,
    *,
    deadline: float,
    options: Options = _DEFAULTS,
    on_finding: Callable[[Finding], None] | None = None,
    on_repository: Callable[[SliceReport], None] | None = None,
) -> SliceReport:
    """Audit repositories from the cursor on until the pass completes or the deadline nears."""
    cursor, revision = deps.state.read(CURSOR_KEY) if options.cursor else ({}, 0)
    instances = sorted({r.instance for r in deps.index.rules if r.enabled and r.name in deps.policies})
    if cursor.get("pass_id") and cursor.get("instances") != instances:
        # The rules changed the source instances mid-pass: positions no longer mean the same; start over.
        log.info("reconcile_pass_restarted", pass_id=cursor["pass_id"], reason="source instances changed")
        cursor = {}
    if not cursor.get("pass_id"):
        cursor = {
            **new_pass(deps.clock.now()),
            "instances": instances,
            "ordinal": pass_ordinal(deps, options),
        }
    report = SliceReport(str(cursor["pass_id"]), tally=Tally.from_dict(cursor.get("tally", {})))
    report.pass_repositories = int(cursor.get("repositories", 0))
    calls_before = deps.gate.calls
    actor = _actor(deps, options, report, deadline)
    actor.copies = _copy_reader(deps, options, report, int(cursor.get("ordinal", 0)), deadline)
    audit = RepoAudit(
        deps.index,
        deps.policies,
        deps.registry,
        actor,
        deps.region,
        _emitter(report, on_finding),
        role_registry=deps.role_registry,
        referrers_since=_referrers_since(deps, options),
        copies=actor.copies,
    )
    only = compile_pattern(options.repository) if options.repository else None
    try:
        while int(cursor["instance"]) < len(instances):
            instance = instances[int(cursor["instance"])]
            for position, repo in enumerate(_repositories(audit, instance)):
                if position < int(cursor["done"]):
                    continue  # audited by an earlier slice of this pass
                if deps.clock.monotonic() > deadline - options.margin_s:
                    report.stopped = "deadline"
                    return report
                repository = f"{repo.namespace}/{repo.name}"
                rules = selecting_rules(deps.index, deps.policies, instance, repository)
                if rules and (only is None or only.matches(repository)):
                    _audit_one(audit, instance, repo, rules, report)
                    if not _referrers(deps, options, audit, cursor, report, deadline=deadline):
                        report.stopped = "deadline"
                        report.pass_repositories -= 1  # not done: the next slice audits it again
                        save_cursor(deps, options, cursor, report, revision)
                        return report
                cursor.pop("referrers_after", None)  # meant for this repository only
                cursor["done"] = position + 1
                revision = save_cursor(deps, options, cursor, report, revision)
                if on_repository is not None:
                    on_repository(report)
            cursor["instance"], cursor["done"] = int(cursor["instance"]) + 1, 0
            revision = save_cursor(deps, options, cursor, report, revision)
    except (
        RetryableError
    ) as exc:  # throttling that outlasted the retries: the cursor holds, next slice resumes
        report.stopped = f"stopped: {exc}"
        log.warning("reconcile_slice_interrupted", pass_id=report.pass_id, error=str(exc))
        return report
    finally:
        report.api_calls = deps.gate.calls - calls_before
        if deps.referrers is not None:
            close_clients(deps.referrers)
    finish_pass(deps, options, cursor, report, revision=revision, actor=actor)
    return report


def _copy_reader(
    deps: ReconcileDeps, options: Options, report: SliceReport, ordinal: int, deadline: float
) -> CopyReader | None:
    """Copy destinations are read through the referrer step's registry clients (None: not wired)."""
    if deps.referrers is None:
        return None
    window = deps.referrers.window_s if deps.referrers.window_s > 0 else RECENT_S
    return CopyReader(
        deps.referrers.copies.destination,
        deps.ledger,
        since=deps.clock.now() - window,
        slot=slot_of(ordinal, options.recheck_all),
        counts=report.tally.copies,  # the same dict: the cursor keeps the pass's counts between slices
        time_left=lambda: deps.clock.monotonic() <= deadline - options.margin_s / 2,
    )


def _referrers_since(deps: ReconcileDeps, options: Options) -> float | None:
    """When the referrer window opens (audits then keep their recent candidates); None when no rule in the
    pass has companions on, the window is 0, referrers are not wired, or this is a dry run."""
    rules = [r for r in deps.index.rules if r.enabled and r.name in deps.policies]
    wanted = any(d.companions for r in rules for d in r.destinations)
    if deps.referrers is None or deps.referrers.window_s <= 0 or not options.write or not wanted:
        return None
    return deps.clock.now() - deps.referrers.window_s


def _referrers(
    deps: ReconcileDeps,
    options: Options,
    audit: RepoAudit,
    cursor: dict[str, Any],
    report: SliceReport,
    *,
    deadline: float,
) -> bool:
    """After a repository's audit: the referrers of its recent subjects (``service.referrers``); False when
    the slice ran out of time first (the cursor keeps the last subject done; the repository stays undone,
    so the next slice audits it again — its findings then count twice in the pass, as after a kill)."""
    if deps.referrers is None or not audit.recent:
        return True
    return referrer_step(
        deps.referrers,
        audit.recent,
        cursor,
        report.tally.referrers,
        event_id=f"reconcile:{report.pass_id}",
        time_left=lambda: deps.clock.monotonic() <= deadline - options.margin_s,
    )


def _audit_one(
    audit: RepoAudit, instance: str, repo: Repository, rules: tuple[CompiledRule, ...], report: SliceReport
) -> None:
    try:
        audit.audit(instance, repo, rules)
    except UpstreamRejected as exc:  # e.g. no permission on this repository: a finding, then the next one
        log.error("reconcile_repository_unreadable", instance=instance, repository=repo.name, error=str(exc))
        audit.emit(_unreadable(instance, repo, audit.region, str(exc)))
    report.repositories += 1
    report.pass_repositories += 1


def _unreadable(instance: str, repo: Repository, region: str, why: str) -> Finding:
    src = SourceImage(instance, region, repo.namespace, repo.name, "*")
    return Finding(Kind.UNREACHABLE, "", src.ref, "", detail=f"source repository unreadable: {why}")


def _repositories(audit: RepoAudit, instance: str) -> Iterator[Repository]:
    api = audit.registry(audit.region)
    return audit.listing(functools.partial(api.list_repositories, instance), "ListRepository")


def _emitter(report: SliceReport, on_finding: Callable[[Finding], None] | None) -> Callable[[Finding], None]:
    def emit(finding: Finding) -> None:
        report.tally.add(finding)
        if on_finding is not None:
            on_finding(finding)

    return emit


def _actor(deps: ReconcileDeps, options: Options, report: SliceReport, deadline: float) -> Actor:
    replicator = ReplicatorDeps(
        rules=lambda: deps.index,
        ledger=deps.ledger,
        registry=deps.registry,
        gate=deps.gate,
        clock=deps.clock,
        allowed_accounts=frozenset(),
        submitter=deps.submitter,
        copies=deps.referrers.copies if deps.referrers is not None else None,  # repairs at copy destinations
    )
    return Actor(
        deps.ledger,
        deps.registry,
        deps.gate,
        deps.clock,
        replicator,
        f"reconcile:{report.pass_id}",
        deadline,
        options.write,
        options.prune,
        report.tally,
    )


def selecting_rules(
    index: RuleIndex, policies: Mapping[str, RulePolicy], instance: str, repository: str
) -> tuple[CompiledRule, ...]:
    """Enabled rules in scope whose repository clause admits ``NAMESPACE/REPO`` on ``instance``."""
    return tuple(
        r
        for r in index.rules
        if r.enabled and r.instance == instance and r.name in policies and repository_selects(r, repository)
    )
