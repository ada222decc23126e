"""The outbox rules (domain.outcomes) and the OutboxLedger that applies them to every write."""

from __future__ import annotations

from dataclasses import replace

from acrsync.adapters.memory import MemoryLedger
from acrsync.domain.ledger import ALERT_LANE, LedgerEntry, State, needs_watch
from acrsync.domain.outcomes import after_publish, owed, published, reached, with_outbox
from acrsync.service.outcomes import OutboxLedger

NOW = 1_800_000_000.0


def row(**changes: object) -> LedgerEntry:
    base = LedgerEntry(
        claim_id="a" * 32,
        rule="r",
        source_instance="cri-src",
        source_region="cn-hangzhou",
        source_namespace="ns",
        source_repo="repo",
        source_tag="v1",
        digest="sha256:" + "0" * 64,
        dest_instance="cri-dst",
        dest_region="cn-shanghai",
        dest_namespace="ns",
        dest_repo="repo",
        dest_tag="v1",
        created_at=NOW,
        updated_at=NOW,
        next_check_at=NOW,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


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
