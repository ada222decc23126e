"""Hypothesis properties of evaluation: deterministic, exclude always wins, no duplicate destinations."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from acrsync.domain.rules import RuleIndex, evaluate, explain, requests_of
from tests.unit.rules_fixtures import SRC, image, index

NAMESPACES = ["team-a", "team-b", "platform"]
REPOS = ["web", "api", "api-gw", "sandbox-1"]
TAGS = ["1.0.0", "1.2.3", "2.0.0-rc.1", "v1.5.0", "latest", "stable", "release-7", "1.2.3-debug", "nightly-1"]
TAG_PATTERNS = [
    "*",
    "semver:^1",
    "semver:>=1.0.0 <3",
    "regex:release-[0-9]+",
    "stable",
    "*-debug",
    "latest",
    "v*",
]
REPO_PATTERNS = [
    "team-a/*",
    "**",
    "*/web",
    "platform/api-**",
    "team-{a,b}/*",
    "regex:team-.*/api",
    "team-a/web",
    "glob:team-b/api",
]

destinations = st.lists(
    st.fixed_dictionaries(
        {
            "instance": st.sampled_from(["cri-dst1", "cri-dst2"]),
            "region": st.sampled_from(["cn-shanghai", "cn-beijing"]),
            "tag": st.sampled_from(["{tag}", "prod-{tag}", "fixed"]),
        }
    ),
    min_size=1,
    max_size=3,
)
rules_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "enabled": st.booleans(),
            "source": st.fixed_dictionaries(
                {
                    "instance": st.just(SRC),
                    "repositories": st.lists(st.sampled_from(REPO_PATTERNS), min_size=1, max_size=2),
                    "exclude_repositories": st.lists(st.sampled_from(REPO_PATTERNS), max_size=1),
                }
            ),
            "tags": st.fixed_dictionaries(
                {
                    "include": st.lists(st.sampled_from(TAG_PATTERNS), max_size=2),
                    "exclude": st.lists(st.sampled_from(TAG_PATTERNS), max_size=2),
                    "include_prerelease": st.booleans(),
                }
            ),
            "destinations": destinations,
        }
    ),
    min_size=1,
    max_size=6,
)
images = st.builds(
    lambda ns, repo, tag: image(f"{ns}/{repo}", tag),
    st.sampled_from(NAMESPACES),
    st.sampled_from(REPOS),
    st.sampled_from(TAGS),
)


def build(raw: list[dict[str, Any]]) -> RuleIndex:
    return index(*({"name": f"r{i}", **r} for i, r in enumerate(raw)))


@settings(max_examples=100, deadline=None)
@given(rules_strategy, images)
def test_evaluation_is_deterministic(raw: list[dict[str, Any]], img: Any) -> None:
    assert evaluate(build(raw), img) == evaluate(build(raw), img)


@settings(max_examples=100, deadline=None)
@given(rules_strategy, images)
def test_an_exclude_match_always_wins(raw: list[dict[str, Any]], img: Any) -> None:
    # GIVEN every rule also excludes exactly the pushed tag
    for r in raw:
        r["tags"]["exclude"] = [*r["tags"]["exclude"], f"regex:{img.tag.replace('.', '[.]')}"]
    # THEN nothing is requested, whatever the includes say
    assert evaluate(build(raw), img) == []


@settings(max_examples=100, deadline=None)
@given(rules_strategy, images)
def test_output_has_no_duplicate_destinations(raw: list[dict[str, Any]], img: Any) -> None:
    requests = evaluate(build(raw), img)
    destinations_out = [r.destination for r in requests]
    assert len(destinations_out) == len(set(destinations_out))
    assert all(not d.same_place_as(img) for d in destinations_out)


@settings(max_examples=100, deadline=None)
@given(rules_strategy, images)
def test_explain_without_the_index_agrees_with_evaluate_through_it(
    raw: list[dict[str, Any]], img: Any
) -> None:
    # explain walks every rule (no index), so this checks the index never drops or adds a match
    idx = build(raw)
    assert requests_of(explain(idx, img)) == evaluate(idx, img)
