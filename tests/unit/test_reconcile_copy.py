"""Copy destinations in the reconciler: their rules keys, and which tags a pass re-reads (HEAD)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acrsync.adapters.memory import MemoryLedger
from acrsync.domain.images import COPY_REGION, DestinationImage
from acrsync.domain.ledger import LedgerEntry, State, new_claim
from acrsync.domain.reconcile import policies
from acrsync.domain.rules import validate_document
from acrsync.domain.rules_eval import evaluate
from acrsync.errors import RuleConfigError, UpstreamUnavailable
from acrsync.service.reconcile_copy import RECHECK_SHARES, CopyReader, OutOfTime, delete_copy, slot_of
from tests.unit.rules_fixtures import document, image, index, rule

HARBOR = {"registry": "harbor.example.com/dr", "credentials_env": "ACRSYNC_REGISTRY_HARBOR"}


def errors_of(data: Any) -> list[str]:
    with pytest.raises(RuleConfigError) as info:
        validate_document(data)
    return info.value.errors


def test_given_on_conflict_on_a_registry_destination_when_validated_then_the_reconciler_policy_has_it() -> (
    None
):
    doc = validate_document(document(rule(destinations=[{**HARBOR, "on_conflict": "backup"}])))
    policy = policies(doc.rules)["r1"]
    to = DestinationImage("harbor.example.com/dr", COPY_REGION, "team-a", "web", "1.2.3")
    assert policy.destination(to).on_conflict == "backup"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"on_conflict": "replace"}, "on_conflict: must be one of skip, overwrite, backup"),
        (
            {"role_arn": "acs:ram::1:role/x"},
            "role_arn: a registry destination is reached with credentials_env",
        ),
    ],
)
def test_given_a_bad_reconciler_key_on_a_registry_destination_when_validated_then_it_is_named(
    extra: dict[str, Any], message: str
) -> None:
    errors = errors_of(document(rule(destinations=[{**HARBOR, **extra}])))
    assert any(message in e for e in errors), errors


def reader(slot: int) -> CopyReader:
    def no_client(registry: str, credentials_env: str) -> Any:
        raise AssertionError("no registry is asked here")

    return CopyReader(no_client, MemoryLedger(), since=100.0, slot=slot)


def verified(tag: str, digest: str) -> tuple[Any, LedgerEntry]:
    (request,) = evaluate(index(rule(destinations=[HARBOR])), replace(image(tag=tag), digest=digest))
    row = new_claim(request, event_id="e", now=1.0)
    for state in (State.SUBMITTED, State.SUCCEEDED, State.VERIFIED):
        row = row.moved_to(state, 2.0)
    return request, row


@given(st.text("0123456789abcdef", min_size=64, max_size=64), st.integers(0, 10_000))
def test_given_a_verified_old_copy_then_exactly_one_pass_in_every_rotation_re_reads_it(
    hexd: str, start: int
) -> None:
    request, row = verified("1.0.0", f"sha256:{hexd}")
    re_read = []
    for ordinal in range(start, start + RECHECK_SHARES):
        re_read.append(not reader(slot_of(ordinal, False))._vouched(request, row, {"1.0.0": 50.0}))
    assert sum(re_read) == 1


def test_given_a_recent_source_tag_or_an_unverified_row_or_audit_then_the_tag_is_always_re_read() -> None:
    request, row = verified("1.0.0", "sha256:" + "a" * 64)
    slot = (int(request.claim_id[:8], 16) + 1) % RECHECK_SHARES  # not this tag's share
    one = reader(slot)
    assert one._vouched(request, row, {"1.0.0": 50.0})  # old, verified, not its share: vouched
    assert not one._vouched(request, row, {"1.0.0": 150.0})  # moved since the window opened
    assert not one._vouched(request, None, {})  # no row of this digest: the events never brought it
    failed = replace(row, state=State.FAILED)
    assert not one._vouched(request, failed, {})
    everything = reader(slot_of(7, True))
    assert not everything._vouched(request, row, {"1.0.0": 50.0})


class CountingRegistry:
    """Answers the two reads a copy destination needs, and counts them."""

    host = "harbor.example.com"

    def __init__(self) -> None:
        self.requests: list[str] = []

    def list_tags(self, repo: str) -> Iterator[str]:
        self.requests.append(f"GET /v2/{repo}/tags/list")
        yield "1.0.0"

    def head_manifest(self, repo: str, reference: str) -> str | None:
        self.requests.append(f"HEAD /v2/{repo}/manifests/{reference}")
        return "sha256:" + "b" * 64


def test_given_the_deadline_near_when_a_copy_destination_is_read_then_no_request_starts() -> None:
    registry = CountingRegistry()
    key = ("harbor.example.com/dr", COPY_REGION, "team-a", "web")
    late = CopyReader(lambda *_: registry, MemoryLedger(), since=0.0, slot=0, time_left=lambda: False)  # type: ignore[arg-type]
    with pytest.raises(OutOfTime):
        list(late.read(key, "", {}, {}, lambda tag: True))
    assert registry.requests == []
    assert late.down == {}  # not the registry's fault: it is not marked down
    in_time = CopyReader(lambda *_: registry, MemoryLedger(), since=0.0, slot=0)  # type: ignore[arg-type]
    seen = list(in_time.read(key, "", {}, {}, lambda tag: True))
    assert [s.tag for s in seen] == ["1.0.0"]
    assert registry.requests == [
        "GET /v2/dr/team-a/web/tags/list",
        "HEAD /v2/dr/team-a/web/manifests/1.0.0",
    ]


class DeletingRegistry(CountingRegistry):
    """Answers ``DELETE /v2/<name>/manifests/<tag>`` as told: True, False, None, or an exception."""

    def __init__(self, answer: bool | Exception | None) -> None:
        super().__init__()
        self.answer = answer

    def delete_tag(self, repo: str, tag: str) -> bool | None:
        self.requests.append(f"DELETE /v2/{repo}/manifests/{tag}")
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        (True, "deleted"),
        (False, "deleted"),  # already gone: what prune wanted
        (None, "prune_unsupported"),
        (UpstreamUnavailable("503 from harbor"), "prune_failed"),
    ],
)
def test_given_an_orphan_at_a_registry_when_pruned_then_it_is_deleted_by_tag_only(
    answer: bool | Exception | None, outcome: str
) -> None:
    registry = DeletingRegistry(answer)
    request, _ = verified("1.0.0", "sha256:" + "c" * 64)
    one = CopyReader(lambda *_: registry, MemoryLedger(), since=0.0, slot=0)  # type: ignore[arg-type]
    said, why, host = delete_copy(one, request)
    assert said == outcome
    assert registry.requests == ["DELETE /v2/dr/team-a/web/manifests/1.0.0"]  # never by digest
    if outcome == "prune_unsupported":
        assert host == "harbor.example.com"
        assert "delete harbor.example.com/dr@oci/team-a/web:1.0.0 by hand" in why
