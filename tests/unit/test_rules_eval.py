"""Evaluating and explaining rules against one pushed image."""

from __future__ import annotations

from acrsync.domain.images import DestinationImage
from acrsync.domain.rules import evaluate, explain, requests_of
from tests.unit.rules_fixtures import SRC, image, index, rule

SH = {"instance": "cri-dst1", "region": "cn-shanghai"}
BJ = {"instance": "cri-dst2", "region": "cn-beijing"}


def test_matching_rule_requests_each_destination_with_its_options() -> None:
    # GIVEN a rule with two destinations in two regions, one cross-account
    idx = index(
        rule(destinations=[{**SH, "priority": 1, "override": True}, {**BJ, "account": "1234567890123456"}])
    )
    # WHEN an image in team-a is pushed
    requests = evaluate(idx, image("team-a/web", "1.2.3"))
    # THEN both destinations are asked for, names unchanged, options carried
    assert [r.destination for r in requests] == [
        DestinationImage("cri-dst1", "cn-shanghai", "team-a", "web", "1.2.3"),
        DestinationImage("cri-dst2", "cn-beijing", "team-a", "web", "1.2.3"),
    ]
    assert (requests[0].priority, requests[0].override, requests[0].target_account) == (1, True, "")
    assert (requests[1].priority, requests[1].override, requests[1].target_account) == (
        3,
        False,
        "1234567890123456",
    )


def test_exclude_beats_include() -> None:
    idx = index(rule(tags={"include": ["semver:^1"], "exclude": ["*.3"]}))
    assert evaluate(idx, image(tag="1.2.3")) == []
    assert len(evaluate(idx, image(tag="1.2.4"))) == 1


def test_empty_include_means_every_tag() -> None:
    idx = index(rule(tags={"exclude": ["latest"]}))
    assert len(evaluate(idx, image(tag="anything-at-all"))) == 1
    assert evaluate(idx, image(tag="latest")) == []


def test_exclude_repositories_wins_over_repositories() -> None:
    idx = index(
        rule(source={"instance": SRC, "repositories": ["team-a/*"], "exclude_repositories": ["*/sandbox-*"]})
    )
    assert evaluate(idx, image("team-a/sandbox-1")) == []
    assert len(evaluate(idx, image("team-a/web"))) == 1


def test_disabled_rule_and_other_instance_rule_are_skipped() -> None:
    idx = index(rule("off", enabled=False), rule("other", source={"instance": "cri-other"}))
    assert evaluate(idx, image()) == []


def test_duplicate_destinations_across_rules_collapse_to_the_first_rule() -> None:
    # GIVEN two rules asking for the same destination image
    idx = index(rule("first", destinations=[SH]), rule("second", destinations=[SH, BJ]))
    # WHEN evaluated
    requests = evaluate(idx, image())
    # THEN one request per destination, the shared one owned by the first rule
    assert [(r.rule, r.destination.region) for r in requests] == [
        ("first", "cn-shanghai"),
        ("second", "cn-beijing"),
    ]
    verdicts = {v.rule: v for v in explain(idx, image())}
    assert verdicts["second"].destinations[0].status == "duplicate"
    assert verdicts["second"].destinations[0].reason == "collapsed into rule first"


def test_renaming_templates_render_namespace_repo_and_tag() -> None:
    dest = {**BJ, "namespace": "prod-{namespace}", "repository": "{repo}-mirror", "tag": "prod-{tag}"}
    (request,) = evaluate(index(rule(destinations=[dest])), image("team-a/web", "v2"))
    assert request.destination.ref == "cri-dst2@cn-beijing/prod-team-a/web-mirror:prod-v2"


def test_template_giving_an_invalid_tag_refuses_only_that_destination_with_a_reason() -> None:
    # GIVEN a tag template that overflows 128 characters for long tags, beside a plain destination
    long_tag = "t" * 120
    idx = index(rule(destinations=[{**SH, "tag": "{tag}-mirrored"}, BJ]))
    # WHEN a long tag is pushed
    requests = evaluate(idx, image(tag=long_tag))
    # THEN the other destination still goes, and explain says why the first was refused
    assert [r.destination.region for r in requests] == ["cn-beijing"]
    (verdict,) = explain(idx, image(tag=long_tag))
    refused = verdict.destinations[0]
    assert refused.status == "refused"
    assert "tag template '{tag}-mirrored' gives" in refused.reason
    assert "not a valid ACR tag" in refused.reason


