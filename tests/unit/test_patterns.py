"""Pattern kinds: glob (default), regex (RE2, whole string), semver (npm ranges): the edges that bite."""

from __future__ import annotations

import time

import pytest

from acrsync.domain.patterns import (
    MATCHERS,
    GlobMatcher,
    PatternError,
    Re2Matcher,
    SemverMatcher,
    compile_pattern,
    split_pattern,
)


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("team-a/*", "team-a/web", True),
        ("team-a/*", "team-a/web/extra", False),  # * stops at /
        ("team-a/**", "team-a/web/extra", True),  # ** crosses /
        ("**", "team-a/web", True),
        ("**/web", "team-a/web", True),
        ("*", "team-a/web", False),
        ("platform/api-**", "platform/api-gw", True),
        ("platform/api-**", "platform/api-gw/v2", True),  # ** inside a segment crosses / too (product.md)
        ("platform/api-**", "platform/web", False),
        ("Team-A/*", "team-a/web", False),  # case-sensitive
        ("team-a/WEB", "team-a/web", False),
        ("team-?/web", "team-b/web", True),
        ("team-?/web", "team-bb/web", False),
        ("team-[ab]/web", "team-b/web", True),
        ("team-[ab]/web", "team-c/web", False),
        ("team-{a,b}/web", "team-a/web", True),
        ("team-{a,b}/web", "team-c/web", False),
        ("*-debug", "1.2.3-debug", True),
        ("*-debug", "1.2.3-debug-x", False),
        ("latest", "latest", True),
        ("latest", "latest2", False),  # whole-string
        ("stable", "unstable", False),
        ("glob:v*", "v1.0", True),
    ],
)
def test_glob_matches_whole_string_with_path_aware_stars(pattern: str, text: str, expected: bool) -> None:
    # GIVEN a glob  WHEN matched  THEN only the whole string counts, * stays within a segment
    assert compile_pattern(pattern).matches(text) is expected


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("regex:v1", "v1", True),
        ("regex:v1", "v10", False),  # anchored at the end
        ("regex:v1", "xv1", False),  # anchored at the start
        ("regex:release-[0-9]+", "release-42", True),
        ("regex:release-[0-9]+", "release-42-debug", False),
        ("regex:a|b", "ab", False),  # alternation is grouped before anchoring
        ("regex:a|b", "b", True),
        ("regex:Release", "release", False),  # case-sensitive
        ("regex:(?i)release", "RELEASE", True),
        ("regex:.*", "", True),
    ],
)
def test_regex_is_always_whole_string(pattern: str, text: str, expected: bool) -> None:
    assert compile_pattern(pattern).matches(text) is expected


