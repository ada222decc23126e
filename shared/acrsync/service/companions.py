"""Companions follow their image: cosign's ``sha256-<hex>.sig/.att/.sbom`` tags go wherever the image went.

A push of a companion tag is not an image of its own: its subject is the digest in its name. The replicator
finds the subject's tags in the source repository (``ListRepoTag``), asks the rules where those went, and
for each destination whose ledger row shows the subject replicated (or under way) and whose rule has
companions on, replicates the companion there under the same tag (through the same claim -> task/copy path,
so it is exactly-once too). A companion whose subject went nowhere is ignored with a log line.

Also, when an image is pushed, companions that already exist for it are sent along to ACR-sync destinations
with ``companions: true`` (copy destinations carry them inside the copy job itself).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from acrsync.domain.images import SourceImage, SyncRequest
from acrsync.domain.ledger import State
from acrsync.domain.oci import companion_subject, companion_tags
from acrsync.domain.registry import TagInfo
from acrsync.domain.rules_eval import RuleIndex, evaluate
from acrsync.logging import get_logger
from acrsync.ports import Ledger

log = get_logger(__name__)

_GONE = frozenset({State.FAILED, State.CANCELED})


def wants_companions(request: SyncRequest) -> bool:
    """The destination's rule has ``companions`` on (default for copy destinations, opt-in for ACR)."""
    return dict(request.copy).get("companions") == "1"


def companion_request(request: SyncRequest, companion: SourceImage) -> SyncRequest:
    """The same destination as ``request``, for a companion: its own tag (cosign looks it up by name)."""
    extra = {**dict(request.copy), "companions": ""}  # the companion has no companions of its own
    return replace(
        request,
        source=companion,
        destination=replace(request.destination, tag=companion.tag),
        copy=tuple(extra.items()) if dict(request.copy).get("kind") else (),
    )


def requests_for_companion_push(
    image: SourceImage, rules: RuleIndex, ledger: Ledger, tags: list[TagInfo]
) -> list[SyncRequest]:
    """For a pushed companion tag: one request per destination its subject was replicated to.

    ``tags`` are the source repository's tags (``ListRepoTag``): the subject's are those with its digest.
    """
    subject = companion_subject(image.tag)
    subject_tags = [t.tag for t in tags if t.digest == subject and not companion_subject(t.tag)]
    out: list[SyncRequest] = []
    for tag in subject_tags:
        subject_image = replace(image, tag=tag, digest=subject)
        for request in evaluate(rules, subject_image):
            row = ledger.get(request.claim_id)
            if row is None or row.state in _GONE or not wants_companions(request):
                continue
            out.append(companion_request(request, image))
    if not out:
        log.info(
            "companion_subject_not_replicated",
            image=image.ref,
            subject=subject,
            subject_tags=subject_tags,
            detail="a cosign companion follows its image only where the image was replicated",
        )
    return out


def existing_companions(
    image: SourceImage, requests: list[SyncRequest], lookup: Callable[[str], str | None]
) -> list[SyncRequest]:
    """Companions already in the source for a pushed image, for ACR-sync destinations that want them.

    ``lookup(tag)`` gives a companion tag's digest (``GetRepoTag``), None if absent; called only when some
    ACR-sync destination has companions on.
    """
    targets = [r for r in requests if wants_companions(r) and not dict(r.copy).get("kind")]
    if not targets or not image.digest:
        return []
    out: list[SyncRequest] = []
    for tag in companion_tags(image.digest):
        digest = lookup(tag)
        if digest:
            companion = replace(image, tag=tag, digest=digest)
            out.extend(companion_request(r, companion) for r in targets)
    return out
