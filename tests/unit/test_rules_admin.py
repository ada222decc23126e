"""``rules apply`` planning and writing, the diff, and the compiled-rules cache, over the in-memory store."""

from __future__ import annotations

from typing import Any

import pytest

from acrsync.adapters.memory_rules import MemoryRuleStore
from acrsync.domain.rules import diff, explain, validate_document
from acrsync.domain.rules_schema import RulesDocument
from acrsync.errors import ConflictError, RuleConfigError
from acrsync.ports import RuleStore, StoredRules
from acrsync.service.rules_admin import (
    apply,
    format_diff,
    format_explain,
    plan_apply,
)
from acrsync.service.rules_cache import CompiledRulesCache
from tests.unit.rules_fixtures import document, image, rule


def doc(*rules: dict[str, object]) -> RulesDocument:
    return validate_document(document(*rules))


class CountingStore(MemoryRuleStore):
    """The memory store, counting reads (a fake, not a mock)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.version_calls = 0

    def read(self) -> StoredRules:
        self.reads += 1
        return super().read()

    def version(self) -> int:
        self.version_calls += 1
        return super().version()


class Ticker:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_first_apply_adds_every_rule_and_bumps_the_version() -> None:
    store = MemoryRuleStore()
    result = apply(store, doc(rule("a"), rule("b")), prune=False, dry_run=False, now=100.0)
    assert (result.written, result.version, result.diff.added) == (True, 1, ("a", "b"))
    assert [r["name"] for r in store.read().rules] == ["a", "b"]
    assert store.read().updated_at == 100.0


def test_reapplying_the_same_document_writes_nothing() -> None:
    store = MemoryRuleStore()
    apply(store, doc(rule("a")), prune=False, dry_run=False, now=1.0)
    result = apply(store, doc(rule("a")), prune=False, dry_run=False, now=2.0)
    assert (result.written, result.version, result.diff.unchanged) == (False, 1, ("a",))


def test_dry_run_shows_the_diff_and_writes_nothing() -> None:
    store = MemoryRuleStore()
    result = apply(store, doc(rule("a")), prune=False, dry_run=True, now=1.0)
    assert result.diff.added == ("a",)
    assert (result.written, store.version()) == (False, 0)


def test_without_prune_missing_rules_are_kept_and_with_prune_removed() -> None:
    store = MemoryRuleStore()
    apply(store, doc(rule("a"), rule("b")), prune=False, dry_run=False, now=1.0)
    new = doc(rule("b", enabled=False), rule("c"))
    kept = plan_apply(store, new, prune=False)
    assert (kept.added, kept.changed, kept.removed, kept.kept) == (("c",), ("b",), (), ("a",))
    result = apply(store, new, prune=True, dry_run=False, now=2.0)
    assert result.diff.removed == ("a",)
    assert [r["name"] for r in store.read().rules] == ["b", "c"]


def test_invalid_document_writes_nothing() -> None:
    store = MemoryRuleStore()
    bad = RulesDocument(version=1, channels={}, rules=({"name": "Bad!"},))
    with pytest.raises(RuleConfigError):
        apply(store, bad, prune=False, dry_run=False, now=1.0)
    assert store.version() == 0


def test_concurrent_apply_loses_with_conflict_and_writes_nothing() -> None:
    # GIVEN a store that someone else writes to between our read and our write
    class RacingStore(MemoryRuleStore):
        def write(self, **kwargs: Any) -> int:
            MemoryRuleStore.write(self, channels={}, upsert=[], delete=[], expected_version=0, now=0.0)
            return super().write(**kwargs)

    store = RacingStore()
    with pytest.raises(ConflictError):
        apply(store, doc(rule("a")), prune=False, dry_run=False, now=1.0)
    assert store.read().rules == ()


def test_diff_detects_reordering() -> None:
    a, b = doc(rule("a"), rule("b")).rules
    assert diff([a, b], [b, a], prune=True).reordered is True
    assert diff([a, b], [a, b], prune=True).has_changes is False


def test_cache_reads_rules_once_and_versions_at_most_once_per_ttl() -> None:
    # GIVEN applied rules and a cache with a 30 s ttl
    store = CountingStore()
    apply(store, doc(rule("a")), prune=False, dry_run=False, now=1.0)
    clock = Ticker()
    cache = CompiledRulesCache(store, ttl_s=30.0, monotonic=clock)
    reads_before = store.reads
    # WHEN 1,000 events arrive within 10 s
    for i in range(1000):
        clock.t = i * 0.01
        cache()
    # THEN one version check and one full read: far under 0.05 reads per event
    assert store.reads - reads_before == 1
    assert store.version_calls == 1
    assert (store.version_calls + store.reads - reads_before) / 1000 < 0.05


def test_cache_recompiles_after_a_change_once_the_ttl_passes() -> None:
    store: RuleStore = MemoryRuleStore()
    apply(store, doc(rule("a")), prune=False, dry_run=False, now=1.0)
    clock = Ticker()
    cache = CompiledRulesCache(store, ttl_s=30.0, monotonic=clock)
    first = cache()
    apply(store, doc(rule("b")), prune=True, dry_run=False, now=2.0)
    clock.t = 29.0
    assert cache() is first  # still within the ttl: no store call at all
    clock.t = 31.0
    assert [r.name for r in cache().rules] == ["b"]


def test_format_diff_and_explain_are_plain_text() -> None:
    store = MemoryRuleStore()
    apply(store, doc(rule("a"), rule("b")), prune=False, dry_run=False, now=1.0)
    text = format_diff(plan_apply(store, doc(rule("b", enabled=False), rule("c")), prune=False))
    assert text.splitlines() == [
        "+ c",
        "~ b",
        "= a (kept: not in the file; use --prune to remove)",
        "order changed (rule order decides which rule wins a shared destination)",
        "1 to add, 1 to change, 0 to remove, 0 unchanged",
    ]
    cache = CompiledRulesCache(store)
    out = format_explain(explain(cache(), image()))
    assert out.endswith("1 sync task(s) would be created")
    assert "b: MATCH" in out