@pytest.mark.parametrize(
    ("pattern", "include_prerelease", "text", "expected"),
    [
        ("semver:>=1.0.0 <2.0.0", False, "1.5.0", True),
        ("semver:>=1.0.0 <2.0.0", False, "2.0.0", False),
        ("semver:^1.2", False, "v1.9.0", True),  # leading v tolerated
        ("semver:^1.2", False, "V1.9.0", False),  # only lower-case v, as npm
        ("semver:^1.2", False, "1.2.0-rc.1", False),  # prereleases excluded by default
        ("semver:^1.2", True, "1.5.0-rc.1", True),
        ("semver:^1.2", True, "1.2.0-rc.1", True),  # npm: ^1.2 is >=1.2.0-0 with includePrerelease
        ("semver:^1.2", True, "2.0.0-rc.1", False),  # npm: upper bound is <2.0.0-0
        ("semver:>=1.0.0", True, "1.0.0-rc.1", False),  # a typed bound is exact: rc.1 < 1.0.0
        ("semver:>=1.0.0 <2.0.0", True, "2.0.0-rc.1", True),  # typed <2.0.0: 2.0.0-rc.1 is below it
        ("semver:^1.2.3-beta.1", False, "1.2.3-beta.2", True),  # same-tuple prerelease allowed (npm)
        ("semver:^1.2.3-beta.1", False, "1.2.4-beta.1", False),
        ("semver:^0.2", False, "0.2.9", True),
        ("semver:^0.2", False, "0.3.0", False),
        ("semver:~1.2.3", False, "1.2.9", True),
        ("semver:~1.2.3", False, "1.3.0", False),
        ("semver:~1.2.3", False, "1.2.2", False),
        ("semver:1.x", False, "1.99.0", True),
        ("semver:1.x", False, "2.0.0", False),
        ("semver:1.2 - 1.4", False, "1.4.9", True),
        ("semver:1.2 - 1.4", False, "1.5.0", False),
        ("semver:1.2 - 1.4", False, "1.1.9", False),
        ("semver:^1 || ^3", False, "3.1.0", True),
        ("semver:^1 || ^3", False, "2.1.0", False),
        ("semver:*", False, "0.0.1", True),
        ("semver:*", False, "1.0.0-alpha", False),
        ("semver:*", True, "1.0.0-alpha", True),
        ("semver:^1", False, "latest", False),  # non-semver tags never match
        ("semver:^1", False, "1.2", False),
        ("semver:^1", False, "1.2.3.4", False),
        ("semver:^1", False, "01.2.3", False),
        ("semver:^1", False, "vv1.2.3", False),
        ("semver:^1", False, "1.2.3+build.5", True),
        ("semver:^1", False, "", False),
    ],
)
def test_semver_follows_npm_ranges(pattern: str, include_prerelease: bool, text: str, expected: bool) -> None:
    assert compile_pattern(pattern, include_prerelease=include_prerelease).matches(text) is expected


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("regex:(a)\\1", "back-reference, which RE2 does not support"),
        ("regex:(?P<x>a)(?P=x)", "back-reference"),
        ("regex:a(?=b)", "look-around"),
        ("regex:a(?!b)", "look-around"),
        ("regex:(?<=a)b", "look-around"),
        ("regex:(", "not a valid RE2 regular expression: missing )"),
        ("regex:", "empty"),
        ("semver:banana", "not an npm semver range"),
        ("semver:>=1.0.0 <", "not an npm semver range"),
    ],
)
def test_bad_patterns_are_refused_at_compile_with_a_clear_message(pattern: str, message: str) -> None:
    with pytest.raises(PatternError) as info:
        compile_pattern(pattern)
    assert message in str(info.value)
    assert pattern.split(":", 1)[1][:3] in str(info.value)  # the message names the pattern


def test_catastrophic_regex_finishes_fast_because_re2_is_linear() -> None:
    # GIVEN the classic exponential-backtracking pattern and a near-miss input
    matcher = compile_pattern("regex:(a+)+$")
    text = "a" * 50_000 + "b"
    # WHEN matched
    started = time.perf_counter()
    result = matcher.matches(text)
    elapsed = time.perf_counter() - started
    # THEN it does not match and returns at once (Python's re would take longer than the universe)
    assert result is False
    assert elapsed < 0.5


def test_pathological_glob_finishes_fast() -> None:
    matcher = compile_pattern("*a*a*a*a*a*a*b")
    started = time.perf_counter()
    assert matcher.matches("a" * 128) is False
    assert time.perf_counter() - started < 0.5


def test_prefix_chooses_the_kind_and_glob_is_the_default() -> None:
    assert isinstance(compile_pattern("v*"), GlobMatcher)
    assert isinstance(compile_pattern("regex:v.*"), Re2Matcher)
    assert isinstance(compile_pattern("semver:^1"), SemverMatcher)
    assert split_pattern("weird:thing") == ("glob", "weird:thing")  # unknown prefix: a glob with a colon
    assert set(MATCHERS) == {"glob", "regex", "semver"}


def test_describe_gives_the_source_text_with_its_kind() -> None:
    assert compile_pattern("stable").describe() == "glob:stable"
    assert compile_pattern("regex:v[0-9]+").describe() == "regex:v[0-9]+"
    assert compile_pattern("semver:^1.2").describe() == "semver:^1.2"
