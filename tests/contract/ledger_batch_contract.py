"""The batched Ledger operations' contract (``claim_many``, ``get_many``, ``update_many``), every backend.

Subclass ``LedgerBatchContract`` with a ``ledger`` fixture. Each row of a batch keeps its own condition and
gets its own result, in input order; one row's failed condition never changes another row's outcome.
Backend-specific partial failures (one row throttled) live with the backend's tests.
"""

from __future__ import annotations

import threading

import pytest

from acrsync.domain.ledger import ALERT_LANE, State
from acrsync.ports import Ledger
from tests.contract.ledger_contract import make_entry


class LedgerBatchContract:
    def test_claim_many_inserts_every_free_key_and_reports_each(self, ledger: Ledger) -> None:
        # GIVEN one key already claimed
        ledger.claim(make_entry("b", rule="first"))
        # WHEN three claims arrive in one batch, one of them for the taken key
        results = ledger.claim_many([make_entry("a"), make_entry("b", rule="second"), make_entry("c")])
        # THEN each row has its own result, in order, and the taken key kept its first owner
        assert [(r.claim_id, r.status) for r in results] == [("a", "ok"), ("b", "exists"), ("c", "ok")]
        row_b = ledger.get("b")
        assert row_b is not None
        assert row_b.rule == "first"
        assert set(ledger.get_many(["a", "b", "c"])) == {"a", "b", "c"}

    def test_claim_many_of_nothing_is_nothing(self, ledger: Ledger) -> None:
        assert ledger.claim_many([]) == []
        assert ledger.get_many([]) == {}
        assert ledger.update_many([]) == []

    def test_claimed_rows_are_open_and_findable(self, ledger: Ledger) -> None:
        # GIVEN rows claimed in a batch
        ledger.claim_many([make_entry("a", next_check_at=20.0), make_entry("b", next_check_at=10.0)])
        # THEN the watcher sees them like single claims
        assert [r.claim_id for r in ledger.list_open(limit=10, due_after=ALERT_LANE)] == ["b", "a"]

    def test_concurrent_batches_for_the_same_keys_have_one_winner_per_key(self, ledger: Ledger) -> None:
        # GIVEN six workers each claiming the same three keys in one batch
        results: list[list[str]] = []
        barrier = threading.Barrier(6)

        def worker(i: int) -> None:
            barrier.wait()
            out = ledger.claim_many([make_entry(k, rule=f"r{i}") for k in ("x", "y", "z")])
            results.append([r.status for r in out])

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # THEN every key was won exactly once
        for column in range(3):
            assert sorted(r[column] for r in results) == ["exists"] * 5 + ["ok"]

    def test_get_many_returns_the_rows_that_exist(self, ledger: Ledger) -> None:
        ledger.claim_many([make_entry("a"), make_entry("b")])
        found = ledger.get_many(["a", "missing", "b", "a"])
        assert sorted(found) == ["a", "b"]
        assert found["a"] == make_entry("a")

    def test_update_many_writes_each_row_on_its_own_revision(self, ledger: Ledger) -> None:
        # GIVEN three claimed rows, one of which another writer moves first
        a, b, c = make_entry("a"), make_entry("b"), make_entry("c")
        ledger.claim_many([a, b, c])
        ledger.update(b.moved_to(State.FAILED, 1001.0, last_error="other writer"), expected_revision=1)
        # WHEN a batch records a task id on all three from the revision it read
        moved = [e.moved_to(State.SUBMITTED, 1002.0, task_id=f"rst-{e.claim_id}") for e in (a, b, c)]
        results = ledger.update_many([(e, 1) for e in moved])
        # THEN the moved row is a conflict, the others are written, and the conflict wrote nothing
        assert [(r.claim_id, r.status) for r in results] == [("a", "ok"), ("b", "conflict"), ("c", "ok")]
        assert ledger.get("a") == moved[0]
        row_b = ledger.get("b")
        assert row_b is not None
        assert row_b.state is State.FAILED
        # AND the recorded task ids are findable
        found = ledger.find_by_task("rst-c")
        assert found is not None
        assert found.claim_id == "c"
        assert ledger.find_by_task("rst-b") is None

    def test_update_many_of_a_missing_row_is_a_conflict(self, ledger: Ledger) -> None:
        results = ledger.update_many([(make_entry("ghost", revision=2), 1)])
        assert [r.status for r in results] == ["conflict"]
        assert ledger.get("ghost") is None

    @pytest.mark.parametrize("lazy", [False, True])
    def test_rows_closed_in_a_batch_leave_the_watch_list(self, ledger: Ledger, lazy: bool) -> None:
        # GIVEN two submitted rows
        rows = [make_entry(k).moved_to(State.SUBMITTED, 1.0, task_id=f"rst-{k}") for k in ("a", "b")]
        ledger.claim_many(rows)
        # WHEN one is verified and the other pushed to a later check in one batch (lazy or not)
        verified = rows[0].moved_to(State.VERIFIED, 2.0)
        later = rows[1].moved_to(State.SUBMITTED, 2.0, next_check_at=500.0)
        results = ledger.update_many([(verified, 2), (later, 2)], lazy=lazy)
        assert [r.status for r in results] == ["ok", "ok"]
        # THEN only the pushed-back row is open, at its new time; nothing is due before it
        open_rows = ledger.list_open(limit=10)
        assert [(r.claim_id, r.next_check_at) for r in open_rows] == [("b", 500.0)]
        assert ledger.list_open(limit=10, due_before=100.0) == []

    def test_claims_left_by_a_crash_before_the_creates_stay_open_and_cannot_be_claimed_again(
        self, ledger: Ledger
    ) -> None:
        # GIVEN a batch of claims whose process died before any CreateRepoSyncTask (nothing else written)
        ledger.claim_many([make_entry("a", next_check_at=30.0), make_entry("b", next_check_at=30.0)])
        # THEN the rows are there, without task ids, on the watch list once due, for the sweep to reconcile
        found = ledger.get_many(["a", "b"])
        assert {(e.state, e.task_id) for e in found.values()} == {(State.CLAIMED, "")}
        assert [r.claim_id for r in ledger.list_open(limit=10, due_before=30.0)] == ["a", "b"]
        # AND a redelivery cannot claim them again
        assert [r.status for r in ledger.claim_many([make_entry("a"), make_entry("b")])] == ["exists"] * 2

    def test_event_marks_are_kept_per_instance_and_are_never_open_rows(self, ledger: Ledger) -> None:
        # GIVEN completion events noted for two source instances (and a third noted twice)
        ledger.note_events("cri-a", 100.0)
        ledger.note_events("cri-b", 200.0)
        ledger.claim_many([make_entry("row", next_check_at=50.0)])
        # THEN a backend that keeps marks returns them by instance; none ever shows up as a ledger row
        seen = ledger.events_seen()
        assert seen in ({}, {"cri-a": 100.0, "cri-b": 200.0})
        assert [r.claim_id for r in ledger.list_open(limit=10, due_before=1000.0)] == ["row"]
        assert [r.claim_id for r in ledger.list_open(limit=10)] == ["row"]
