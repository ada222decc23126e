"""The reconciler's decisions: desired state (what the rules say a destination holds) against actual state
(what it holds). Pure: the service lists, reads the ledger and acts; this module only decides.

Per source repository the service builds a ``DesiredRepo`` (the requests its tags produce, grouped by
destination repository), streams each destination repository's tags through ``DesiredRepo.observe`` and
asks ``decide`` what to do with each difference. Memory is O(tags of one source repository), never
O(all tags): a repository's desired map is dropped once its destinations have been compared.
"""

from __future__ import annotations

import datetime as _dt
import enum
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from acrsync.domain.durations import parse_duration
from acrsync.domain.images import COPY_REGION, TAG_RE, DestinationImage, SourceImage, SyncRequest
from acrsync.domain.ledger import OPEN_STATES, LedgerEntry, State
from acrsync.domain.rules_compile import Template

DEFAULT_PRUNE_GRACE = "24h"
BACKUP_INFIX = "-acrsync-backup-"


class Kind(str, enum.Enum):
    """What the comparison found for one destination image (the audit table's columns)."""

    IN_SYNC = "in_sync"
    MISSING = "missing"
    CONFLICT = "conflict"
    EXTRA = "extra"
    UNREACHABLE = "unreachable"
    UNVERIFIABLE = "unverifiable"
    PENDING = "pending"  # a claim is in flight: the watcher owns it
    FAILED = "failed"  # the ledger already holds a failure for it (the watcher alerted)


class Action(str, enum.Enum):
    """What the reconciler does about a finding (``NONE``: report only)."""

    NONE = "none"
    REPAIR = "repair"  # replicate_request with the rule's options (the standard claim)
    RESYNC = "resync"  # the digest acr-sync wrote is stale: replicate the new one (Override as configured)
    OVERWRITE = "overwrite"  # on_conflict: overwrite (Override=true)
    BACKUP = "backup"  # on_conflict: backup (CreateRepoTag, then overwrite)
    ALERT_CONFLICT = "alert_conflict"  # on_conflict: skip (leave it, alert once)
    MARK_ORPHAN = "mark_orphan"  # prune: start the grace period
    PRUNE = "prune"  # prune: DeleteRepoTag


@dataclass(frozen=True, slots=True)
class DestinationPolicy:
    """The reconciler's settings for one destination of one rule (rules file keys)."""

    on_conflict: str = "skip"
    role_arn: str = ""
    account: str = ""


@dataclass(frozen=True, slots=True)
class RulePolicy:
    """``prune`` / ``prune_grace`` of one rule, and its destinations' policies by (instance, region)."""

    prune: bool = False
    prune_grace_s: float = 86400.0
    destinations: Mapping[tuple[str, str], DestinationPolicy] = field(default_factory=dict)

    def destination(self, dest: DestinationImage) -> DestinationPolicy:
        """The policy of the rule's destination ``dest`` lands in (default: skip, no role)."""
        return self.destinations.get((dest.instance_id, dest.region), DestinationPolicy())


def policies(rules: Sequence[Mapping[str, Any]]) -> dict[str, RulePolicy]:
    """``RulePolicy`` by rule name, from validated (stored) rule dicts."""
    out: dict[str, RulePolicy] = {}
    for rule in rules:
        dests = {
            _policy_key(d): DestinationPolicy(
                on_conflict=str(d.get("on_conflict") or "skip"),
                role_arn=str(d.get("role_arn") or ""),
                account=str(d.get("account") or ""),
            )
            for d in rule.get("destinations", [])
        }
        grace = parse_duration(str(rule.get("prune_grace") or DEFAULT_PRUNE_GRACE))
        out[str(rule["name"])] = RulePolicy(bool(rule.get("prune", False)), grace, dests)
    return out


def _policy_key(dest: Mapping[str, Any]) -> tuple[str, str]:
    """A copy destination stands as its registry in ``COPY_REGION`` (as ``rules_eval.resolve`` puts it)."""
    if dest.get("registry"):
        return (str(dest["registry"]), COPY_REGION)
    return (str(dest["instance"]), str(dest["region"]))


