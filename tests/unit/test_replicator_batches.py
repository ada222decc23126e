"""The replicator's batches over fakes: one row of a batch failing alone changes nothing for the others."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from acrsync.adapters.memory import MemoryLedger
from acrsync.domain.images import DestinationImage, SourceImage, SyncRequest
from acrsync.domain.ledger import LedgerEntry, State
from acrsync.errors import UpstreamUnavailable
from acrsync.ports import RowResult
from acrsync.service.replicate import replicate_requests
from tests.fixtures import load_event
from tests.harness import World, make_world


class _OneRowBusy(MemoryLedger):
    """A ledger whose batches refuse one destination's row as busy (``times`` times), as Tablestore may."""

    def __init__(self, dest: str, *, claims: int = 0, records: int = 0) -> None:
        super().__init__()
        self.dest, self.claims, self.records = dest, claims, records

    def claim_many(self, entries: Sequence[LedgerEntry]) -> list[RowResult]:
        busy = [e for e in entries if e.dest_instance == self.dest and self.claims > 0]
        self.claims -= len(busy)
        results = {r.claim_id: r for r in super().claim_many([e for e in entries if e not in busy])}
        for e in busy:
            results[e.claim_id] = RowResult(
                e.claim_id, "error", UpstreamUnavailable("busy", code="OTSServerBusy")
            )
        return [results[e.claim_id] for e in entries]

    def update_many(
        self, updates: Sequence[tuple[LedgerEntry, int]], *, lazy: bool = False
    ) -> list[RowResult]:
        busy = [u for u in updates if u[0].dest_instance == self.dest and self.records > 0]
        self.records -= len(busy)
        done = {r.claim_id: r for r in super().update_many([u for u in updates if u not in busy], lazy=lazy)}
        for e, _ in busy:
            done[e.claim_id] = RowResult(
                e.claim_id, "error", UpstreamUnavailable("busy", code="OTSServerBusy")
            )
        return [done[e.claim_id] for e, _ in updates]


def _world(ledger: MemoryLedger) -> World:
    world = make_world()
    world.ledger = ledger
    return world


def test_a_claim_refused_as_busy_is_retried_by_redelivery_and_the_others_go_ahead() -> None:
    # GIVEN Beijing's claim is refused as busy once
    world = _world(_OneRowBusy("cri-demo-bj", claims=1))
    event = load_event("acs.cr/push_completed.json")
    # WHEN the push is handled THEN Shanghai's task is created and the invocation raises for FC to redeliver
    with pytest.raises(UpstreamUnavailable):
        world.push(event)
    assert [r.params["TargetInstanceId"] for r in world.creates()] == ["cri-demo-sh"]
    # AND the redelivery creates Beijing's, and only Beijing's
    world.push(event)
    assert sorted(r.params["TargetInstanceId"] for r in world.creates()) == ["cri-demo-bj", "cri-demo-sh"]
    assert {r.state for r in world.rows()} == {State.SUBMITTED}


def test_a_task_id_record_refused_as_busy_is_retried_alone_at_once() -> None:
    # GIVEN Beijing's record is refused as busy once within the batch
    world = _world(_OneRowBusy("cri-demo-bj", records=1))
    response: dict[str, Any] = world.push(load_event("acs.cr/push_completed.json"))
    # THEN both rows hold their task ids (Beijing's written by the single-row retry), nothing is in doubt
    assert [r["outcome"] for r in response["results"]] == ["submitted", "submitted"]
    rows = world.rows()
    assert {r.state for r in rows} == {State.SUBMITTED}
    assert sorted(r.task_id for r in rows) == sorted(world.model.tasks)


def test_a_bad_destination_name_in_a_batch_fails_alone_without_reaching_acr() -> None:
    # GIVEN two requests in one batch (as backfill or `acr-sync replicate` make them): one name is outside
    # the registry's grammar ("a._b", a row an older version could have asked for)
    world = make_world()
    digest = "sha256:c9fd511dff7c6ae7e43ba71bb87bac9fff9b8343ad181dff20552110e3093dba"  # in the seed
    source = SourceImage(
        "cri-demo-src", "cn-hangzhou", "team-a", "web", "v1.2.3", digest, "crr-27b8bb35e5852239"
    )
    good = SyncRequest("r", source, DestinationImage("cri-demo-sh", "cn-shanghai", "team-a", "web", "v1.2.3"))
    bad = SyncRequest("r", source, DestinationImage("cri-demo-bj", "cn-beijing", "a._b", "web", "v1.2.3"))
    # WHEN both are claimed and submitted in one batch
    results = replicate_requests([bad, good], "evt-1", world.replicator(), world.clock.monotonic() + 55)
    # THEN the bad one failed as invalid_name without reaching ACR; the good one was created
    assert [r["outcome"] for r in results] == ["failed", "submitted"]
    assert [r.params["TargetInstanceId"] for r in world.creates()] == ["cri-demo-sh"]
    failed = world.ledger.get(bad.claim_id)
    assert failed is not None
    assert (failed.state, failed.error_class) == (State.FAILED, "invalid_name")
    assert all(r.params.get("TargetInstanceId") != "cri-demo-bj" for r in world.model.requests)
