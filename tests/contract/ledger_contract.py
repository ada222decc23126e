"""The Ledger contract: every backend (memory, SQLite, Tablestore) must pass these, unchanged.

Subclass ``LedgerContract`` and provide a ``ledger`` fixture returning a fresh, empty ledger.
"""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from acrsync.domain.ledger import ALERT_LANE, LedgerEntry, State
from acrsync.errors import AlreadyClaimed, ConflictError
from acrsync.ports import Ledger
from tests.builders import ledger_entry


def make_entry(claim_id: str = "c0ffee", **changes: object) -> LedgerEntry:
    return ledger_entry(claim_id, at=1000.0, **changes)


class LedgerContract:
    def test_claim_then_get_returns_the_same_entry(self, ledger: Ledger) -> None:
        # GIVEN an entry with every kind of column set
        entry = make_entry(override=True, priority=5, attempts=2, extra={"k": "v"}, last_error="x" * 500)
        # WHEN it is claimed and read back
        ledger.claim(entry)
        # THEN it round-trips exactly
        assert ledger.get(entry.claim_id) == entry

    def test_get_of_an_unknown_key_is_none(self, ledger: Ledger) -> None:
        assert ledger.get("nope") is None

    def test_second_claim_of_one_key_is_refused(self, ledger: Ledger) -> None:
        ledger.claim(make_entry())
        with pytest.raises(AlreadyClaimed):
            ledger.claim(make_entry(rule="other"))
        stored = ledger.get("c0ffee")
        assert stored is not None
        assert stored.rule == "releases"

    def test_concurrent_claims_of_one_key_have_exactly_one_winner(self, ledger: Ledger) -> None:
        # GIVEN 12 workers racing for one key
        wins: list[int] = []
        losses: list[int] = []
        barrier = threading.Barrier(12)

        def worker(i: int) -> None:
            barrier.wait()
            try:
                ledger.claim(make_entry(rule=f"r{i}"))
                wins.append(i)
            except AlreadyClaimed:
                losses.append(i)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # THEN exactly one won and the row is the winner's
        assert len(wins) == 1
        assert len(losses) == 11
        stored = ledger.get("c0ffee")
        assert stored is not None
        assert stored.rule == f"r{wins[0]}"

    def test_update_with_the_current_revision_succeeds(self, ledger: Ledger) -> None:
        entry = make_entry()
        ledger.claim(entry)
        moved = entry.moved_to(State.SUBMITTED, 1001.0, task_id="rst-1")
        ledger.update(moved, expected_revision=entry.revision)
        assert ledger.get(entry.claim_id) == moved

    def test_update_from_a_stale_revision_is_a_clean_conflict(self, ledger: Ledger) -> None:
        # GIVEN two writers that read the same revision
        entry = make_entry()
        ledger.claim(entry)
        first = entry.moved_to(State.SUBMITTED, 1001.0, task_id="rst-1")
        second = entry.moved_to(State.FAILED, 1001.0, last_error="boom")
        ledger.update(first, expected_revision=entry.revision)
        # WHEN the loser writes
        with pytest.raises(ConflictError):
            ledger.update(second, expected_revision=entry.revision)
        # THEN the winner's write stands
        assert ledger.get(entry.claim_id) == first

    def test_update_of_a_missing_row_is_a_conflict(self, ledger: Ledger) -> None:
        with pytest.raises(ConflictError):
            ledger.update(make_entry(revision=2), expected_revision=1)

    def test_find_by_task_returns_the_row_with_that_task_id(self, ledger: Ledger) -> None:
        entry = make_entry()
        ledger.claim(entry)
        ledger.update(entry.moved_to(State.SUBMITTED, 1001.0, task_id="rst-42"), expected_revision=1)
        found = ledger.find_by_task("rst-42")
        assert found is not None
        assert found.claim_id == entry.claim_id
        assert ledger.find_by_task("rst-missing") is None

    def test_find_by_task_follows_a_resubmission_to_the_new_task(self, ledger: Ledger) -> None:
        entry = make_entry()
        ledger.claim(entry)
        submitted = entry.moved_to(State.SUBMITTED, 1001.0, task_id="rst-1")
        ledger.update(submitted, expected_revision=1)
        retrying = submitted.moved_to(State.RETRYING, 1002.0)
        ledger.update(retrying, expected_revision=2)
        resubmitted = retrying.moved_to(State.SUBMITTED, 1003.0, task_id="rst-2")
        ledger.update(resubmitted, expected_revision=3)
        found = ledger.find_by_task("rst-2")
        assert found is not None
        assert found.task_id == "rst-2"
        assert ledger.find_by_task("rst-1") is None

    def test_list_open_returns_only_open_rows_least_recently_checked_first(self, ledger: Ledger) -> None:
        # GIVEN open rows with different check times and one finished (and alerted) row
        ledger.claim(make_entry("a", next_check_at=30.0))
        ledger.claim(make_entry("b", next_check_at=10.0))
        ledger.claim(make_entry("c", next_check_at=20.0))
        done = make_entry("d", next_check_at=5.0)
        ledger.claim(done)
        ledger.update(done.moved_to(State.FAILED, 6.0, alerted=True), expected_revision=1)
        # WHEN listed
        rows = ledger.list_open(limit=10)
        # THEN finished rows are absent and order is by next_check_at
        assert [r.claim_id for r in rows] == ["b", "c", "a"]
        assert [r.claim_id for r in ledger.list_open(limit=2)] == ["b", "c"]
        assert [r.claim_id for r in ledger.list_open(limit=10, due_before=20.0)] == ["b", "c"]

    def test_list_open_includes_rows_that_still_owe_an_alert(self, ledger: Ledger) -> None:
        # GIVEN a failure not yet alerted, a verified row that owes a "resolved" message, and a quiet one
        failed = make_entry("failed")
        ledger.claim(failed)
        ledger.update(failed.moved_to(State.FAILED, 2.0), expected_revision=1)
        for name, alerted in (("resolved", True), ("quiet", False)):
            row = make_entry(name)
            ledger.claim(row)
            row = row.moved_to(State.SUBMITTED, 2.0)
            ledger.update(row, expected_revision=1)
            row2 = row.moved_to(State.SUCCEEDED, 3.0)
            ledger.update(row2, expected_revision=2)
            ledger.update(row2.moved_to(State.VERIFIED, 4.0, alerted=alerted), expected_revision=3)
        # THEN the watcher sees exactly the two that owe a message
        assert sorted(r.claim_id for r in ledger.list_open(limit=10)) == ["failed", "resolved"]
        # AND once the failure alert is recorded, the row leaves the watch list
        current = ledger.get("failed")
        assert current is not None
        ledger.update(current.moved_to(State.FAILED, 5.0, alerted=True), expected_revision=current.revision)
        assert [r.claim_id for r in ledger.list_open(limit=10)] == ["resolved"]

    def test_rows_owing_an_alert_wait_in_their_own_lane(self, ledger: Ledger) -> None:
        # GIVEN a live task due long ago and a failure that owes its alert
        live = make_entry("live", next_check_at=50.0)
        ledger.claim(live)
        failed = make_entry("failed", next_check_at=60.0)
        ledger.claim(failed)
        ledger.update(failed.moved_to(State.FAILED, 70.0), expected_revision=1)
        # THEN the sweep's read (after the lane) sees only the live task, the alert flush's only the failure
        assert [r.claim_id for r in ledger.list_open(limit=10, due_before=100.0, due_after=ALERT_LANE)] == [
            "live"
        ]
        assert [r.claim_id for r in ledger.list_open(limit=10, due_before=ALERT_LANE)] == ["failed"]
        # AND once alerted the failure leaves both
        row = ledger.get("failed")
        assert row is not None
        ledger.update(row.moved_to(State.FAILED, 80.0, alerted=True), expected_revision=row.revision)
        assert [r.claim_id for r in ledger.list_open(limit=10)] == ["live"]

    def test_list_open_sees_a_row_move_when_its_check_time_changes(self, ledger: Ledger) -> None:
        entry = make_entry("a", next_check_at=10.0)
        ledger.claim(entry)
        ledger.claim(make_entry("b", next_check_at=20.0))
        ledger.update(entry.moved_to(State.SUBMITTED, 11.0, next_check_at=30.0), expected_revision=1)
        assert [r.claim_id for r in ledger.list_open(limit=10)] == ["b", "a"]

    def test_scan_filters_by_creation_time_and_state(self, ledger: Ledger) -> None:
        ledger.claim(make_entry("old", created_at=100.0))
        ledger.claim(make_entry("new", created_at=200.0))
        failed = make_entry("bad", created_at=300.0)
        ledger.claim(failed)
        ledger.update(failed.moved_to(State.FAILED, 301.0), expected_revision=1)
        assert [e.claim_id for e in ledger.scan()] == ["old", "new", "bad"]
        assert [e.claim_id for e in ledger.scan(since=150.0)] == ["new", "bad"]
        assert [e.claim_id for e in ledger.scan(states=frozenset({State.FAILED}))] == ["bad"]

    def test_a_row_owing_an_outcome_event_waits_in_the_alert_lane_until_published(
        self, ledger: Ledger
    ) -> None:
        # GIVEN a verified row whose outbox owes its "verified" event (domain.outcomes; ACRSYNC_EVENT_BUS set)
        entry = make_entry(
            "e0", state=State.VERIFIED, next_check_at=ALERT_LANE, extra={"outbox": "verified@1000.0"}
        )
        ledger.claim(entry)
        # THEN the publisher finds it in the alert lane, and the sweep does not
        assert [r.claim_id for r in ledger.list_open(limit=10, due_before=ALERT_LANE)] == ["e0"]
        assert ledger.list_open(limit=10, due_after=ALERT_LANE) == []
        # WHEN its event is recorded as published THEN nothing is left to watch
        done = replace(entry, extra={"published": "verified"}, revision=2, next_check_at=1001.0)
        ledger.update(done, expected_revision=1)
        assert ledger.list_open(limit=10) == []
