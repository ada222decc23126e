"""Copying one image between registries over the OCI distribution API: streamed, verified, resumable.

Order (so a reader of the destination never sees a manifest whose content is missing): for each manifest,
every child of an index first; for an image manifest, each blob the destination lacks (``HEAD`` first;
cross-repository mount when both sides are the same registry; otherwise streamed ``GET -> PUT`` with the
sha256 checked before the upload is committed); then the manifest by digest; then the tag. A manifest the
destination already has by digest is skipped whole (a registry only accepts a manifest whose references
exist), so a copy that died half-way resumes where it stopped and a repeated copy sends no blob.

Companions (``companions=True``): cosign's ``sha256-<hex>.sig/.att/.sbom`` tags and the OCI 1.1 referrers
of the image's digest follow it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from acrsync.domain.oci import Descriptor, Manifest, companion_tags, references
from acrsync.errors import UpstreamRejected
from acrsync.logging import get_logger
from acrsync.ports import RegistryClient

log = get_logger(__name__)

PARALLEL_BLOBS = 3  # blobs of one manifest in flight at once


@dataclass(frozen=True, slots=True)
class Place:
    """A repository in a registry, as the client names it (``NAMESPACE/REPO`` under any target namespace)."""

    client: RegistryClient
    repo: str


@dataclass
class CopyStats:
    """What one copy did: the counts benches and the ledger row report."""

    manifests_put: int = 0
    manifests_skipped: int = 0
    blobs_sent: int = 0
    blobs_skipped: int = 0
    blobs_mounted: int = 0
    bytes_sent: int = 0
    companions: list[str] = field(default_factory=list)

    def as_extra(self) -> dict[str, str]:
        """The ledger row's ``extra`` fields (strings)."""
        return {
            "copy_blobs_sent": str(self.blobs_sent),
            "copy_blobs_skipped": str(self.blobs_skipped + self.blobs_mounted),
            "copy_bytes": str(self.bytes_sent),
            "copy_companions": str(len(self.companions)),
        }


@dataclass(frozen=True, slots=True)
class CopyResult:
    """The digest now at the destination (verified) and what it took."""

    digest: str
    stats: CopyStats


def copy_image(
    src: Place, reference: str, dst: Place, tag: str, *, companions: bool = False, expect_digest: str = ""
) -> CopyResult:
    """Copy ``src:reference`` to ``dst:tag``; return the digest the destination tag reads back afterwards
    (the source's when verified; another, or "", when something else holds the tag). Raises
    ``UpstreamRejected``/``UpstreamUnavailable`` (the latter is worth retrying: the next attempt resumes)."""
    manifest = src.client.get_manifest(src.repo, expect_digest or reference)
    if manifest is None:
        raise UpstreamRejected(
            f"{src.client.host}/{src.repo}:{reference} not found at the source", code="SOURCE"
        )
    stats = CopyStats()
    _copy_manifest(src, dst, manifest, stats)
    if tag and dst.client.head_manifest(dst.repo, tag) != manifest.digest:
        dst.client.put_manifest(dst.repo, tag, manifest)
    found = dst.client.head_manifest(dst.repo, tag or manifest.digest)
    if found != manifest.digest:  # read back as the watcher verifies ACR tasks: the caller decides
        log.error(
            "copy_verification_mismatch",
            destination=f"{dst.client.host}/{dst.repo}:{tag}",
            found=found or "nothing",
            expected=manifest.digest,
        )
        return CopyResult(found or "", stats)
    if companions:
        stats.companions = copy_companions(src, dst, manifest.digest, stats)
    log.info(
        "image_copied",
        source=f"{src.client.host}/{src.repo}:{reference}",
        destination=f"{dst.client.host}/{dst.repo}:{tag}",
        digest=manifest.digest,
        blobs_sent=stats.blobs_sent,
        blobs_skipped=stats.blobs_skipped,
        blobs_mounted=stats.blobs_mounted,
        bytes_sent=stats.bytes_sent,
    )
    return CopyResult(manifest.digest, stats)


def copy_companions(src: Place, dst: Place, digest: str, stats: CopyStats) -> list[str]:
    """Copy cosign's companion tags and the OCI referrers of ``digest``; return what was found."""
    found: list[str] = []
    for ctag in companion_tags(digest):
        manifest = src.client.get_manifest(src.repo, ctag)
        if manifest is None:
            continue
        _copy_manifest(src, dst, manifest, stats)
        if dst.client.head_manifest(dst.repo, ctag) != manifest.digest:
            dst.client.put_manifest(dst.repo, ctag, manifest)
        found.append(ctag)
    for ref in src.client.referrers(src.repo, digest):
        manifest = src.client.get_manifest(src.repo, ref.digest)
        if manifest is not None:
            _copy_manifest(src, dst, manifest, stats)
            found.append(ref.digest)
    return found


def _copy_manifest(src: Place, dst: Place, manifest: Manifest, stats: CopyStats) -> None:
    if dst.client.head_manifest(dst.repo, manifest.digest) == manifest.digest:
        stats.manifests_skipped += 1
        return
    refs = references(manifest)
    for child in refs.manifests:  # an index: every child manifest first
        child_manifest = src.client.get_manifest(src.repo, child.digest)
        if child_manifest is None:
            raise UpstreamRejected(
                f"{src.repo}: index child {child.digest} is missing at the source", code="SOURCE"
            )
        _copy_manifest(src, dst, child_manifest, stats)
    _copy_blobs(src, dst, refs.blobs, stats)
    dst.client.put_manifest(dst.repo, manifest.digest, manifest)
    stats.manifests_put += 1


def _copy_blobs(src: Place, dst: Place, blobs: tuple[Descriptor, ...], stats: CopyStats) -> None:
    """The blobs of one manifest, up to ``PARALLEL_BLOBS`` at a time (as docker and skopeo do): one stream
    rarely fills a link, and each blob is still streamed in 1 MiB chunks, so memory stays bounded."""
    if len(blobs) <= 1:
        outcomes = [copy_blob(src, dst, b) for b in blobs]
    else:
        from concurrent.futures import ThreadPoolExecutor  # only multi-blob copies pay for its import

        with ThreadPoolExecutor(max_workers=min(PARALLEL_BLOBS, len(blobs))) as pool:
            outcomes = list(pool.map(lambda b: copy_blob(src, dst, b), blobs))
    for outcome, blob in zip(outcomes, blobs, strict=True):
        if outcome == "sent":
            stats.blobs_sent += 1
            stats.bytes_sent += blob.size
        elif outcome == "skipped":
            stats.blobs_skipped += 1
        elif outcome == "mounted":
            stats.blobs_mounted += 1


def copy_blob(src: Place, dst: Place, blob: Descriptor) -> str:
    """One blob: skip if there, mount if the same registry has it, else stream it across; say which."""
    if blob.urls:  # a non-distributable (foreign) layer: registries never hold it, clients fetch the URL
        return "foreign"
    if dst.client.blob_size(dst.repo, blob.digest) is not None:
        return "skipped"
    if src.client.host == dst.client.host and dst.client.mount_blob(dst.repo, blob.digest, src.repo):
        return "mounted"
    with src.client.open_blob(src.repo, blob.digest) as reader:
        dst.client.upload_blob(dst.repo, blob.digest, blob.size, iter(reader))
    return "sent"
