"""Tagless OCI 1.1 referrers that follow their subject after it was replicated: which subjects, which keys,
which rows. Pure: the reconciler's referrer step (``service/referrers.py``) reads and writes, this decides.

A *subject* is a source image (instance, repository, digest) pushed recently — its source tag's
``ImageUpdate`` within the window — and replicated (a ``verified`` ledger row) to destinations whose rule
has ``companions`` on. The reconciler's audit of a repository already lists its tags and evaluates the
rules: ``follows`` picks the requests worth a ledger read from there (``Candidate``), their deterministic
claim keys are read in one batch, and ``recent_subjects`` groups the rows. Its destinations are the
distinct destination repositories of those rows (several tags of one digest land in the same repository:
one destination). A referrer missing at a destination is copied through a ledger row
of its own, a copy row (``kind: copy``, ``referrer_of: <subject digest>``), whose key is a hash of the
subject digest, the referrer digest and the destination repository: the same referrer is claimed once per
destination however many passes, tags or reconcilers see it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace

from acrsync.domain.images import SyncRequest
from acrsync.domain.ledger import LedgerEntry, State
from acrsync.domain.oci import Descriptor, companion_subject

REFERRER_OF = "referrer_of"  # ``extra`` key of a referrer copy row: the subject digest it refers to


@dataclass(frozen=True, slots=True)
class Subject:
    """One recently replicated source image and one row per destination repository it went to."""

    key: str
    rows: tuple[LedgerEntry, ...]

    @property
    def first(self) -> LedgerEntry:
        """A row naming the source (instance, region, repository, digest)."""
        return self.rows[0]


def place(row: LedgerEntry) -> str:
    """``INSTANCE@REGION/NAMESPACE/REPO`` of a row's destination repository (no tag: referrers have none)."""
    return f"{row.dest_instance}@{row.dest_region}/{row.dest_namespace}/{row.dest_repo}"


def subject_key(row: LedgerEntry) -> str:
    """``INSTANCE@REGION/NAMESPACE/REPO@DIGEST`` of a row's source image."""
    return f"{row.source_instance}@{row.source_region}/{row.source_namespace}/{row.source_repo}@{row.digest}"


def wants_referrers(row: LedgerEntry) -> bool:
    """A verified image replication whose rule has companions on; not a companion, referrer or notice row,
    and not cross-account (the destination's registry would need the reader role's credentials)."""
    return (
        row.state is State.VERIFIED
        and row.extra.get("companions") == "1"
        and not row.extra.get(REFERRER_OF)
        and not companion_subject(row.source_tag)
        and not row.target_account
        and row.digest.startswith("sha256:")
    )


@dataclass(frozen=True, slots=True)
class Candidate:
    """A destination image of a recently updated source tag: its claim key is worth reading."""

    claim_id: str
    image_update: float  # the source tag's ImageUpdate (epoch seconds; 0.0: the registry did not say)


def follows(request: SyncRequest, image_update: float, since: float) -> Candidate | None:
    """A candidate when ``request``'s destination has companions on, its source tag is not a companion tag,
    it is not cross-account, and the tag moved at or after ``since`` (or when is unknown: then the ledger
    row's creation time decides, ``in_window``)."""
    if ("companions", "1") not in request.copy or request.target_account:
        return None
    if companion_subject(request.source.tag) or 0.0 < image_update < since:
        return None
    return Candidate(request.claim_id, image_update)


def in_window(row: LedgerEntry, candidate: Candidate, since: float) -> bool:
    """A candidate's row still counts: its tag's time is known (``follows`` checked it), or the row was
    created within the window."""
    return candidate.image_update > 0.0 or row.created_at >= since


def recent_subjects(rows: Iterable[LedgerEntry], *, after: str = "") -> list[Subject]:
    """The subjects among ``rows`` (already limited to the window), sorted by key, those after ``after``
    only (a slice resumes where the last one stopped)."""
    grouped: dict[str, dict[str, LedgerEntry]] = {}
    for row in rows:
        if not wants_referrers(row):
            continue
        key = subject_key(row)
        if key > after:
            grouped.setdefault(key, {}).setdefault(place(row), row)
    return [Subject(key, tuple(grouped[key].values())) for key in sorted(grouped)]


def referrer_claim(subject_digest: str, referrer_digest: str, destination: str) -> str:
    """The ledger key of copying one referrer to one destination repository (32 hex characters)."""
    raw = f"referrer|{subject_digest}|{referrer_digest}|{destination}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def referrer_row(subject: LedgerEntry, referrer: Descriptor, *, event_id: str, now: float) -> LedgerEntry:
    """The claim for copying ``referrer`` (of ``subject``'s image) to ``subject``'s destination repository.

    A copy row the copier can run and the watcher can follow: the subject's places and tags (so ``status``
    and alerts name the image it belongs to), the referrer's digest, no tag written (``referrer_of``)."""
    extra: dict[str, str] = {
        k: subject.extra[k] for k in ("registry", "credentials_env") if k in subject.extra
    }
    extra.update(kind="copy", companions="", artifact_type=referrer.artifact_type)
    extra[REFERRER_OF] = subject.digest
    return replace(
        subject,
        claim_id=referrer_claim(subject.digest, referrer.digest, place(subject)),
        digest=referrer.digest,
        state=State.CLAIMED,
        task_id="",
        attempts=0,
        event_id=event_id,
        created_at=now,
        updated_at=now,
        next_check_at=now,
        last_error="",
        task_issue="",
        error_class="",
        alerted=False,
        revision=1,
        extra=extra,
    )
