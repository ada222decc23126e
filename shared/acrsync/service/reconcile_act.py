"""What the reconciler does about a difference: repair through ``replicate_request`` (the one path from a
decision to a sync task, so claims keep it exactly-once), back up, prune, and leave drift notices in the
ledger for the alert lane. Every write is skipped in a dry run; the finding says what would be done.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from acrsync.domain.images import COPY_REGION, DestinationImage, SyncRequest, claim_id
from acrsync.domain.ledger import OPEN_STATES, LedgerEntry, State, new_claim
from acrsync.domain.reconcile import (
    Action,
    Finding,
    Kind,
    RulePolicy,
    backup_tag,
    notice_key,
    salted_claim,
    source_of,
)
from acrsync.errors import AlreadyClaimed, ConflictError, UpstreamRejected
from acrsync.logging import get_logger
from acrsync.ports import Clock, Ledger, RegistryApi
from acrsync.service.gate import CallGate
from acrsync.service.reconcile_copy import CopyReader, backup_copy, delete_copy
from acrsync.service.reconcile_slice import Tally
from acrsync.service.replicate import ReplicatorDeps, replicate_request

log = get_logger(__name__)

MAX_REPAIR_GENERATIONS = 5
MAX_EXAMPLES = 5


@dataclass(frozen=True, slots=True)
class RepairRequest(SyncRequest):
    """A request whose ledger key is a repair key (``salted_claim``): the image's own claim is final."""

    repair_key: str = ""

    @property
    def claim_id(self) -> str:
        """The repair key, so ``replicate_request`` claims it exactly once."""
        return self.repair_key


