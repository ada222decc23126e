"""The outbox rules (domain.outcomes) and the OutboxLedger that applies them to every write."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from acrsync.adapters.memory import MemoryLedger
from acrsync.domain.ledger import ALERT_LANE, LedgerEntry, State, needs_watch
from acrsync.domain.outcomes import after_publish, owed, published, reached, with_outbox
from acrsync.ports import RowResult
from acrsync.service.outcomes import OutboxLedger
from tests.builders import ledger_entry

NOW = 1_800_000_000.0


def row(claim_id: str = "a" * 32, **changes: object) -> LedgerEntry:
    return ledger_entry(claim_id, at=NOW, **changes)


def test_each_final_state_reaches_its_outcome_and_a_stuck_open_task_reaches_stuck() -> None:
    assert reached(row(state=State.VERIFIED), ()) == ["verified"]
    assert reached(row(state=State.FAILED), ()) == ["failed"]
    assert reached(row(state=State.MISMATCH), ()) == ["mismatch"]
    assert reached(row(state=State.CANCELED), ()) == ["canceled"]
    assert reached(row(state=State.SUBMITTED, error_class="stuck"), ()) == ["stuck"]
    assert reached(row(state=State.SUBMITTED), ()) == []


def test_a_verification_after_trouble_is_also_resolved() -> None:
    assert reached(row(state=State.VERIFIED), {"failed"}) == ["verified", "resolved"]
    assert reached(row(state=State.VERIFIED), {"stuck"}) == ["verified", "resolved"]


def test_an_owed_event_puts_the_row_in_the_alert_lane_and_keeps_it_watched() -> None:
    written = with_outbox(row(state=State.VERIFIED, updated_at=NOW + 5), None)
    assert owed(written) == {"verified": NOW + 5}
    assert written.next_check_at == ALERT_LANE
    assert needs_watch(written)


def test_a_stale_copy_without_the_outbox_keeps_what_the_stored_row_owes_and_published() -> None:
    # GIVEN a stored row that owes "failed" and already published nothing, and a caller's copy that lacks it
    stored = with_outbox(row(state=State.FAILED), None)
    stale = row(state=State.FAILED, alerted=True)
    # WHEN the stale copy is written
    written = with_outbox(stale, stored)
    # THEN the owed event is still owed, once
    assert owed(written) == owed(stored)


def test_a_published_outcome_is_never_owed_again() -> None:
    stored = with_outbox(row(state=State.FAILED), None)
    done = after_publish(stored, {"failed"}, NOW + 1)
    assert published(done) == {"failed"}
    assert owed(done) == {}
    # a later write of any copy does not bring it back
    assert owed(with_outbox(replace(stored, revision=done.revision), done)) == {}


def test_after_the_last_event_a_row_owing_no_alert_leaves_the_lane() -> None:
    stored = with_outbox(row(state=State.VERIFIED), None)
    done = after_publish(stored, {"verified"}, NOW + 1)
    assert done.next_check_at == NOW + 1
    assert not needs_watch(done)


def test_the_outbox_ledger_merges_what_a_caller_copy_lacks() -> None:
    # GIVEN a row moved to failed through the outbox ledger; the caller keeps its own copy of that write
    ledger = OutboxLedger(MemoryLedger())
    claimed = row()
    ledger.claim(claimed)
    submitted = claimed.moved_to(State.SUBMITTED, NOW + 1)
    ledger.update(submitted, expected_revision=claimed.revision)
    failed = submitted.moved_to(State.FAILED, NOW + 2)
    ledger.update(failed, expected_revision=submitted.revision)
    # WHEN the caller writes its own copy (the alert flush marking the row alerted)
    marked = failed.moved_to(State.FAILED, NOW + 3, alerted=True)
    ledger.update(marked, expected_revision=failed.revision)
    # THEN the stored row still owes exactly one "failed" event
    stored = ledger.get(claimed.claim_id)
    assert stored is not None
    assert list(owed(stored)) == ["failed"]
    assert stored.alerted


def test_recording_a_publish_does_not_move_the_row_in_time() -> None:
    # alert windows group failures by updated_at: publishing must not split a group
    stored = with_outbox(row(state=State.FAILED, updated_at=NOW + 7), None)
    assert after_publish(stored, {"failed"}, NOW + 99).updated_at == NOW + 7


def test_an_unverifiable_row_reaches_its_own_outcome_and_only_image_notices_reach_one() -> None:
    # a cross-account row nobody can read is final too: a consumer waiting on that image hears of it
    assert reached(row(state=State.UNVERIFIABLE), ()) == ["unverifiable"]
    # drift notices about one image are outcomes; those about the pipeline (events missed) are alerts only
    assert reached(row(state=State.FAILED, extra={"notice": "conflict"}), ()) == ["conflict"]
    assert owed(with_outbox(row(state=State.FAILED, extra={"notice": "events_missed"}), None)) == {}


class CountingLedger(MemoryLedger):
    """A memory ledger that counts calls to its batched and single-row methods."""

    def __init__(self) -> None:
        super().__init__()
        self.made: list[str] = []

    def update(self, entry: LedgerEntry, *, expected_revision: int) -> None:
        self.made.append("update")
        super().update(entry, expected_revision=expected_revision)

    def get(self, claim_id: str) -> LedgerEntry | None:
        self.made.append("get")
        return super().get(claim_id)

    def update_many(
        self, updates: Sequence[tuple[LedgerEntry, int]], *, lazy: bool = False
    ) -> list[RowResult]:
        self.made.append(f"update_many(lazy={lazy})")
        return super().update_many(updates, lazy=lazy)

    def get_many(self, claim_ids: Sequence[str]) -> dict[str, LedgerEntry]:
        self.made.append("get_many")
        return super().get_many(claim_ids)

    def claim_many(self, entries: Sequence[LedgerEntry]) -> list[RowResult]:
        self.made.append("claim_many")
        return super().claim_many(entries)


def test_the_outbox_ledger_batches_through_the_wrapped_ledger_and_fills_every_outbox() -> None:
    # GIVEN three claims made in one batch through the outbox ledger, over a ledger counting its calls
    inner = CountingLedger()
    ledger = OutboxLedger(inner)
    claims = [row(claim_id=f"{n:032x}", state=State.SUCCEEDED) for n in range(3)]
    assert all(r.ok for r in ledger.claim_many(claims))
    # WHEN one batch verifies the first, fails the second (tasks done), and the third loses its race
    moves = [
        (claims[0].moved_to(State.VERIFIED, NOW + 1), claims[0].revision),
        (claims[1].moved_to(State.FAILED, NOW + 2), claims[1].revision),
        (claims[2].moved_to(State.FAILED, NOW + 3), claims[2].revision + 7),
    ]
    results = ledger.update_many(moves, lazy=True)
    # THEN the wrapped ledger saw batched calls only: no single-row write, and one batched read for the row
    # whose expected revision it had not seen (as ``update`` reads on a miss)
    assert inner.made == ["claim_many", "get_many", "update_many(lazy=True)"]
    assert [r.status for r in results] == ["ok", "ok", "conflict"]
    # AND each written row owes exactly its outcome, as a single update would have made it owe
    stored = ledger.get_many([c.claim_id for c in claims])
    assert owed(stored[claims[0].claim_id]) == {"verified": NOW + 1}
    assert owed(stored[claims[1].claim_id]) == {"failed": NOW + 2}
    assert owed(stored[claims[2].claim_id]) == {}


def test_the_outbox_ledger_reads_rows_it_missed_in_one_batch_and_keeps_their_outbox() -> None:
    # GIVEN two rows that owe events, written by another instance (this wrapper never saw them)
    inner = CountingLedger()
    other = OutboxLedger(inner)
    claims = [row(claim_id=f"{n:032x}") for n in range(2)]
    other.claim_many(claims)
    other.update_many([(c.moved_to(State.FAILED, NOW + 1), c.revision) for c in claims])
    stale = [inner.get(c.claim_id) for c in claims]
    # WHEN this instance writes copies that lack the outbox (the alert flush marking them alerted)
    ledger = OutboxLedger(inner)
    inner.made.clear()
    copies = [replace(r, extra={}) for r in stale if r is not None]
    ledger.update_many([(c.moved_to(State.FAILED, NOW + 2, alerted=True), c.revision) for c in copies])
    # THEN one batched read found what they owe, and they still owe exactly "failed"
    assert inner.made == ["get_many", "update_many(lazy=False)"]
    for c in claims:
        stored = inner.get(c.claim_id)
        assert stored is not None
        assert list(owed(stored)) == ["failed"]
        assert stored.alerted


def test_the_outbox_ledger_passes_the_events_marks_through() -> None:
    ledger = OutboxLedger(MemoryLedger())
    ledger.note_events("cri-src", NOW)
    ledger.flush_event_notes()
    assert ledger.events_seen() == {"cri-src": NOW}
