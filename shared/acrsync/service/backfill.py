"""Backfill: replicate the images that already exist, through the same ledger as the replicator.

For every source instance the enabled rules name: ``ListRepository`` → (repositories a rule could match)
→ ``ListRepoTag`` → ``evaluate`` per tag → per request: skip if the destination tag already holds the
digest (one ``GetRepository`` per destination repository, cached, + one ``GetRepoTag``), else claim and
submit exactly as the replicator does. Everything streams: memory is O(destination repositories), not
O(tags). A re-run, or a run after an interruption, meets its own claims and skips (or reconciles) them.
"""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from acrsync.domain.images import DestinationImage, SourceImage, SyncRequest
from acrsync.domain.ledger import State
from acrsync.domain.patterns import compile_pattern
from acrsync.domain.registry import Repository
from acrsync.domain.rules import RuleIndex, compile_rules, evaluate
from acrsync.domain.rules_eval import first_match
from acrsync.errors import (
    ConflictError,
    RetryableError,
    RuleConfigError,
    UpstreamRejected,
    UpstreamUnavailable,
)
from acrsync.logging import get_logger
from acrsync.ports import Clock, Ledger, RegistryApi
from acrsync.service.copy_jobs import CopyDeps
from acrsync.service.gate import CallGate

# The replicator's claim-then-submit step (existing claims: duplicate, loop guard or reconcile). Private
# there; see the report's proposal to make it public as ``replicate.replicate_request``.
from acrsync.service.replicate import ReplicatorDeps, replicate_request
from acrsync.service.submit import Submitter

T = TypeVar("T")
log = get_logger(__name__)

# ListRepository / ListRepoTag pages hold this many items (WireRegistry asks for MaxResults=100, the
# documented maximum, reference §2.6): one budget token is spent before each page is fetched.
PAGE_ITEMS = 100
LISTING_RETRIES = 3
DEFAULT_RUN_S = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class BackfillDeps:
    """What a backfill needs: the compiled rules to apply, and the replicator's ports."""

    index: RuleIndex
    ledger: Ledger
    registry: Callable[[str], RegistryApi]
    gate: CallGate
    clock: Clock
    submitter: Submitter
    region: str
    copies: CopyDeps | None = None  # registry: destinations are copied (None: refused with a reason)


@dataclass(frozen=True, slots=True)
class PlanItem:
    """One (source tag, destination) the rules asked for, and what the run did (or would do) with it."""

    rule: str
    source: str
    digest: str
    destination: str
    action: str
    task_id: str = ""
    error: str = ""

    def as_dict(self) -> dict[str, str]:
        """JSON-able form."""
        out = {
            "rule": self.rule,
            "source": self.source,
            "digest": self.digest,
            "destination": self.destination,
            "action": self.action,
        }
        out.update({k: v for k, v in (("task_id", self.task_id), ("error", self.error)) if v})
        return out


@dataclass
class BackfillReport:
    """Counters of one run. ``interrupted`` says why the run stopped early (re-run to resume)."""

    run_id: str
    dry_run: bool
    repositories: int = 0
    tags_evaluated: int = 0
    matched: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    interrupted: str = ""

    @property
    def submitted(self) -> int:
        """Tasks created (or adopted from a crashed run) by this run."""
        return self.actions.get("submitted", 0) + self.actions.get("reconciled", 0)

    @property
    def skipped(self) -> int:
        """Destinations that already held the digest."""
        return self.actions.get("skipped_same_digest", 0)

    def count(self, action: str) -> None:
        """Count one plan item."""
        self.actions[action] = self.actions.get(action, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        """JSON-able summary."""
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "repositories": self.repositories,
            "tags_evaluated": self.tags_evaluated,
            "matched": self.matched,
            "submitted": self.submitted,
            "skipped_same_digest": self.skipped,
            "actions": dict(sorted(self.actions.items())),
            "interrupted": self.interrupted,
        }


def _record(report: BackfillReport, item: PlanItem, on_item: Callable[[PlanItem], None] | None) -> None:
    report.count(item.action)
    if on_item is not None:
        on_item(item)


