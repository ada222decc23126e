"""The RuleStore contract: every backend (memory, SQLite, Tablestore) must pass these, unchanged.

Subclass ``RuleStoreContract`` and provide a ``store`` fixture returning a fresh, empty store.
Order semantics every backend keeps: after ``write``, the upserted rules come first in the order given,
then the untouched rules in their previous order (the applied document is authoritative for order).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from acrsync.errors import ConflictError
from acrsync.ports import RuleStore

CHANNELS = {
    "ops": {"dingtalk": {"webhook_env": "ACRSYNC_DINGTALK_WEBHOOK", "secret_env": ""}, "mention_mobiles": []}
}


def make_rule(name: str, *, tag: str = "{tag}", enabled: bool = True) -> dict[str, Any]:
    return {
        "name": name,
        "enabled": enabled,
        "alert": "ops",
        "source": {"instance": "cri-src1", "repositories": ["team-a/*"], "exclude_repositories": []},
        "tags": {"include": ["semver:^1"], "exclude": ["latest"], "include_prerelease": False},
        "destinations": [
            {
                "instance": "cri-dst1",
                "region": "cn-shanghai",
                "namespace": "{namespace}",
                "repository": "{repo}",
                "tag": tag,
                "override": False,
                "priority": 3,
                "account": "",
            }
        ],
    }


def names(store: RuleStore) -> list[str]:
    return [str(r["name"]) for r in store.read().rules]


class RuleStoreContract:
    """Behaviour every RuleStore must have."""

    def test_empty_store_has_version_zero_and_no_rules(self, store: RuleStore) -> None:
        stored = store.read()
        assert (stored.version, stored.rules, dict(stored.channels)) == (0, (), {})
        assert store.version() == 0

    def test_write_stores_rules_in_order_with_channels_and_time(self, store: RuleStore) -> None:
        version = store.write(
            channels=CHANNELS,
            upsert=[make_rule("b"), make_rule("a")],
            delete=[],
            expected_version=0,
            now=1234.5,
        )
        stored = store.read()
        assert version == 1 == stored.version == store.version()
        assert names(store) == ["b", "a"]
        assert stored.updated_at == 1234.5
        assert dict(stored.channels) == CHANNELS
        assert dict(stored.rules[0]) == make_rule("b")  # round-trips exactly (JSON-able values)

    def test_upsert_replaces_by_name_and_delete_removes(self, store: RuleStore) -> None:
        store.write(
            channels={}, upsert=[make_rule("a"), make_rule("b")], delete=[], expected_version=0, now=1.0
        )
        store.write(
            channels={}, upsert=[make_rule("b", tag="v-{tag}")], delete=["a"], expected_version=1, now=2.0
        )
        stored = store.read()
        assert names(store) == ["b"]
        assert stored.rules[0]["destinations"][0]["tag"] == "v-{tag}"

    def test_upserted_rules_come_first_then_untouched_ones(self, store: RuleStore) -> None:
        store.write(channels={}, upsert=[make_rule(n) for n in "abc"], delete=[], expected_version=0, now=1.0)
        store.write(
            channels={}, upsert=[make_rule("c"), make_rule("d")], delete=[], expected_version=1, now=2.0
        )
        assert names(store) == ["c", "d", "a", "b"]

    def test_stale_expected_version_raises_conflict_and_changes_nothing(self, store: RuleStore) -> None:
        store.write(channels=CHANNELS, upsert=[make_rule("a")], delete=[], expected_version=0, now=1.0)
        with pytest.raises(ConflictError):
            store.write(channels={}, upsert=[make_rule("x")], delete=["a"], expected_version=0, now=2.0)
        stored = store.read()
        assert (stored.version, names(store), dict(stored.channels)) == (1, ["a"], CHANNELS)

    def test_reading_does_not_expose_the_store_to_mutation(self, store: RuleStore) -> None:
        store.write(channels={}, upsert=[make_rule("a")], delete=[], expected_version=0, now=1.0)
        first = store.read()
        first.rules[0]["destinations"][0]["tag"] = "tampered"
        assert store.read().rules[0]["destinations"][0]["tag"] == "{tag}"

    def test_concurrent_writers_with_the_same_expected_version_exactly_one_wins(
        self, store: RuleStore
    ) -> None:
        # GIVEN eight threads that all read version 0
        outcomes: list[str] = []
        lock = threading.Lock()
        barrier = threading.Barrier(8)

        def writer(i: int) -> None:
            barrier.wait()
            try:
                store.write(
                    channels={}, upsert=[make_rule(f"r{i}")], delete=[], expected_version=0, now=float(i)
                )
                result = "won"
            except ConflictError:
                result = "lost"
            with lock:
                outcomes.append(result)

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # THEN one write landed, seven conflicted, and the store holds the winner's rule alone
        assert sorted(outcomes) == ["lost"] * 7 + ["won"]
        assert store.version() == 1
        assert len(names(store)) == 1
