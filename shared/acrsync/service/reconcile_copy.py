"""The reconciler at copy destinations (``registry:``): their actual state over the OCI distribution API.

A copy destination repository's tags come from ``GET /v2/<name>/tags/list`` (every page, ``n``/``last`` and
``Link``; a 404 repository has no tags). The listing carries no digests, and a ``HEAD`` per tag per pass
would cost a request per image at every destination every pass, so a desired tag's digest is read only when
the ledger cannot vouch for it:

- no row of this exact replication is ``verified`` (the claim key holds the source digest, so a source tag
  that moved, or an image the events never brought, is always read);
- the source tag moved within ``since`` (the referrer window, else a day): a fresh copy is re-read;
- the tag's share of the rotation (``RECHECK_SHARES``) is this pass's: every verified tag is re-read once
  in that many passes, so a tag overwritten behind acr-sync's back is found within them.

An extra tag is read only when its source tag is gone (its digest names the ledger row that says whether
acr-sync created it). ``Options.recheck_all`` (the ``audit`` CLI) reads every tag. Requests per destination
repository when in sync: ⌈tags/100⌉ listing pages + ``HEAD`` of about tags/``RECHECK_SHARES``.

A registry that fails (down after the client's retries, 401/403, 429 that outlasted them) is remembered for
the slice: its remaining images are reported unreachable without asking it again. No request starts once the
slice's deadline is near (``OutOfTime``: the slice stops, its cursor holds, the next slice audits the
repository again); a request already sent is bounded by the client's own timeout and retries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from acrsync.domain.images import SyncRequest
from acrsync.domain.ledger import LedgerEntry, State
from acrsync.domain.oci import Manifest, parse_registry_target
from acrsync.domain.reconcile import DestRepoKey, repo_key
from acrsync.errors import RetryableError, UpstreamRejected, UpstreamUnavailable
from acrsync.logging import get_logger
from acrsync.ports import Ledger, RegistryClient

log = get_logger(__name__)

RECHECK_SHARES = 24  # a verified tag is re-read (HEAD) once in this many passes
RECENT_S = 86400.0  # source tags updated this recently are re-read every pass (without a referrer window)
UNREADABLE = (UpstreamUnavailable, UpstreamRejected)


@dataclass(frozen=True, slots=True)
class Seen:
    """One tag at a copy destination: its digest ("" when not read), and whether the ledger vouched for it."""

    tag: str
    digest: str
    vouched: bool = False


@dataclass
class CopyReader:
    """Reads copy destinations for one slice; ``slot`` is this pass's rotation share (-1: read every tag)."""

    clients: Callable[[str, str], RegistryClient]
    ledger: Ledger
    since: float
    slot: int
    counts: dict[str, int] = field(default_factory=dict)
    down: dict[str, str] = field(default_factory=dict)  # registry -> why it failed this slice
    time_left: Callable[[], bool] = lambda: True  # False: the slice's deadline is near, stop asking

    def _ask(self) -> None:
        if not self.time_left():
            raise OutOfTime()

    def add(self, what: str, n: int = 1) -> None:
        """Count ``n`` of ``what`` (``tag_pages``, ``heads``, ``heads_skipped``, ...) for the pass summary."""
        self.counts[what] = self.counts.get(what, 0) + n

    def place(self, key: DestRepoKey, credentials_env: str) -> tuple[RegistryClient, str]:
        """The client of the destination's registry and the repository as it names it."""
        registry, _, namespace, repo = key
        target = parse_registry_target(registry)
        return self.clients(registry, credentials_env), target.repository(f"{namespace}/{repo}")

    def read(
        self,
        key: DestRepoKey,
        credentials_env: str,
        wanted: Mapping[str, SyncRequest],
        updated: Mapping[str, float],
        needs_digest: Callable[[str], bool],
    ) -> Iterator[Seen]:
        """Every tag of the destination repository, with the digest where it is needed (see above).
        Raises ``UpstreamUnavailable``/``UpstreamRejected`` (the registry is then marked down)."""
        client, repo = self.place(key, credentials_env)
        try:
            tags = self._tags(client, repo)
            present = [wanted[t] for t in tags if t in wanted]
            rows = self.ledger.get_many([r.claim_id for r in present]) if present else {}
            for tag in tags:
                request = wanted.get(tag)
                if request is not None and self._vouched(request, rows.get(request.claim_id), updated):
                    self.add("heads_skipped")
                    yield Seen(tag, request.source.digest, vouched=True)
                elif request is None and not needs_digest(tag):
                    yield Seen(tag, "")
                else:
                    self._ask()
                    self.add("heads")
                    digest = client.head_manifest(repo, tag)
                    if digest:  # None: deleted since it was listed, so it is missing
                        yield Seen(tag, digest)
        except UNREADABLE as exc:
            self.down[key[0]] = f"registry {client.host} ({repo}): {exc}"
            log.error("reconcile_registry_unreachable", registry=client.host, repository=repo, error=str(exc))
            raise

    def _tags(self, client: RegistryClient, repo: str) -> list[str]:
        self._ask()
        tags = list(client.list_tags(repo))
        self.add("tag_lists")
        self.add("tags_listed", len(tags))
        return tags

    def _vouched(self, request: SyncRequest, row: LedgerEntry | None, updated: Mapping[str, float]) -> bool:
        if self.slot < 0 or row is None or row.state is not State.VERIFIED:
            return False
        if row.extra.get("verified_digest", row.digest) != request.source.digest:
            return False
        if updated.get(request.source.tag, 0.0) >= self.since:
            return False
        return int(request.claim_id[:8], 16) % RECHECK_SHARES != self.slot