def new_run_id(now: float) -> str:
    """``YYYYmmddTHHMMSS-xxxx``: sortable, unique enough to tell runs apart in the ledger's ``event_id``."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + "-" + secrets.token_hex(2)


def run(
    deps: BackfillDeps,
    *,
    repository: str = "",
    dry_run: bool = False,
    run_id: str = "",
    run_s: float = DEFAULT_RUN_S,
    on_item: Callable[[PlanItem], None] | None = None,
    on_progress: Callable[[BackfillReport], None] | None = None,
) -> BackfillReport:
    """Backfill every tag the (enabled) rules select; ``repository`` narrows to a ``NAMESPACE/REPO`` glob.

    ``dry_run`` reads ACR and the ledger but writes nothing. Transient failures that outlast the gate's
    retries stop the run with ``report.interrupted`` set; everything done so far is in the ledger.
    """
    report = BackfillReport(run_id=run_id or new_run_id(deps.clock.now()), dry_run=dry_run)
    run = _Run(deps, report, repository, deps.clock.monotonic() + run_s)
    log.info("backfill_started", run_id=report.run_id, dry_run=dry_run, repository=repository or "*")
    try:
        for image in run.images():
            report.tags_evaluated += 1
            refused: list[tuple[SyncRequest, str]] = []
            for request in evaluate(deps.index, image, refused):
                report.matched += 1
                _record(report, run.handle(request), on_item)
            for request, why in refused:
                _record(report, run.refuse(request, why), on_item)
            if on_progress is not None:
                on_progress(report)
    except RetryableError as exc:
        report.interrupted = str(exc)
        log.warning("backfill_interrupted", run_id=report.run_id, error=str(exc))
    log.info("backfill_finished", **report.as_dict())
    return report


class _Run:
    """One run's state: the glob, the deadline, the destination-repository cache."""

    def __init__(self, deps: BackfillDeps, report: BackfillReport, repository: str, deadline: float) -> None:
        self.deps = deps
        self.report = report
        self.deadline = deadline
        self.event_id = f"backfill:{report.run_id}"
        self.only = compile_pattern(repository) if repository else None
        self.dest_repos: dict[tuple[str, str, str], Repository | None] = {}
        self.warned: set[str] = set()  # rules already warned about for an invalid destination name
        self.replicator = ReplicatorDeps(
            rules=lambda: deps.index,
            ledger=deps.ledger,
            registry=deps.registry,
            gate=deps.gate,
            clock=deps.clock,
            allowed_accounts=frozenset(),
            submitter=deps.submitter,
            copies=deps.copies,
        )

    # ------------------------------------------------------------------ enumeration
    def images(self) -> Iterator[SourceImage]:
        """Every tag of every repository a rule could match, streamed page by page."""
        instances = sorted({r.instance for r in self.deps.index.rules if r.enabled})
        api = self.deps.registry(self.deps.region)
        for instance in instances:
            repos = self._listing(functools.partial(api.list_repositories, instance), "ListRepository")
            for repo in repos:
                if not self._wanted(instance, f"{repo.namespace}/{repo.name}"):
                    continue
                self.report.repositories += 1
                tags = self._listing(
                    functools.partial(api.list_repo_tags, instance, repo.repo_id), "ListRepoTag"
                )
                for tag in tags:
                    yield SourceImage(
                        instance,
                        self.deps.region,
                        repo.namespace,
                        repo.name,
                        tag.tag,
                        tag.digest,
                        repo.repo_id,
                    )

    def _wanted(self, instance: str, repository: str) -> bool:
        """A repository is listed only if some enabled rule's repository clause could admit it."""
        if self.only is not None and not self.only.matches(repository):
            return False
        return any(
            r.enabled
            and r.instance == instance
            and first_match(r.repositories, repository) is not None
            and first_match(r.exclude_repositories, repository) is None
            for r in self.deps.index.rules
        )

    def _listing(self, make: Callable[[], Iterator[T]], what: str) -> Iterator[T]:
        """A NextToken listing under the budget (one token per page), restarted on transient failures.

        A restart skips the items already yielded (ACR's listing order is stable for a quiet account; if it
        is not, the ledger still makes a re-evaluated tag a no-op).
        """
        yielded = 0
        for attempt in range(LISTING_RETRIES + 1):
            seen = 0
            try:
                items = make()
                while True:
                    if seen % PAGE_ITEMS == 0:
                        self.deps.gate.acquire(self.deadline)
                    try:
                        item = next(items)
                    except StopIteration:
                        return
                    seen += 1
                    if seen > yielded:
                        yielded = seen
                        yield item
            except UpstreamUnavailable as exc:
                if attempt == LISTING_RETRIES:
                    raise
                log.warning("backfill_listing_retry", call=what, attempt=attempt + 1, error=str(exc))
                self.deps.clock.sleep(min(5.0, 0.5 * 2**attempt))

    # ------------------------------------------------------------------ one request
    def refuse(self, request: SyncRequest, why: str) -> PlanItem:
        """A destination whose rendered names are invalid: reported (warned once a rule), never submitted."""
        if request.rule not in self.warned:
            self.warned.add(request.rule)
            log.warning(
                "destination_name_invalid", rule=request.rule, destination=request.destination.ref, error=why
            )
        source = request.source
        return PlanItem(
            request.rule, source.ref, source.digest, request.destination.ref, "invalid_destination", error=why
        )

    def handle(self, request: SyncRequest) -> PlanItem:
        """Skip, plan, or claim-and-submit one request."""
        item = PlanItem(
            rule=request.rule,
            source=request.source.ref,
            digest=request.source.digest,
            destination=request.destination.ref,
            action="",
        )
        existing = self.deps.ledger.get(request.claim_id)
        copy = dict(request.copy).get("kind") == "copy"  # the copier checks the destination itself
        if existing is None and not copy and self._holds(request.destination, request.source.digest):
            return replace(item, action="skipped_same_digest")
        if self.report.dry_run:
            if existing is None:
                return replace(item, action="would_submit")
            return replace(item, action=f"claimed:{existing.state.value}", task_id=existing.task_id)
        try:
            result = replicate_request(request, self.event_id, self.replicator, self.deadline)
        except KeyboardInterrupt:
            self._release(request.claim_id)
            raise
        return replace(
            item, action=result["outcome"], task_id=result.get("task_id", ""), error=result.get("error", "")
        )

    def _holds(self, dest: DestinationImage, digest: str) -> bool:
        """True when the destination tag exists with ``digest`` (then there is nothing to replicate)."""
        api = self.deps.registry(dest.region)
        key = (dest.instance_id, dest.namespace, dest.repo)
        try:
            if key not in self.dest_repos:
                self.dest_repos[key] = self.deps.gate.call(
                    lambda: api.get_repository(*key), deadline=self.deadline, what="GetRepository"
                )
            repo = self.dest_repos[key]
            if repo is None:
                return False
            tag = self.deps.gate.call(
                lambda: api.get_repo_tag(dest.instance_id, repo.repo_id, dest.tag),
                deadline=self.deadline,
                what="GetRepoTag",
            )
        except UpstreamRejected as exc:
            # e.g. a cross-account destination our credentials cannot read: submit, the watcher verifies.
            self.dest_repos[key] = None
            log.info("backfill_destination_unreadable", destination=dest.ref, code=exc.code)
            return False
        return tag is not None and tag.digest == digest

    def _release(self, claim_id: str) -> None:
        """Interrupted (Ctrl-C) between claim and record: mark our claim abandoned so a re-run reconciles
        it at once (``Submitter.needs_reconcile``) instead of waiting out ``CLAIM_STALE_S``."""
        row = self.deps.ledger.get(claim_id)
        if row is None or row.state is not State.CLAIMED or row.task_id or row.event_id != self.event_id:
            return
        marked = row.moved_to(row.state, self.deps.clock.now(), extra={**row.extra, "abandoned": "1"})
        try:
            self.deps.ledger.update(marked, expected_revision=row.revision)
        except ConflictError:
            return
        log.warning("backfill_claim_released", claim_id=claim_id)


def index_for(rules: Sequence[Mapping[str, Any]], channels: Mapping[str, Any], rule: str = "") -> RuleIndex:
    """The compiled rules a backfill applies: all of them, or the one named (which must be enabled).

    Compiling the one rule alone (not filtering ``evaluate``'s output) matters: with every rule compiled,
    an earlier rule asking for the same destination would win it and the named rule would plan nothing.
    """
    if not rule:
        return compile_rules(rules, channels)
    chosen = [r for r in rules if r.get("name") == rule]
    if not chosen:
        known = ", ".join(str(r.get("name")) for r in rules) or "none stored"
        raise RuleConfigError([f"--rule {rule}: no such rule (known: {known})"])
    if not chosen[0].get("enabled", True):
        raise RuleConfigError([f"--rule {rule}: the rule is disabled; enable it and apply the rules first"])
    return compile_rules(chosen, channels)