@dataclass
class Actor:
    """Carries out decisions for one slice; ``write`` false is a dry run, ``prune`` allows deletions."""

    ledger: Ledger
    registry: Callable[[str], RegistryApi]
    gate: CallGate
    clock: Clock
    replicator: ReplicatorDeps
    event_id: str
    deadline: float
    write: bool
    prune: bool
    tally: Tally
    copies: CopyReader | None = None  # copy destinations' registry clients (None: not wired)

    def act(
        self, request: SyncRequest, kind: Kind, action: Action, row: LedgerEntry | None, **kw: str
    ) -> Finding:
        """Do (or, dry, describe) ``action`` for one destination image; returns the finding to report."""
        finding = Finding(
            kind,
            request.rule,
            request.source.ref,
            request.destination.ref,
            request.source.digest,
            kw.get("actual", ""),
            action,
            detail=kw.get("detail", ""),
        )
        if action is Action.NONE:
            return finding
        if not self.write:
            return replace(finding, outcome="dry_run")
        outcome = self._do(request, action, row, kw.get("actual", ""))
        if action is Action.REPAIR and row is None and outcome == "submitted":
            self.tally.events_missed += 1
            if len(self.tally.examples) < MAX_EXAMPLES:
                self.tally.examples.append(f"{request.source.ref} -> {request.destination.ref}")
        return replace(finding, outcome=outcome)

    def _do(self, request: SyncRequest, action: Action, row: LedgerEntry | None, actual: str) -> str:
        if action is Action.ALERT_CONFLICT:
            why = f"destination holds {actual or '?'}, the rules ask for {request.source.digest}"
            return self.notice(request, "conflict", why, actual, override=True)
        if action is Action.BACKUP:
            backed = self._backup(request, actual)
            if backed != "backed_up":
                return backed
        forced = replace(request, override=True) if action in (Action.OVERWRITE, Action.BACKUP) else request
        if row is None:
            return self._replicate(forced)
        return self._repair_again(forced, "missing" if action is Action.REPAIR else "overwrite", actual)

    def _replicate(self, request: SyncRequest) -> str:
        result = replicate_request(request, self.event_id, self.replicator, self.deadline)
        return result["outcome"]

    def _repair_again(self, request: SyncRequest, kind: str, observed: str) -> str:
        """The image's own claim is final (verified, then changed behind our back): a repair key per
        generation, so each observed drift is repaired exactly once and an open repair is left alone."""
        for generation in range(1, MAX_REPAIR_GENERATIONS + 1):
            key = salted_claim(request.claim_id, kind, observed or "absent", generation)
            row = self.ledger.get(key)
            if row is None:
                return self._replicate(RepairRequest(**_fields(request), repair_key=key))
            if row.state in OPEN_STATES:
                return "pending"
        log.warning(
            "reconcile_flapping", destination=request.destination.ref, generations=MAX_REPAIR_GENERATIONS
        )
        return "flapping"

    def _backup(self, request: SyncRequest, actual: str) -> str:
        """Keep the destination's image under ``<tag>-acrsync-backup-<UTC>`` before it is overwritten."""
        dest = request.destination
        key = notice_key("backup", dest.ref, actual)
        if self.ledger.get(key) is not None:
            return "backed_up"  # an earlier pass made it
        name = backup_tag(dest.tag, self.clock.now())
        made = self._make_backup(request, actual, name)
        if made != "backed_up":
            return made
        backup = DestinationImage(dest.instance_id, dest.region, dest.namespace, dest.repo, name)
        row = new_claim(
            replace(request, source=source_of(request, dest.tag, actual), destination=backup),
            event_id=self.event_id,
            now=self.clock.now(),
        )
        # Recorded as a finished, verified copy (no task: CreateRepoTag is synchronous), never watched.
        done = replace(row, claim_id=key, state=State.VERIFIED, extra={"kind": "backup", "of": dest.ref})
        self._claim(done)
        log.info("reconcile_backed_up", destination=dest.ref, backup=name, digest=actual)
        return "backed_up"

    def _make_backup(self, request: SyncRequest, actual: str, name: str) -> str:
        dest = request.destination
        if dest.region == COPY_REGION:  # a registry: the old manifest PUT again under the backup name
            return backup_copy(self.copies, request, actual, name)
        api = self.registry(dest.region)
        try:
            self.gate.call(
                lambda: api.create_repo_tag(dest.instance_id, dest.namespace, dest.repo, dest.tag, name),
                deadline=self.deadline,
                what="CreateRepoTag",
            )
        except UpstreamRejected as exc:
            log.error("reconcile_backup_failed", destination=dest.ref, error=str(exc))
            return f"backup_failed: {exc.code or exc}"
        return "backed_up"

    def notice(
        self,
        request: SyncRequest,
        error_class: str,
        why: str,
        observed: str,
        *,
        override: bool = False,
        scope: str = "",
    ) -> str:
        """A drift notice: a failed row the alert lane sends once per key (destination image, or ``scope``,
        and what was observed)."""
        if not (self.write or (self.prune and error_class == "pruned")):
            return "dry_run"
        key = notice_key(error_class, scope or request.destination.ref, observed)
        now = self.clock.now()
        row = new_claim(replace(request, override=override), event_id=self.event_id, now=now)
        marked = replace(row, claim_id=key, extra={"notice": error_class})
        failed = marked.moved_to(State.FAILED, now, error_class=error_class, last_error=why)
        return "alerted" if self._claim(failed) else "alerted_before"

    def _claim(self, entry: LedgerEntry) -> bool:
        try:
            self.ledger.claim(entry)
        except AlreadyClaimed:
            return False
        return True

    # ------------------------------------------------------------------ prune
    def on_extra(
        self, request: SyncRequest, action: Action, row: LedgerEntry | None, policy: RulePolicy, detail: str
    ) -> Finding:
        """An extra destination tag (``request`` describes the tag as if it were asked for)."""
        finding = Finding(
            Kind.EXTRA,
            request.rule,
            request.source.ref,
            request.destination.ref,
            "",
            request.source.digest,
            action,
            detail=detail,
        )
        if action is Action.NONE or row is None:
            return finding
        if not self.prune or not policy.prune:
            return replace(finding, outcome="dry_run")
        if action is Action.MARK_ORPHAN:
            ok = self._mark(row, orphaned_at=str(self.clock.now()))
            return replace(finding, outcome="grace_started" if ok else "lost_race")
        return replace(finding, outcome=self._prune(request, row))

    def _mark(self, row: LedgerEntry, **marks: str) -> LedgerEntry | None:
        moved = row.moved_to(row.state, self.clock.now(), extra={**row.extra, **marks})
        try:
            self.ledger.update(moved, expected_revision=row.revision)
        except ConflictError:
            return None
        return moved

    def _prune(self, request: SyncRequest, row: LedgerEntry) -> str:
        """Mark, ``DeleteRepoTag``, record: a crash in between is finished by the next pass."""
        marked = row if "pruning_at" in row.extra else self._mark(row, pruning_at=str(self.clock.now()))
        if marked is None:
            return "lost_race"
        dest = request.destination
        if dest.region == COPY_REGION:
            deleted = self._delete_at_registry(request)
            if deleted != "deleted":
                return deleted
        else:
            self._delete_repo_tag(dest)
        self._mark(marked, pruned_at=str(self.clock.now()), pruned_by=self.event_id)
        log.warning("reconcile_pruned", destination=dest.ref, digest=row.digest, claim_id=row.claim_id)
        self.notice(request, "pruned", f"deleted {dest.ref}: its source tag is gone", row.digest)
        return "pruned"

    def _delete_at_registry(self, request: SyncRequest) -> str:
        outcome, why, host = delete_copy(self.copies, request)
        if outcome == "prune_unsupported" and host:  # one alert per registry that refuses it
            self.notice(request, "prune_unsupported", why, host, scope=host)
        return outcome

    def _delete_repo_tag(self, dest: DestinationImage) -> None:
        api = self.registry(dest.region)
        repo = self.gate.call(
            lambda: api.get_repository(dest.instance_id, dest.namespace, dest.repo),
            deadline=self.deadline,
            what="GetRepository",
        )
        if repo is not None:
            self.gate.call(
                lambda: api.delete_repo_tag(dest.instance_id, repo.repo_id, dest.tag),
                deadline=self.deadline,
                what="DeleteRepoTag",
            )


def _fields(request: SyncRequest) -> dict[str, Any]:
    return {name: getattr(request, name) for name in SyncRequest.__dataclass_fields__}


def standard_claim(request: SyncRequest, tag: str, digest: str) -> str:
    """The claim key acr-sync used when it replicated ``tag`` at ``digest`` to the request's destination."""
    return claim_id(source_of(request, tag, digest), request.destination)
