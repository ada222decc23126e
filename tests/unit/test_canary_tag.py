"""The canary tag: unique per run even within one second, still selected by ``glob:acrsync-canary-*``."""

from __future__ import annotations

import re

from acrsync.domain.patterns import compile_pattern
from acrsync.service.canary import CANARY_PREFIX, canary_tag


def test_given_many_canaries_in_one_second_when_tagged_then_the_tags_differ_and_rules_select_them() -> None:
    # GIVEN 200 canaries started within the same unix second
    tags = [canary_tag(1_764_500_000.9) for _ in range(200)]
    # THEN each is acrsync-canary-<seconds>-<4 hex> (a valid tag: <= 128 chars, [\w][\w.-]*)
    assert all(re.fullmatch(r"acrsync-canary-1764500000-[0-9a-f]{4}", t) for t in tags)
    # AND they differ (4 hex digits: 65,536 values; 200 draws repeat a few at most, never most of them)
    assert len(set(tags)) > 190
    # AND the rule pattern the README tells users to write still selects every one
    matcher = compile_pattern(f"glob:{CANARY_PREFIX}*")
    assert all(matcher.matches(t) for t in tags)
