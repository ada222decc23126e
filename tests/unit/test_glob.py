"""Globs on RE2: the documented semantics, linear time on every Python, and agreement with wcmatch."""

from __future__ import annotations

import contextlib
import sys
import time

import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from acrsync.domain.glob import GlobError, expand_braces, translate


def matches(pattern: str, text: str) -> bool:
    return re2.compile(translate(pattern)).fullmatch(text) is not None


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("a/**/b", "a/b", True),  # a whole-segment ** may be zero segments
        ("a/**/b", "a/x/y/b", True),
        ("a/**/b", "a/xb", False),
        ("**/web", "web", True),
        ("team-a/**", "team-a", False),  # a trailing /** needs something below it
        ("[!a]*", "b/x", False),  # a class never matches /
        ("[!a]*", "bx", True),
        ("[^a]*", "ax", False),
        ("[]a]", "]", True),  # ] first in a class is literal
        ("[a-c]x", "bx", True),
        ("x{a,b{c,d}}", "xbd", True),  # nested braces
        ("x{a,b{c,d}}", "xb", False),
        ("x{a}", "x{a}", True),  # a brace group without a comma is literal
        ("x{a,b", "x{a,b", True),  # an unclosed brace is literal
        ("\\*", "*", True),  # escapes
        ("\\*", "a", False),
        ("a[b", "a[b", True),  # an unclosed class is literal
        ("v1.?", "v1.2", True),  # . is literal
        ("v1.?", "v1x2", False),
    ],
)
def test_glob_semantics(pattern: str, text: str, expected: bool) -> None:
    assert matches(pattern, text) is expected


def test_brace_explosions_are_refused() -> None:
    with pytest.raises(GlobError):
        expand_braces("{a,b}" * 10)


@pytest.mark.parametrize("pattern", ["*a*a*a*a*a*a*b", "**a**a**a**a**a**b", "{*a,*b}*{*a,*b}*c"])
def test_hostile_globs_finish_in_linear_time(pattern: str) -> None:
    started = time.perf_counter()
    assert matches(pattern, "a" * 50_000) is False
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize("shape", ["[", "{", "*", "{a,", "[a", "[{*a?/]!}x", "\\["])
def test_translation_of_20000_hostile_characters_is_linear_not_quadratic(shape: str) -> None:
    # GIVEN 20,000 characters of unclosed classes, braces, stars (the quadratic translator took ~47 s
    # on 25,000 '['; bench_patterns shows the time per character flat from 1k to 20k)
    pattern = (shape * 20_000)[:20_000]
    started = time.perf_counter()
    with contextlib.suppress(GlobError):  # "{a," * n nests too many alternatives: refused, as quickly
        translate(pattern)
    assert time.perf_counter() - started < 2.0


def test_brace_groups_inside_brackets_expand_as_in_a_shell() -> None:
    assert expand_braces("[{a,b}]") == ["[a]", "[b]"]
    assert matches("team-[{a,b}]", "team-b") is True


# Bare brackets, braces and commas too: unclosed and crossing ones are where translators disagree.
TOKENS = ["a", "b", "-", "*", "?", "/", "**", "[ab]", "[!a]", "{a,b}", "{a,b-}", "{", "}", ",", "[", "]"]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="the wcmatch oracle (12.x) needs Python 3.11")
@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(TOKENS), min_size=1, max_size=6).map("".join),
    st.text(alphabet="ab-/", min_size=1, max_size=8),
)
def test_agrees_with_wcmatch_on_names_without_dots(pattern: str, text: str) -> None:
    # wcmatch is the oracle for what people expect of a glob (it is not used at run time: its regexes
    # backtrack on Python 3.10). Texts avoid "."-only segments, which wcmatch treats specially.
    from wcmatch import glob as wcglob

    if "//" in text or "//" in pattern or text.startswith("/") or text.endswith("/"):
        return  # ACR names have no empty segments
    flags = wcglob.GLOBSTAR | wcglob.BRACE | wcglob.DOTGLOB | wcglob.CASE
    try:
        alternatives = expand_braces(pattern)
        ours = matches(pattern, text)
    except (GlobError, re2.error):
        return  # refused at validation (too many alternatives; a class range such as [b-[] RE2 rejects)
    if any("**" in seg and seg != "**" for alt in alternatives for seg in alt.split("/")):
        return  # an embedded ** crosses / here by design (product.md); wcmatch reads it as *
    assert ours == wcglob.globmatch(text, pattern, flags=flags), (pattern, text)