class OutOfTime(RetryableError):
    """The slice's deadline is near: the slice stops, and the next one audits this repository again."""

    def __init__(self) -> None:
        super().__init__("the slice's deadline is near: a copy destination was left for the next slice")


def backup_at_registry(client: RegistryClient, repo: str, digest: str, name: str) -> str:
    """``on_conflict: backup`` at a registry: the manifest the tag holds now, PUT again under ``name`` (its
    blobs are in the repository already, so the registry accepts it byte for byte: the same digest)."""
    manifest: Manifest | None = client.get_manifest(repo, digest)
    if manifest is None:
        return "backup_failed: the old manifest is gone"
    stored = client.put_manifest(repo, name, manifest)
    return "backed_up" if stored == digest else f"backup_failed: stored as {stored}"


def slot_of(ordinal: int, recheck_all: bool) -> int:
    """The rotation share a pass re-reads (-1: every tag)."""
    return -1 if recheck_all else ordinal % RECHECK_SHARES


def backup_copy(reader: CopyReader | None, request: SyncRequest, actual: str, name: str) -> str:
    """The reconciler's backup at a copy destination (``backup_at_registry``); its outcome."""
    dest = request.destination
    if reader is None:
        return "backup_failed: no registry client"
    client, repo = reader.place(repo_key(dest), dict(request.copy).get("credentials_env", ""))
    try:
        made = backup_at_registry(client, repo, actual, name)
    except UNREADABLE as exc:  # not overwritten without its backup: the next pass tries again
        made = f"backup_failed: {exc}"
    if made != "backed_up":
        log.error("reconcile_backup_failed", destination=dest.ref, error=made)
    return made


def delete_copy(reader: CopyReader | None, request: SyncRequest) -> tuple[str, str, str]:
    """Prune at a copy destination: ``DELETE /v2/<name>/manifests/<tag>``, never by digest (that would take
    every tag of the image). ``(outcome, why, registry host)``: ``deleted`` (also when it was gone),
    ``prune_failed`` (the registry failed: the next pass tries again), or ``prune_unsupported`` (the registry
    refuses deletes by tag: reported and alerted, the tag stays)."""
    dest = request.destination
    if reader is None:
        return "prune_unsupported", "no registry client", ""
    client, repo = reader.place(repo_key(dest), dict(request.copy).get("credentials_env", ""))
    try:
        gone = client.delete_tag(repo, dest.tag)
    except UNREADABLE as exc:
        log.error("reconcile_prune_failed", destination=dest.ref, error=str(exc))
        return "prune_failed", str(exc), client.host
    if gone is None:
        log.warning("reconcile_prune_unsupported", destination=dest.ref, registry=client.host)
        why = f"{client.host} refuses DELETE /v2/{repo}/manifests/<tag>: delete {dest.ref} by hand"
        return "prune_unsupported", why, client.host
    return "deleted", "", client.host
