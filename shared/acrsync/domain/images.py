"""Image references: where an image is (source) and where it should go (destination). Pure values."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# Anchored with \Z, not $: "$" also matches before a trailing newline (``NAME_RE.match("web\n")`` passed).
# ACR tag charset and length (reference §2 / product.md rules file): [A-Za-z0-9_.-], at most 128 chars.
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")
# Namespace and repository names: one path component of the distribution reference grammar
# (distribution/reference/regexp.go: alphanumerics joined by a single separator ``.`` or ``_``, a double
# ``__``, or a run of ``-``; so ``a._b``, ``a___b`` and ``a..b`` are refused), lowercase, at most 64 chars.
NAME_RE = re.compile(r"^(?=.{1,64}\Z)[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*\Z")
INSTANCE_RE = re.compile(r"^cri-[A-Za-z0-9](?:[A-Za-z0-9-]{0,58}[A-Za-z0-9])?\Z")
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}\Z")
# The ``region`` of a copy destination (``registry:`` in the rules): it has a registry, not a region.
COPY_REGION = "oci"


def name_problem(namespace: str, repo: str, tag: str) -> str:
    """Why these names cannot go to ``CreateRepoSyncTask`` (the first bad one, quoted short), or ``""``.

    Namespace and repository: one path component of the distribution grammar (``NAME_RE``); tag: ACR's tag
    charset (``TAG_RE``). The one check every path to a sync task passes (rules, backfill, the CLI, retries).
    """
    for label, value, rx in (
        ("namespace", namespace, NAME_RE),
        ("repository", repo, NAME_RE),
        ("tag", tag, TAG_RE),
    ):
        if not rx.fullmatch(value):
            shown = repr(value[:80]) + ("..." if len(value) > 80 else "")
            return f"{label} {shown} is not a valid ACR {label}"
    return ""


@dataclass(frozen=True, slots=True)
class SourceImage:
    """One pushed tag in a source ACR EE instance."""

    instance_id: str
    region: str
    namespace: str
    repo: str
    tag: str
    digest: str = ""
    repo_id: str = ""

    @property
    def repository(self) -> str:
        """``NAMESPACE/REPO``: what repository globs match against."""
        return f"{self.namespace}/{self.repo}"

    @property
    def ref(self) -> str:
        """``INSTANCE/NAMESPACE/REPO:TAG``: the form the CLI and alerts use."""
        return f"{self.instance_id}/{self.namespace}/{self.repo}:{self.tag}"


@dataclass(frozen=True, slots=True)
class DestinationImage:
    """Where one sync task puts an image: instance, region, namespace, repository, tag."""

    instance_id: str
    region: str
    namespace: str
    repo: str
    tag: str

    @property
    def ref(self) -> str:
        """``INSTANCE@REGION/NAMESPACE/REPO:TAG``."""
        return f"{self.instance_id}@{self.region}/{self.namespace}/{self.repo}:{self.tag}"

    def same_place_as(self, source: SourceImage) -> bool:
        """True when this destination is the source image itself (self-replication)."""
        return (self.instance_id, self.region, self.namespace, self.repo, self.tag) == (
            source.instance_id,
            source.region,
            source.namespace,
            source.repo,
            source.tag,
        )


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """A decision of the rules: replicate ``source`` to ``destination`` with these options."""

    rule: str
    source: SourceImage
    destination: DestinationImage
    override: bool = False
    priority: int = 3
    target_account: str = ""
    alert_channel: str = ""
    # Copy jobs (``registry:`` destinations): the ledger row's ``extra`` fields; () for ACR sync.
    copy: tuple[tuple[str, str], ...] = ()

    @property
    def claim_id(self) -> str:
        """The ledger key of this request (see ``claim_id``)."""
        return claim_id(self.source, self.destination)


def claim_id(source: SourceImage, destination: DestinationImage) -> str:
    """Stable key of one replication: a hash of the digest and the two places, 32 hex chars.

    - Hashing spreads keys evenly across Tablestore partitions (no hot prefix).
    - The digest is part of the key: a tag re-pushed with new content is a new replication, while a
      duplicate delivery of the same push is the same one.
    - The two places are sorted, so the key is the same in both directions. That *is* the loop guard: after
      A->B created a task, B's push event for the image that arrived asks B->A for the same digest, finds the
      key claimed and stops, at no extra store round trip (product.md "Loop guard"). Replicating the same
      digest back to where it came from would change nothing anyway.
    """
    here = f"{source.instance_id}@{source.region}/{source.namespace}/{source.repo}:{source.tag}"
    there = destination.ref
    low, high = sorted((here, there))
    raw = f"{source.digest}|{low}|{high}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


_IMAGE_REF_RE = re.compile(
    # The tag by the distribution spec's grammar (at most 128 characters); the rest bounded, checked later.
    r"^(?P<instance>[^/]{1,128})/(?P<namespace>[^/]{1,255})/(?P<repo>[^/:@]{1,255})"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9._-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?\Z"
)


@dataclass(frozen=True, slots=True)
class ImageRef:
    """A parsed ``INSTANCE/NAMESPACE/REPO:TAG`` (as typed on the command line)."""

    instance_id: str
    namespace: str
    repo: str
    tag: str
    digest: str = ""


def _quote(text: str, limit: int = 80) -> str:
    return repr(text[:limit]) + (f"… ({len(text):,} characters)" if len(text) > limit else "")


def parse_image_ref(text: str) -> ImageRef:
    """Parse ``INSTANCE/NAMESPACE/REPO:TAG[@sha256:...]``; raise ``ValueError`` saying what is expected."""
    m = _IMAGE_REF_RE.match(text.strip())
    if not m or not m.group("tag"):
        raise ValueError(
            f"{_quote(text)} is not an image reference: expected INSTANCE/NAMESPACE/REPO:TAG "
            "(a tag is at most 128 letters, digits, '_', '.' or '-'), e.g. cri-src123/team-a/web:v1.2.3"
        )
    return ImageRef(
        instance_id=m.group("instance"),
        namespace=m.group("namespace"),
        repo=m.group("repo"),
        tag=m.group("tag"),
        digest=m.group("digest") or "",
    )
