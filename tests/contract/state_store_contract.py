"""The ``StateStore`` contract (the reconciler's cursor): subclass per backend and provide ``state``."""

from __future__ import annotations

import threading

import pytest

from acrsync.errors import ConflictError
from acrsync.ports import StateStore


class StateStoreContract:
    """Every backend: absent reads empty, writes compare-and-set, documents round-trip exactly."""

    def test_given_nothing_stored_when_read_then_empty_document_at_revision_zero(
        self, state: StateStore
    ) -> None:
        assert state.read("cursor") == ({}, 0)

    def test_given_a_written_document_when_read_then_it_round_trips_with_revision_one(
        self, state: StateStore
    ) -> None:
        doc = {"pass_id": "p1", "position": {"instance": "cri-a", "index": 3}, "counts": {"missing": 2}}
        assert state.write("cursor", doc, expected_revision=0) == 1
        assert state.read("cursor") == (doc, 1)

    def test_given_a_stale_revision_when_written_then_conflict_and_the_stored_document_is_kept(
        self, state: StateStore
    ) -> None:
        state.write("cursor", {"n": 1}, expected_revision=0)
        state.write("cursor", {"n": 2}, expected_revision=1)
        with pytest.raises(ConflictError):
            state.write("cursor", {"n": 3}, expected_revision=1)
        with pytest.raises(ConflictError):
            state.write("cursor", {"n": 3}, expected_revision=0)
        assert state.read("cursor") == ({"n": 2}, 2)

    def test_given_two_keys_when_written_then_they_are_independent(self, state: StateStore) -> None:
        state.write("cursor", {"a": 1}, expected_revision=0)
        state.write("last_pass", {"b": 2}, expected_revision=0)
        assert state.read("cursor") == ({"a": 1}, 1)
        assert state.read("last_pass") == ({"b": 2}, 1)

    def test_given_racing_writers_on_one_revision_when_they_write_then_exactly_one_wins(
        self, state: StateStore
    ) -> None:
        state.write("cursor", {"n": 0}, expected_revision=0)
        wins: list[int] = []

        def attempt(n: int) -> None:
            try:
                state.write("cursor", {"n": n}, expected_revision=1)
                wins.append(n)
            except ConflictError:
                pass

        threads = [threading.Thread(target=attempt, args=(n,)) for n in range(1, 6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(wins) == 1
        assert state.read("cursor") == ({"n": wins[0]}, 2)
