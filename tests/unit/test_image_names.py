"""Namespace and repository names follow the distribution reference grammar (one path component)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acrsync.domain.images import NAME_RE

# distribution/reference/regexp.go: path-component = alpha-numeric (separator alpha-numeric)*,
# separator = [_.] | __ | [-]+ ; alpha-numeric = [a-z0-9]+
_GRAMMAR_COMPONENT = st.from_regex(r"\A[a-z0-9]{1,5}(?:(?:[._]|__|-{1,3})[a-z0-9]{1,5}){0,4}\Z")


@pytest.mark.parametrize(
    "name",
    ["a", "team-a", "a--b", "a__b", "a.b", "a_b", "api-v2.internal", "0", "x" * 64],
)
def test_names_of_the_grammar_are_accepted(name: str) -> None:
    assert NAME_RE.match(name)


@pytest.mark.parametrize(
    "name",
    ["a._b", "a___b", "a..b", "a.-b", "-a", "a-", "_a", "a_", ".a", "A", "a/b", "", "x" * 65, "a b"],
)
def test_names_outside_the_grammar_are_refused(name: str) -> None:
    assert not NAME_RE.match(name)


@given(_GRAMMAR_COMPONENT)
def test_every_short_grammar_component_is_a_name(name: str) -> None:
    assert NAME_RE.match(name)