DestRepoKey = tuple[str, str, str, str]  # (instance, region, namespace, repo)


def repo_key(dest: DestinationImage) -> DestRepoKey:
    """The destination repository an image lands in."""
    return (dest.instance_id, dest.region, dest.namespace, dest.repo)


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of an audit: its kind, the images, the digests, and what was (or would be) done."""

    kind: Kind
    rule: str
    source: str
    destination: str
    expected_digest: str = ""
    actual_digest: str = ""
    action: Action = Action.NONE
    outcome: str = ""  # what the action did: submitted, duplicate, deleted, dry_run, ...
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        """JSON-able form (``--json`` lists every finding)."""
        return {
            "kind": self.kind.value,
            "rule": self.rule,
            "source": self.source,
            "destination": self.destination,
            "expected_digest": self.expected_digest,
            "actual_digest": self.actual_digest,
            "action": self.action.value,
            "outcome": self.outcome,
            "detail": self.detail,
        }


@dataclass
class DesiredRepo:
    """What one source repository's tags ask of each destination repository (built, then consumed)."""

    source_tags: set[str] = field(default_factory=set)
    by_dest: dict[DestRepoKey, dict[str, SyncRequest]] = field(default_factory=dict)

    def add(self, request: SyncRequest) -> None:
        """Remember one request (the first rule to ask for a destination image already won in evaluate)."""
        self.by_dest.setdefault(repo_key(request.destination), {})[request.destination.tag] = request

    def ensure(self, key: DestRepoKey) -> None:
        """A destination repository to list even if no tag asks for it now (so extras are found)."""
        self.by_dest.setdefault(key, {})

    def take(self, key: DestRepoKey, tag: str) -> SyncRequest | None:
        """The request for a destination tag seen in the listing (removed: what remains is missing)."""
        return self.by_dest.get(key, {}).pop(tag, None)

    def remaining(self, key: DestRepoKey) -> Iterator[SyncRequest]:
        """Requests whose destination tag the listing did not show: missing."""
        yield from self.by_dest.pop(key, {}).values()


def decide_present(
    request: SyncRequest,
    actual: str,
    row: LedgerEntry | None,
    ours_before: LedgerEntry | None,
    policy: DestinationPolicy,
) -> tuple[Kind, Action, str]:
    """A destination tag exists. ``row``: the ledger row of this exact replication (expected digest);
    ``ours_before``: the row of acr-sync writing the digest the destination holds now (``actual``)."""
    if actual == request.source.digest:
        return Kind.IN_SYNC, Action.NONE, ""
    if row is not None and row.state in OPEN_STATES:
        return Kind.PENDING, Action.NONE, f"replication in flight ({row.state.value})"
    if row is not None and row.state is not State.VERIFIED:
        return Kind.FAILED, Action.NONE, f"the ledger holds this replication as {row.state.value}"
    if row is None and ours_before is not None and request.override:
        return Kind.CONFLICT, Action.RESYNC, "acr-sync wrote the older digest; the source tag moved on"
    why = (
        "overwritten after acr-sync verified it"
        if row is not None
        else "acr-sync wrote the older digest, and override is off"
        if ours_before is not None
        else "the destination tag holds a digest acr-sync did not put there"
    )
    action = {
        "overwrite": Action.OVERWRITE,
        "backup": Action.BACKUP,
    }.get(policy.on_conflict, Action.ALERT_CONFLICT)
    return Kind.CONFLICT, action, why


def decide_missing(row: LedgerEntry | None) -> tuple[Kind, Action, str]:
    """A destination tag the rules ask for is absent. ``row``: the ledger row of this replication."""
    if row is None:
        return Kind.MISSING, Action.REPAIR, "no replication recorded: the push event never arrived?"
    if row.state in OPEN_STATES:
        return Kind.PENDING, Action.NONE, f"replication in flight ({row.state.value})"
    if row.state is State.VERIFIED:
        return Kind.MISSING, Action.REPAIR, "deleted after acr-sync verified it"
    return Kind.FAILED, Action.NONE, f"the ledger holds this replication as {row.state.value}"