def test_destination_that_is_the_source_itself_is_refused() -> None:
    same = {"instance": SRC, "region": "cn-hangzhou"}
    idx = index(rule(destinations=[same, {**same, "tag": "{tag}-copy"}]))
    requests = evaluate(idx, image(tag="1.0.0"))
    assert [r.destination.tag for r in requests] == ["1.0.0-copy"]
    (verdict,) = explain(idx, image(tag="1.0.0"))
    assert (
        verdict.destinations[0].reason == "destination is the source image itself (self-replication refused)"
    )


def test_explain_names_the_deciding_clause_for_every_rule() -> None:
    # GIVEN one rule per way of deciding
    idx = index(
        rule("other-instance", source={"instance": "cri-x"}),
        rule("disabled", enabled=False),
        rule("wrong-repo", source={"instance": SRC, "repositories": ["platform/*"]}),
        rule("excluded-repo", source={"instance": SRC, "exclude_repositories": ["team-a/web"]}),
        rule("excluded-tag", tags={"include": ["*"], "exclude": ["glob:*-rc.*"]}),
        rule("prerelease", tags={"include": ["semver:^1"]}),
        rule("matches", tags={"include": ["regex:1\\.2\\.3-rc\\.1"]}),
    )
    # WHEN explaining a prerelease push
    verdicts = {v.rule: v for v in explain(idx, image("team-a/web", "1.2.3-rc.1"))}
    # THEN each rule says which clause decided
    assert verdicts["other-instance"].reason.startswith("source instance cri-src1 does not match")
    assert verdicts["disabled"].reason == "rule is disabled (enabled: false)"
    assert "matches none of source.repositories [glob:platform/*]" in verdicts["wrong-repo"].reason
    assert "excluded by exclude_repositories glob:team-a/web" in verdicts["excluded-repo"].reason
    assert "excluded by tags.exclude glob:*-rc.*" in verdicts["excluded-tag"].reason
    assert "include_prerelease is false" in verdicts["prerelease"].reason
    assert verdicts["matches"].matched is True
    assert "tag 1.2.3-rc.1 matches regex:1\\.2\\.3-rc\\.1" in verdicts["matches"].reason
    assert [v.rule for v in explain(idx, image())] == list(verdicts)  # every rule, in order


def test_verdicts_print_as_text_and_as_json_able_dicts() -> None:
    idx = index(rule("r1", destinations=[SH]))
    (verdict,) = explain(idx, image())
    assert (
        verdict.as_text()
        .splitlines()[0]
        .startswith("r1: MATCH - repository team-a/web matches glob:team-a/*")
    )
    assert "-> cri-dst1@cn-shanghai/team-a/web:1.2.3: requested" in verdict.as_text()
    assert verdict.as_dict() == {
        "rule": "r1",
        "matched": True,
        "reason": verdict.reason,
        "destinations": [
            {"destination": "cri-dst1@cn-shanghai/team-a/web:1.2.3", "status": "requested", "reason": ""}
        ],
    }


def test_rules_are_indexed_by_instance_namespace_and_plain_repository() -> None:
    # GIVEN rules over one namespace, two namespaces, any namespace, a plain repository, and a disabled one
    idx = index(
        rule("a", source={"instance": SRC, "repositories": ["team-a/*"]}),
        rule("b", source={"instance": SRC, "repositories": ["team-b/*", "team-c/web"]}),
        rule("any", source={"instance": SRC, "repositories": ["*/web"]}),
        rule("plain", source={"instance": SRC, "repositories": ["team-a/api"]}),
        rule("off", enabled=False),
    )
    # THEN each event only meets the rules that could match it, in rule order
    assert idx.candidates(SRC, "team-a", "team-a/web") == (0, 2)
    assert idx.candidates(SRC, "team-a", "team-a/api") == (0, 2, 3)
    assert idx.candidates(SRC, "team-c", "team-c/web") == (1, 2)
    assert idx.candidates(SRC, "unknown", "unknown/web") == (2,)
    assert idx.candidates("cri-none", "team-a", "team-a/web") == ()


def test_plain_repository_with_an_explicit_glob_prefix_still_matches() -> None:
    idx = index(rule("p", source={"instance": SRC, "repositories": ["glob:team-a/web"]}))
    assert idx.candidates(SRC, "team-a", "team-a/web") == (0,)
    assert [r.rule for r in evaluate(idx, image("team-a/web"))] == ["p"]
    assert evaluate(idx, image("team-a/api")) == []


def test_explain_requests_equal_evaluate() -> None:
    idx = index(rule("first", destinations=[SH]), rule("second", destinations=[SH, BJ]))
    assert requests_of(explain(idx, image())) == evaluate(idx, image())
