"""Auditing one source repository: its tags through the rules (desired), each destination repository's
tags (actual), and a decision per difference (``domain.reconcile``), acted on by ``reconcile_act.Actor``.

API calls per source repository: ⌈tags/100⌉ ``ListRepoTag`` pages at the source, and per destination
repository ⌈tags/100⌉ ``ListRepoTag`` pages (its RepoId comes from one ``ListRepository`` listing per
destination instance and slice: ``reconcile_listing``). Ledger reads happen only where a difference is
found. With ``referrers_since`` set, the tags updated since then whose destination has companions on are
kept in ``recent`` for the reconciler's referrer step (``service.referrers``): no call of their own. A copy
destination (``registry:``) is read over the distribution API instead (``reconcile_copy``), then the same
decisions apply.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TypeVar

from acrsync.domain.images import COPY_REGION, DestinationImage, SourceImage, SyncRequest
from acrsync.domain.reconcile import (
    Action,
    DesiredRepo,
    DestRepoKey,
    Finding,
    Kind,
    RulePolicy,
    decide_extra,
    decide_missing,
    decide_present,
    invert_tag,
    is_backup_tag,
    repo_key,
)
from acrsync.domain.referrers import Candidate, follows
from acrsync.domain.registry import Repository, TagInfo
from acrsync.domain.rules_eval import (
    CompiledDestination,
    CompiledRule,
    RuleIndex,
    evaluate,
    request_for,
    resolve,
)
from acrsync.errors import UpstreamRejected
from acrsync.logging import get_logger
from acrsync.ports import RegistryApi
from acrsync.service.reconcile_act import Actor, standard_claim
from acrsync.service.reconcile_copy import UNREADABLE, CopyReader
from acrsync.service.reconcile_listing import DestinationRepos, budgeted_listing

T = TypeVar("T")
log = get_logger(__name__)

_NO_ROLE = "cross-account destination without role_arn: acr-sync cannot read it (add role_arn)"


@dataclass
class RepoAudit:
    """The slice-wide context an audit of one source repository needs."""

    index: RuleIndex
    policies: Mapping[str, RulePolicy]
    registry: Callable[[str], RegistryApi]
    actor: Actor
    region: str
    emit: Callable[[Finding], None]
    role_registry: Callable[[str, str], RegistryApi] | None = None
    dest_repos: DestinationRepos = field(default_factory=DestinationRepos)  # their ids, listed once a slice
    current: SourceImage = field(default_factory=lambda: SourceImage("", "", "", "", ""))  # being audited
    referrers_since: float | None = None  # keep ``recent`` (tags updated since then), None: do not
    recent: list[Candidate] = field(default_factory=list)  # of the repository audited last
    copies: CopyReader | None = None  # copy destinations' registries (None: not wired)
    updated: dict[str, float] = field(default_factory=dict)  # source tag -> when it moved (this repository)

    def listing(self, make: Callable[[], Iterator[T]], what: str) -> Iterator[T]:
        """A NextToken listing under the slice's budget (``reconcile_listing.budgeted_listing``)."""
        return budgeted_listing(make, what, self.actor.gate, self.actor.deadline, self.actor.clock)

    # ------------------------------------------------------------------ one source repository
    def audit(self, instance: str, repo: Repository, rules: tuple[CompiledRule, ...]) -> None:
        """Compare one source repository's desired images with its destinations and act on differences."""
        self.current = SourceImage(instance, self.region, repo.namespace, repo.name, "x", "", repo.repo_id)
        self.recent = []
        desired, contexts = self._desired(instance, repo, rules)
        for key in list(desired.by_dest):
            if key[1] == COPY_REGION:  # a copy destination (registry:): over the distribution API
                self._copy(key, desired, contexts.get(key, []))
                continue
            self._destination(key, desired, contexts.get(key, []))

    def _desired(
        self, instance: str, repo: Repository, rules: tuple[CompiledRule, ...]
    ) -> tuple[DesiredRepo, dict[DestRepoKey, list[tuple[CompiledRule, CompiledDestination]]]]:
        desired = DesiredRepo()
        contexts: dict[DestRepoKey, list[tuple[CompiledRule, CompiledDestination]]] = {}
        base = self.current
        for rule in rules:  # destination repositories to list even when no tag asks for them (extras)
            for dest in rule.destinations:
                if "{tag}" in dest.namespace.source + dest.repository.source:
                    continue
                to, _ = resolve(dest, base)
                if to is not None:
                    desired.ensure(repo_key(to))
                    contexts.setdefault(repo_key(to), []).append((rule, dest))
        api = self.registry(self.region)
        tags = self.listing(functools.partial(api.list_repo_tags, instance, repo.repo_id), "ListRepoTag")
        self.updated = {}
        for tag in tags:
            desired.source_tags.add(tag.tag)
            self.updated[tag.tag] = tag.image_update
            image = SourceImage(
                instance, self.region, repo.namespace, repo.name, tag.tag, tag.digest, repo.repo_id
            )
            for request in evaluate(self.index, image):
                if request.rule in self.policies:
                    desired.add(request)
                    self._keep_recent(request, tag)
        return desired, contexts

    def _keep_recent(self, request: SyncRequest, tag: TagInfo) -> None:
        if self.referrers_since is not None:
            candidate = follows(request, tag.image_update, self.referrers_since)
            if candidate is not None:
                self.recent.append(candidate)

    def _destination(
        self, key: DestRepoKey, desired: DesiredRepo, contexts: list[tuple[CompiledRule, CompiledDestination]]
    ) -> None:
        instance, region, namespace, name = key
        wanted = desired.by_dest.get(key, {})
        sample = next(iter(wanted.values()), None)
        policy = self.policies.get(
            sample.rule if sample else contexts[0][0].name if contexts else "", RulePolicy()
        )
        dest_policy = policy.destination(DestinationImage(instance, region, namespace, name, "x"))
        api = self.registry(region)
        if dest_policy.account:
            if not dest_policy.role_arn or self.role_registry is None:
                self._unverifiable(desired.remaining(key))
                return
            api = self.role_registry(
                region, dest_policy.role_arn
            )  # read (and prune, back up) as that account
        own = self.actor.registry
        self.actor.registry = lambda _region: api
        try:
            self._compare(key, desired, contexts, api, dest_policy.role_arn)
        finally:
            self.actor.registry = own

    def _compare(
        self,
        key: DestRepoKey,
        desired: DesiredRepo,
        contexts: list[tuple[CompiledRule, CompiledDestination]],
        api: RegistryApi,
        role: str,
    ) -> None:
        instance, region, namespace, name = key
        repos = functools.partial(api.list_repositories, instance)
        repo_id = self.dest_repos.repo_id(
            (instance, region, role), namespace, name, lambda: self.listing(repos, "ListRepository")
        )
        if repo_id.startswith("!"):
            self._unreachable(desired.remaining(key), repo_id[1:], f"{instance}@{region}")
            return
        if repo_id:
            listed = self.listing(functools.partial(api.list_repo_tags, instance, repo_id), "ListRepoTag")
            try:
                for tag in listed:
                    self._seen(key, tag, desired, contexts)
            except UpstreamRejected as exc:
                self._unreachable(desired.remaining(key), str(exc), f"{instance}@{region}/{namespace}/{name}")
                return
        self._missing(key, desired, "" if repo_id else "the destination repository does not exist yet")

    def _copy(
        self, key: DestRepoKey, desired: DesiredRepo, contexts: list[tuple[CompiledRule, CompiledDestination]]
    ) -> None:
        """A copy destination repository, read by ``reconcile_copy.CopyReader``; then the same decisions."""
        reader, registry = self.copies, key[0]
        if reader is None:
            self._unverifiable(desired.remaining(key), "no registry client for copy destinations is wired")
            return
        if registry in reader.down:  # failed earlier in this slice: not asked again
            self._unreachable(desired.remaining(key), reader.down[registry], registry)
            return
        wanted = dict(desired.by_dest.get(key, {}))
        creds = next((d.credentials_env for _, d in contexts), "") or next(
            (dict(r.copy).get("credentials_env", "") for r in wanted.values()), ""
        )

        def needs_digest(tag: str) -> bool:  # an extra whose source tag is gone: its digest finds its row
            inverted = (invert_tag(d.tag, tag) for _, d in contexts)
            source_tag = next((t for t in inverted if t is not None), None)
            return source_tag is not None and source_tag not in desired.source_tags and not is_backup_tag(tag)

        try:  # read it all first: a failure while acting is never blamed on the registry
            seen_all = list(reader.read(key, creds, wanted, self.updated, needs_digest))
        except UNREADABLE:
            self._unreachable(desired.remaining(key), reader.down.get(registry, "unreadable"), registry)
            return
        for seen in seen_all:
            if seen.vouched and (request := desired.take(key, seen.tag)) is not None:
                src, dst, digest = request.source.ref, request.destination.ref, seen.digest
                why = "verified copy in the ledger; not re-read this pass (rotation)"
                self.emit(Finding(Kind.IN_SYNC, request.rule, src, dst, digest, digest, detail=why))
            else:
                self._seen(key, TagInfo(seen.tag, seen.digest), desired, contexts)
        self._missing(key, desired, "")

    def _missing(self, key: DestRepoKey, desired: DesiredRepo, detail: str) -> None:
        for request in desired.remaining(key):
            row = self.actor.ledger.get(request.claim_id)
            kind, action, why = decide_missing(row)
            self.emit(
                self.actor.act(request, kind, action, row, detail="; ".join(filter(None, (why, detail))))
            )

    def _seen(
        self,
        key: DestRepoKey,
        tag: TagInfo,
        desired: DesiredRepo,
        contexts: list[tuple[CompiledRule, CompiledDestination]],
    ) -> None:
        request = desired.take(key, tag.tag)
        if request is not None:
            self._present(request, tag.digest)
        elif not is_backup_tag(tag.tag):
            self._extra(key, tag, desired.source_tags, contexts)

    def _present(self, request: SyncRequest, actual: str) -> None:
        if actual == request.source.digest:
            src, dst, digest = request.source.ref, request.destination.ref, actual
            self.emit(Finding(Kind.IN_SYNC, request.rule, src, dst, digest, digest))
            return
        row = self.actor.ledger.get(request.claim_id)
        before = None
        if row is None:
            before = self.actor.ledger.get(standard_claim(request, request.source.tag, actual))
        policy = self.policies.get(request.rule, RulePolicy()).destination(request.destination)
        # The copier always moves a destination tag it was asked to write (a copy has no Override switch).
        asked = replace(request, override=True) if request.destination.region == COPY_REGION else request
        kind, action, why = decide_present(asked, actual, row, before, policy)
        self.emit(self.actor.act(request, kind, action, row, actual=actual, detail=why))

    def _extra(
        self,
        key: DestRepoKey,
        tag: TagInfo,
        source_tags: set[str],
        contexts: list[tuple[CompiledRule, CompiledDestination]],
    ) -> None:
        instance, region, namespace, name = key
        to = DestinationImage(instance, region, namespace, name, tag.tag)
        for rule, dest in contexts or []:
            source_tag = invert_tag(dest.tag, tag.tag)
            if source_tag is None:
                continue
            request = request_for(rule, dest, replace(self.current, tag=source_tag, digest=tag.digest), to)
            row = None if source_tag in source_tags else self.actor.ledger.get(request.claim_id)
            policy = self.policies.get(rule.name, RulePolicy())
            _, action, why = decide_extra(source_tag, source_tags, row, policy, self.actor.clock.now())
            self.emit(self.actor.on_extra(request, action, row, policy, why))
            return
        rule_name = contexts[0][0].name if contexts else ""
        self.emit(
            Finding(
                Kind.EXTRA, rule_name, "", to.ref, "", tag.digest, detail="no rule's tag template gives it"
            )
        )

    def _unreachable(self, requests: Iterator[SyncRequest], why: str, scope: str) -> None:
        """Every image there is a finding; one notice per destination and UTC day goes to the alert lane."""
        first = True
        for request in requests:
            finding = self.actor.act(request, Kind.UNREACHABLE, Action.NONE, None, detail=why)
            if first:
                day = time.strftime("%Y-%m-%d", time.gmtime(self.actor.clock.now()))
                outcome = self.actor.notice(request, "unreachable", f"{scope}: {why}", day, scope=scope)
                finding = replace(finding, outcome=outcome)
                first = False
            self.emit(finding)

    def _unverifiable(self, requests: Iterator[SyncRequest], detail: str = _NO_ROLE) -> None:
        """A destination acr-sync cannot read: nothing is known about it, but an image the ledger never saw
        was surely missed by the events, so it is submitted (a sync without Override cannot clobber)."""
        for request in requests:
            row = self.actor.ledger.get(request.claim_id)
            action = Action.REPAIR if row is None else Action.NONE
            self.emit(self.actor.act(request, Kind.UNVERIFIABLE, action, row, detail=detail))