def decide_extra(  # noqa: PLR0911 - one return per verdict reads best here
    source_tag: str | None,
    source_tags: set[str],
    row: LedgerEntry | None,
    rule: RulePolicy,
    now: float,
) -> tuple[Kind, Action, str]:
    """A destination tag no request asks for. ``source_tag``: the source tag it came from (template
    inverted), ``row``: acr-sync's row for that source tag and the digest found (None: not ours)."""
    if source_tag is None:
        return Kind.EXTRA, Action.NONE, "not from this source repository's tags"
    if source_tag in source_tags:
        return Kind.EXTRA, Action.NONE, "the source tag exists but no rule selects it"
    if row is None or row.state is not State.VERIFIED:
        return Kind.EXTRA, Action.NONE, "the source tag is gone; acr-sync did not create this tag"
    if "pruned_at" in row.extra:
        return Kind.EXTRA, Action.NONE, "pruned before, and it is back"
    if "pruning_at" in row.extra:  # a prune that a crash interrupted: finish it (deleting twice is harmless)
        return Kind.EXTRA, Action.PRUNE, "finishing an interrupted prune"
    if not rule.prune:
        return Kind.EXTRA, Action.NONE, "the source tag is gone (prune is off for this rule)"
    since = float(row.extra.get("orphaned_at", "0") or 0)
    if not since:
        return Kind.EXTRA, Action.MARK_ORPHAN, "the source tag is gone: grace period starts"
    if now - since < rule.prune_grace_s:
        left = rule.prune_grace_s - (now - since)
        return Kind.EXTRA, Action.NONE, f"the source tag is gone: pruned in {int(left)}s (grace)"
    return Kind.EXTRA, Action.PRUNE, "the source tag is gone and the grace period is over"


def invert_tag(template: Template, dest_tag: str) -> str | None:
    """The source tag a destination tag came from, for templates with exactly one ``{tag}`` field and
    literal text around it (the usual ``{tag}``, ``v{tag}``, ``{tag}-cn``); None otherwise."""
    fields = [p for is_field, p in template.parts if is_field]
    if fields != ["tag"]:
        return None
    prefix, suffix, seen = "", "", False
    for is_field, part in template.parts:
        if is_field:
            seen = True
        elif seen:
            suffix += part
        else:
            prefix += part
    if not dest_tag.startswith(prefix) or not dest_tag.endswith(suffix):
        return None
    tag = dest_tag[len(prefix) : len(dest_tag) - len(suffix)]
    return tag if tag and TAG_RE.match(tag) else None


def is_backup_tag(tag: str) -> bool:
    """Tags acr-sync created as backups are never reported as extra nor pruned."""
    return BACKUP_INFIX in tag


def backup_tag(tag: str, now: float) -> str:
    """``<tag>-acrsync-backup-<UTC YYYYmmddTHHMMSSZ>``, the tag shortened to keep within 128 characters."""
    stamp = _dt.datetime.fromtimestamp(now, tz=_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    suffix = f"{BACKUP_INFIX}{stamp}"
    name = f"{tag[: 128 - len(suffix)]}{suffix}"
    if not TAG_RE.match(name):
        raise ValueError(f"backup tag {name!r} is not a valid ACR tag")
    return name


def salted_claim(claim_id: str, kind: str, observed: str, generation: int) -> str:
    """The claim key of a repair of a replication whose own claim is already final (a verified image
    deleted or overwritten behind acr-sync's back): one per (what was observed, generation)."""
    raw = f"{claim_id}|{kind}|{observed}|{generation}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def notice_key(kind: str, *parts: str) -> str:
    """The ledger key of a drift notice (conflict, unreachable, events missed): one alert per key."""
    raw = "|".join(("notice", kind, *parts))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def source_of(request: SyncRequest, tag: str, digest: str) -> SourceImage:
    """The source image a request's repository would have for another tag and digest."""
    src = request.source
    return SourceImage(src.instance_id, src.region, src.namespace, src.repo, tag, digest, src.repo_id)
