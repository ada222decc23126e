"""Validation of a rules document: every error with its path, never a partial result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from acrsync.domain.rules import validate_document
from acrsync.errors import RuleConfigError
from acrsync.service.rules_admin import load_document, validate_file
from tests.unit.rules_fixtures import document, rule

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def errors_of(data: Any) -> list[str]:
    with pytest.raises(RuleConfigError) as info:
        validate_document(data)
    return info.value.errors


def test_a_document_full_of_distinct_errors_reports_each_with_its_path() -> None:
    # GIVEN a document with one mistake per clause
    data = document(
        rule("ok"),
        rule("Bad_Name", alert="pager"),
        rule(
            "two",
            source={"instance": "src", "repos": ["team-a/*"]},
            tags={
                "include": ["semver:^1", "regex:(a)\\1"],
                "exclude": ["regex:a(?=b)"],
                "include_prerelease": "yes",
            },
            destinations=[
                {"instance": "cri-d", "region": "cn-shanghai", "priority": 9},
                {
                    "instance": "cri-d",
                    "region": "Shanghai",
                    "tag": "{version}",
                    "account": "12ab",
                    "colour": "red",
                },
            ],
        ),
        rule("ok"),
        channels={"ops": {"dingtalk": {"webhook": "https://x", "secret_env": "ACRSYNC_DINGTALK_S"}}},
    )
    data["version"] = 2
    data["extra"] = True
    # WHEN validated
    errors = errors_of(data)
    # THEN every problem is listed with its path
    expected = [
        "version: must be 1, got int 2",
        "extra: unknown key",
        "channels.ops.dingtalk.webhook: secrets are never written in the rules file",
        "rules[1].name: 'Bad_Name' is not a rule name",
        "rules[1].alert: channel 'pager' is not defined under channels (ops)",
        "rules[2].source.repos: unknown key (did you mean 'repositories'?)",
        "rules[2].source.instance: 'src' is not an ACR EE instance id",
        "rules[2].tags.include[1]: regex:(a)\\1 uses a back-reference",
        "rules[2].tags.exclude[0]: regex:a(?=b) uses a look-around",
        "rules[2].tags.include_prerelease: must be true or false",
        "rules[2].destinations[0].priority: must be an integer 1..5, got 9",
        "rules[2].destinations[1].region: 'Shanghai' is not a region id",
        "rules[2].destinations[1].tag: unknown template field {version}",
        "rules[2].destinations[1].account: must be an Alibaba Cloud account id (digits), got '12ab'",
        "rules[2].destinations[1].colour: unknown key",
        "rules[3].name: duplicate rule name 'ok' (also rules[0])",
    ]
    for message in expected:
        assert any(e.startswith(message) for e in errors), f"missing {message!r} in {errors}"
    assert len(errors) == len(expected)


def test_valid_document_is_normalised_with_defaults() -> None:
    doc = validate_document(document(rule("r1", source={"instance": "cri-src1"})))
    (r,) = doc.rules
    assert r["enabled"] is True
    assert r["source"]["repositories"] == ["**"]
    assert r["tags"] == {"include": [], "exclude": [], "include_prerelease": False}
    assert r["destinations"][0] == {
        "instance": "cri-dst1",
        "region": "cn-shanghai",
        "namespace": "{namespace}",
        "repository": "{repo}",
        "tag": "{tag}",
        "override": False,
        "priority": 3,
        "account": "",
    }


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("namespace", "Team_A", "'Team_A' is not a valid ACR name"),
        ("repository", "web/", "is not a valid ACR name"),
        ("tag", "-bad", "is not a valid tag"),
        ("tag", "x" * 129, "is not a valid tag"),
        ("tag", "{tag", "unbalanced brace"),
        ("repository", "{repo}-{branch}", "unknown template field {branch}"),
    ],
)
def test_literal_and_template_destination_names_are_checked(field: str, value: str, message: str) -> None:
    dest = {"instance": "cri-d", "region": "cn-shanghai", field: value}
    errors = errors_of(document(rule(destinations=[dest])))
    assert errors == [f"rules[0].destinations[0].{field}: {errors[0].split(': ', 1)[1]}"]
    assert message in errors[0]


def test_inline_secret_is_refused_with_the_env_var_to_use_instead() -> None:
    errors = errors_of(
        document(
            rule(), channels={"ops": {"dingtalk": {"webhook_env": "ACRSYNC_DINGTALK_W", "secret": "SECabc"}}}
        )
    )
    assert len(errors) == 1
    assert "secret_env" in errors[0]
    assert "SECabc" not in errors[0]  # the secret never appears in the message


def test_unquoted_account_and_mobile_numbers_are_accepted_as_digits() -> None:
    dest = {"instance": "cri-d", "region": "cn-beijing", "account": 1234567890123456}
    channels = {"ops": {"dingtalk": {"webhook_env": "ACRSYNC_DINGTALK_W"}, "mention_mobiles": [13800000000]}}
    doc = validate_document(document(rule(alert="ops", destinations=[dest]), channels=channels))
    assert doc.rules[0]["destinations"][0]["account"] == "1234567890123456"
    assert doc.channels["ops"]["mention_mobiles"] == ["13800000000"]


def test_semver_pattern_on_repositories_is_refused() -> None:
    errors = errors_of(document(rule(source={"instance": "cri-s", "repositories": ["semver:^1"]})))
    assert errors[0].startswith(
        "rules[0].source.repositories[0]: 'semver:^1': semver: patterns apply to tags"
    )


def test_repository_glob_without_a_slash_is_refused_because_it_never_matches() -> None:
    errors = errors_of(
        document(rule(source={"instance": "cri-s", "repositories": ["web", "**", "team-*/**"]}))
    )
    assert errors == [
        "rules[0].source.repositories[0]: 'web' never matches NAMESPACE/REPO "
        "(did you mean '*/web' or 'web/*'?)"
    ]


def test_top_level_that_is_not_a_mapping_is_refused() -> None:
    assert errors_of(["rules"])[0].startswith("(top level): must be a mapping")
    with pytest.raises(RuleConfigError, match="top level must be a mapping"):
        load_document("- just\n- a list\n")


def test_yaml_syntax_error_reports_line_and_column_not_a_traceback() -> None:
    with pytest.raises(RuleConfigError) as info:
        load_document("version: 1\nrules:\n  - name: [unclosed\n", source="rules.yaml")
    assert info.value.errors[0].startswith("rules.yaml: YAML syntax error at line 4, column 1")


def test_example_rules_file_is_valid_and_uses_every_feature() -> None:
    doc = validate_file(EXAMPLES / "rules.yaml")
    text = (EXAMPLES / "rules.yaml").read_text()
    assert len(doc.rules) >= 4
    assert any(not r["enabled"] for r in doc.rules)
    for needle in (
        "regex:",
        "semver:",
        "include_prerelease: true",
        "{repo}-mirror",
        "prod-{tag}",
        "account:",
    ):
        assert needle in text
    regions = {d["region"] for r in doc.rules for d in r["destinations"]}
    assert regions == {"cn-shanghai", "cn-beijing"}
    assert doc.channels["ops"]["dingtalk"] == {
        "webhook_env": "ACRSYNC_DINGTALK_WEBHOOK",
        "secret_env": "ACRSYNC_DINGTALK_SECRET",
    }


def test_broken_example_reports_about_six_distinct_errors() -> None:
    with pytest.raises(RuleConfigError) as info:
        validate_file(EXAMPLES / "broken-rules.yaml")
    paths = [e.split(":", 1)[0] for e in info.value.errors]
    assert len(set(paths)) >= 6
    assert "rules[0].destinations[0].priority" in paths
    assert "rules[1].destinations[0].repository" in paths


def test_missing_file_is_a_rule_config_error() -> None:
    with pytest.raises(RuleConfigError, match="cannot read the rules file"):
        validate_file("/nonexistent/rules.yaml")


def test_validation_is_idempotent_on_its_own_output() -> None:
    # GIVEN the normalised example document  WHEN validated again  THEN it comes back unchanged
    doc = validate_file(EXAMPLES / "rules.yaml")
    again = validate_document({"version": doc.version, "channels": doc.channels, "rules": list(doc.rules)})
    assert again == doc


def test_huge_integers_are_refused_by_size_never_converted_to_text() -> None:
    # GIVEN a document built in code (rules apply re-validates one) with 5,000-digit integers where an
    # account id, a phone number and a priority go: str() of one raises past Python's 4,300 digits
    huge = 10**5_000
    dest = {"instance": "cri-d", "region": "cn-shanghai", "account": huge, "priority": huge}
    channels = {"ops": {"dingtalk": {"webhook_env": "ACRSYNC_DINGTALK_W"}, "mention_mobiles": [huge]}}
    # WHEN validated  THEN each is refused by its size
    errors = errors_of(document(rule(destinations=[dest]), channels=channels))
    assert len(errors) == 3
    assert all(e.endswith("an integer of about 5,000 digits") for e in errors), errors
