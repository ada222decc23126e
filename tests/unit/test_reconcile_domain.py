"""The reconciler's pure parts: its rule keys validated with paths, durations, tag templates inverted,
backup names, and the decisions."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acrsync.domain.durations import parse_duration
from acrsync.domain.images import TAG_RE, DestinationImage, SourceImage, SyncRequest
from acrsync.domain.ledger import LedgerEntry, State, new_claim
from acrsync.domain.reconcile import (
    Action,
    DestinationPolicy,
    Kind,
    RulePolicy,
    backup_tag,
    decide_extra,
    decide_missing,
    decide_present,
    invert_tag,
    policies,
)
from acrsync.domain.rules import validate_document
from acrsync.domain.rules_compile import Template
from acrsync.errors import RuleConfigError
from acrsync.service.operate import parse_since
from tests.unit.rules_fixtures import document, rule

D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def errors_of(data: Any) -> list[str]:
    with pytest.raises(RuleConfigError) as info:
        validate_document(data)
    return info.value.errors


def dest(**extra: Any) -> dict[str, Any]:
    return {"instance": "cri-d", "region": "cn-shanghai", **extra}


def test_given_bad_reconciler_keys_then_each_is_reported_with_its_path() -> None:
    data = document(
        rule("a", prune="yes", prune_grace="tomorrow", destinations=[dest(on_conflict="replace")]),
        rule("b", destinations=[dest(role_arn="acs:ram::1:role/x")]),
        rule("c", destinations=[dest(account="222", role_arn="acs:ram::111:role/reader")]),
        rule("d", destinations=[dest(account="222", role_arn="arn:aws:iam::222:role/x")]),
    )
    errors = errors_of(data)
    assert "rules[0].prune: must be true or false, got str 'yes'" in errors
    assert any(e.startswith("rules[0].prune_grace: 'tomorrow' is not a duration") for e in errors)
    assert (
        "rules[0].destinations[0].on_conflict: must be one of skip, overwrite, backup, got str 'replace'"
        in errors
    )
    assert "rules[1].destinations[0].role_arn: needs account: (the role is read in that account)" in errors
    assert "rules[2].destinations[0].role_arn: names account 111, but account is 222" in errors
    assert any(e.startswith("rules[3].destinations[0].role_arn: 'arn:aws") for e in errors)


def test_given_defaults_then_nothing_new_is_stored_and_the_policies_fill_them_in() -> None:
    doc = validate_document(document(rule("a")))
    (stored,) = doc.rules
    assert "prune" not in stored
    assert "on_conflict" not in stored["destinations"][0]
    policy = policies(doc.rules)["a"]
    assert policy.prune is False
    assert policy.prune_grace_s == 86400.0
    assert policy.destination(DestinationImage("cri-d", "cn-shanghai", "n", "r", "t")).on_conflict == "skip"


def test_given_set_keys_then_they_are_stored_and_read_back() -> None:
    doc = validate_document(
        document(
            rule(
                "a",
                prune=True,
                prune_grace="6h",
                destinations=[dest(on_conflict="backup", account="222", role_arn="acs:ram::222:role/reader")],
            )
        )
    )
    policy = policies(doc.rules)["a"]
    assert (policy.prune, policy.prune_grace_s) == (True, 6 * 3600.0)
    got = policy.destination(DestinationImage("cri-d", "cn-shanghai", "n", "r", "t"))
    assert got == DestinationPolicy("backup", "acs:ram::222:role/reader", "222")


@given(st.from_regex(r"\A\s*[0-9]{1,4}(\.[0-9]{1,2})?\s*[smhdwx]?\s*\Z"))
def test_status_since_and_prune_grace_parse_durations_alike(text: str) -> None:
    try:
        expected: float | str = parse_since(text)
    except ValueError as exc:
        expected = str(exc)
    try:
        got: float | str = parse_duration(text)
    except ValueError as exc:
        got = str(exc)
    assert got == expected


@pytest.mark.parametrize(
    ("template", "dest_tag", "source_tag"),
    [
        ("{tag}", "v1", "v1"),
        ("prod-{tag}", "prod-v1", "v1"),
        ("{tag}-cn", "v1-cn", "v1"),
        ("prod-{tag}", "v1", None),
        ("{namespace}-{tag}", "a-v1", None),
        ("fixed", "fixed", None),
    ],
)
def test_tag_templates_invert_only_when_unambiguous(
    template: str, dest_tag: str, source_tag: str | None
) -> None:
    assert invert_tag(Template.parse(template), dest_tag) == source_tag


@given(st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z"))
def test_backup_tags_are_valid_acr_tags_at_most_128_characters(tag: str) -> None:
    name = backup_tag(tag, 1_767_225_600.0)
    assert TAG_RE.match(name)
    assert name.endswith("-acrsync-backup-20260101T000000Z")


def request(digest: str = D1, override: bool = False) -> SyncRequest:
    src = SourceImage("cri-s", "cn-hangzhou", "team-a", "web", "v1", digest, "crr-1")
    return SyncRequest("r", src, DestinationImage("cri-d", "cn-shanghai", "team-a", "web", "v1"), override)


def row(state: State) -> LedgerEntry:
    return _with(new_claim(request(), event_id="e", now=0.0), state, {})


def _with(entry: LedgerEntry, state: State, extra: dict[str, str]) -> LedgerEntry:
    return replace(entry, state=state, extra=extra)


@pytest.mark.parametrize(
    ("existing", "before", "override", "policy", "expected"),
    [
        (None, None, False, "skip", (Kind.CONFLICT, Action.ALERT_CONFLICT)),
        (None, None, False, "overwrite", (Kind.CONFLICT, Action.OVERWRITE)),
        (None, None, False, "backup", (Kind.CONFLICT, Action.BACKUP)),
        (None, State.VERIFIED, True, "skip", (Kind.CONFLICT, Action.RESYNC)),
        (None, State.VERIFIED, False, "skip", (Kind.CONFLICT, Action.ALERT_CONFLICT)),
        (State.SUBMITTED, None, False, "overwrite", (Kind.PENDING, Action.NONE)),
        (State.MISMATCH, None, False, "overwrite", (Kind.FAILED, Action.NONE)),
        (State.VERIFIED, None, False, "overwrite", (Kind.CONFLICT, Action.OVERWRITE)),
    ],
)
def test_a_differing_digest_is_decided_by_the_ledger_and_the_policy(
    existing: State | None, before: State | None, override: bool, policy: str, expected: tuple[Kind, Action]
) -> None:
    got = decide_present(
        request(D1, override),
        D2,
        row(existing) if existing else None,
        row(before) if before else None,
        DestinationPolicy(on_conflict=policy),
    )
    assert got[:2] == expected


def test_the_same_digest_is_in_sync_whatever_the_ledger_says() -> None:
    assert decide_present(request(), D1, None, None, DestinationPolicy())[:2] == (Kind.IN_SYNC, Action.NONE)


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        (None, (Kind.MISSING, Action.REPAIR)),
        (State.VERIFIED, (Kind.MISSING, Action.REPAIR)),
        (State.CLAIMED, (Kind.PENDING, Action.NONE)),
        (State.FAILED, (Kind.FAILED, Action.NONE)),
    ],
)
def test_a_missing_tag_is_repaired_unless_in_flight_or_already_failed(
    existing: State | None, expected: tuple[Kind, Action]
) -> None:
    assert decide_missing(row(existing) if existing else None)[:2] == expected


PRUNE = RulePolicy(prune=True, prune_grace_s=3600.0)


@pytest.mark.parametrize(
    ("source_tag", "existing", "marks", "policy", "now", "action"),
    [
        (None, State.VERIFIED, {}, PRUNE, 0.0, Action.NONE),  # not from this source's template
        ("v1", State.VERIFIED, {}, PRUNE, 0.0, Action.NONE),  # the source tag still exists
        ("gone", None, {}, PRUNE, 0.0, Action.NONE),  # acr-sync did not create it
        ("gone", State.VERIFIED, {}, RulePolicy(), 0.0, Action.NONE),  # prune off
        ("gone", State.VERIFIED, {}, PRUNE, 100.0, Action.MARK_ORPHAN),
        ("gone", State.VERIFIED, {"orphaned_at": "100"}, PRUNE, 3699.0, Action.NONE),  # in the grace
        ("gone", State.VERIFIED, {"orphaned_at": "100"}, PRUNE, 3700.0, Action.PRUNE),
        ("gone", State.VERIFIED, {"pruning_at": "100", "orphaned_at": "1"}, PRUNE, 150.0, Action.PRUNE),
        ("gone", State.VERIFIED, {"pruned_at": "100"}, PRUNE, 9e9, Action.NONE),  # back after a prune
    ],
)
def test_an_extra_tag_is_pruned_only_when_ours_gone_allowed_and_past_the_grace(  # noqa: PLR0917
    source_tag: str | None,
    existing: State | None,
    marks: dict[str, str],
    policy: RulePolicy,
    now: float,
    action: Action,
) -> None:
    found = _with(new_claim(request(), event_id="e", now=0.0), existing, marks) if existing else None
    kind, got, _ = decide_extra(source_tag, {"v1"}, found, policy, now)
    assert kind is Kind.EXTRA
    assert got is action
