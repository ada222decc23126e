"""Which replicated images the reconciler follows referrers of, and the ledger rows of referrer copies."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acrsync.adapters.acr import tag_from
from acrsync.config import load_settings
from acrsync.domain.copies import is_copy, is_referrer
from acrsync.domain.images import DestinationImage, SourceImage, SyncRequest
from acrsync.domain.ledger import LedgerEntry, State
from acrsync.domain.oci import Descriptor
from acrsync.domain.referrers import (
    Candidate,
    follows,
    in_window,
    recent_subjects,
    referrer_claim,
    referrer_row,
)
from acrsync.errors import ConfigError

IMAGE = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64
SIG = Descriptor("application/vnd.oci.image.manifest.v1+json", "sha256:" + "c" * 64, 512, "application/x-sig")


def row(tag: str = "v1", digest: str = IMAGE, dest: str = "cri-sh", **kw: object) -> LedgerEntry:
    base = LedgerEntry(
        claim_id=f"{tag}-{digest[-4:]}-{dest}",
        rule="r",
        source_instance="cri-src",
        source_region="cn-hangzhou",
        source_namespace="team-a",
        source_repo="web",
        source_tag=tag,
        digest=digest,
        dest_instance=dest,
        dest_region="cn-shanghai",
        dest_namespace="team-a",
        dest_repo="web",
        dest_tag=tag,
        state=State.VERIFIED,
        extra={"companions": "1"},
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def test_given_two_tags_of_one_digest_to_one_repository_then_one_subject_with_one_destination() -> None:
    subjects = recent_subjects([row("v1"), row("latest"), row("v1", dest="cri-bj")])
    (subject,) = subjects
    assert subject.key == f"cri-src@cn-hangzhou/team-a/web@{IMAGE}"
    assert sorted(r.dest_instance for r in subject.rows) == ["cri-bj", "cri-sh"]


@pytest.mark.parametrize(
    "skipped",
    [
        row(state=State.SUBMITTED),  # not replicated yet
        row(state=State.FAILED),
        row(extra={}),  # companions off (an ACR destination's default)
        row(extra={"companions": ""}),
        row(tag="sha256-" + "a" * 64 + ".sig"),  # a cosign companion tag, not an image
        row(extra={"companions": "1", "referrer_of": OTHER}),  # a referrer copy itself
        row(target_account="1234567890123456"),  # cross-account: no registry credentials for it
        row(digest=""),
    ],
)
def test_rows_that_are_not_replicated_images_with_companions_on_are_not_subjects(
    skipped: LedgerEntry,
) -> None:
    assert recent_subjects([skipped]) == []


def test_subjects_come_sorted_and_resume_after_a_key() -> None:
    subjects = recent_subjects([row(digest=OTHER), row(digest=IMAGE)])
    assert [s.first.digest for s in subjects] == [IMAGE, OTHER]
    assert [s.first.digest for s in recent_subjects([row(digest=OTHER), row()], after=subjects[0].key)] == [
        OTHER
    ]


def test_a_referrer_row_is_a_claimed_copy_row_that_keeps_only_how_to_reach_the_destination() -> None:
    subject = row(
        dest="harbor.example.com/dr",
        dest_region="oci",
        revision=7,
        attempts=2,
        alerted=True,
        extra={
            "kind": "copy",
            "registry": "harbor.example.com/dr",
            "credentials_env": "ACRSYNC_REGISTRY_HARBOR",
            "companions": "1",
            "copy_blobs_sent": "9",
            "outbox": "verified@1",
        },
    )
    claim = referrer_row(subject, SIG, event_id="reconcile:p1", now=50.0)
    assert (claim.state, claim.revision, claim.attempts, claim.alerted) == (State.CLAIMED, 1, 0, False)
    assert claim.digest == SIG.digest
    assert claim.extra == {
        "registry": "harbor.example.com/dr",
        "credentials_env": "ACRSYNC_REGISTRY_HARBOR",
        "kind": "copy",
        "companions": "",
        "artifact_type": "application/x-sig",
        "referrer_of": IMAGE,
    }
    assert is_copy(claim)
    assert is_referrer(claim)
    assert claim.claim_id == referrer_claim(IMAGE, SIG.digest, "harbor.example.com/dr@oci/team-a/web")
    # the tag does not matter: every tag of the image shares the referrer's claim at a destination
    assert referrer_row(replace(subject, source_tag="latest"), SIG, event_id="x", now=1.0).claim_id == (
        claim.claim_id
    )


@given(st.lists(st.sampled_from(["sha256:1", "sha256:2", "x@y/z", "x@y/w", "|"]), min_size=3, max_size=3))
def test_referrer_claims_differ_whenever_subject_referrer_or_destination_differ(parts: list[str]) -> None:
    key = referrer_claim(*parts)
    assert len(key) == 32
    for i in range(3):
        changed = [*parts]
        changed[i] += "0"
        assert referrer_claim(*changed) != key


@pytest.mark.parametrize(("raw", "hours"), [(None, 24.0), ("0", 0.0), ("1.5", 1.5), ("2160", 2160.0)])
def test_the_referrer_window_defaults_to_a_day_and_zero_disables_it(raw: str | None, hours: float) -> None:
    env = {"ACRSYNC_REGION": "cn-hangzhou"} | ({"ACRSYNC_REFERRERS_WINDOW_HOURS": raw} if raw else {})
    assert load_settings(env).referrers_window_h == hours


@pytest.mark.parametrize("raw", ["-1", "a day", "nan", "inf", "9999"])
def test_a_bad_referrer_window_is_refused_naming_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({"ACRSYNC_REGION": "cn-hangzhou", "ACRSYNC_REFERRERS_WINDOW_HOURS": raw})
    assert "ACRSYNC_REFERRERS_WINDOW_HOURS=" in str(err.value)
    assert "0 disables" in str(err.value)


def request(
    tag: str = "v1", *, copy: tuple[tuple[str, str], ...] = (("companions", "1"),), account: str = ""
) -> SyncRequest:
    source = SourceImage("cri-src", "cn-hangzhou", "team-a", "web", tag, IMAGE)
    to = DestinationImage("cri-sh", "cn-shanghai", "team-a", "web", tag)
    return SyncRequest("r", source, to, target_account=account, copy=copy)


NOW = 1_800_000_000.0
SINCE = NOW - 24 * 3600


def test_a_tag_updated_within_the_window_to_a_companion_destination_is_a_candidate_keyed_by_its_claim() -> (
    None
):
    wanted = request()
    assert follows(wanted, NOW - 60, SINCE) == Candidate(wanted.claim_id, NOW - 60)


@pytest.mark.parametrize(
    ("skipped", "updated"),
    [
        (request(), SINCE - 1),  # pushed before the window: history, never read
        (request(copy=()), NOW),  # companions off
        (request(copy=(("kind", "copy"), ("companions", ""))), NOW),  # a copy destination with them off
        (request("sha256-" + "a" * 64 + ".sig"), NOW),  # a cosign companion tag
        (request(account="1234567890123456"), NOW),  # cross-account
    ],
)
def test_tags_outside_the_window_or_without_companions_are_not_candidates(
    skipped: SyncRequest, updated: float
) -> None:
    assert follows(skipped, updated, SINCE) is None


def test_a_tag_whose_update_time_is_unknown_is_a_candidate_and_its_rows_creation_time_decides() -> None:
    candidate = follows(request(), 0.0, SINCE)
    assert candidate is not None
    assert in_window(row(created_at=SINCE + 1), candidate, SINCE)
    assert not in_window(row(created_at=SINCE - 1), candidate, SINCE)
    known = follows(request(), NOW, SINCE)
    assert known is not None
    assert in_window(row(created_at=SINCE - 30 * 86400), known, SINCE)  # re-tagged: the tag's time decides


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        (1_700_000_000_123, 1_700_000_000.123),
        ("1700000000000", 1_700_000_000.0),
        (None, 0.0),
        ("", 0.0),
        ("2024-05-01 10:00:00", 0.0),
        (0, 0.0),
        ("-5", 0.0),
        ("inf", 0.0),
    ],
)
def test_image_update_is_read_as_epoch_milliseconds_and_anything_else_is_unknown(
    raw: object, seconds: float
) -> None:
    assert tag_from({"Tag": "v1", "Digest": IMAGE, "ImageUpdate": raw}).image_update == pytest.approx(seconds)
