"""``acr-sync rules``: every error with its path, explanations as written (brackets included), exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from acrsync.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_validate_lists_every_error_of_a_broken_file_with_its_path() -> None:
    result = runner.invoke(app, ["rules", "validate", str(ROOT / "examples" / "broken-rules.yaml")])
    assert result.exit_code == 1
    for needle in (
        "rules[0].name: 'Releases_To_Shanghai' is not a rule name ([a-z0-9-], at most 63 chars)",
        "rules[0].source.repos: unknown key (did you mean 'repositories'?)",
        "rules[0].destinations[0].priority: must be an integer 1..5, got 9",
        "8 problem(s) found; nothing was written",
    ):
        assert needle in result.output


def test_validate_accepts_the_example() -> None:
    result = runner.invoke(app, ["rules", "validate", str(ROOT / "examples" / "rules.yaml"), "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output)["valid"] is True


def test_explain_prints_patterns_with_brackets_as_written() -> None:
    image = "cri-demo-src/team-a/web:v1.2.4-debug"
    args = [
        "rules",
        "explain",
        image,
        "--file",
        str(ROOT / "examples" / "rules.yaml"),
        "--region",
        "cn-hangzhou",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0
    assert "excluded by tags.exclude glob:*-debug" in result.output
    assert "[semver:1.x, glob:{nightly,weekly}-*]" in result.output


def test_explain_refuses_a_malformed_image_reference_with_the_expected_form() -> None:
    result = runner.invoke(app, ["rules", "explain", "not-an-image"])
    assert result.exit_code == 1
    assert "expected INSTANCE/NAMESPACE/REPO:TAG" in result.output


def test_explain_shows_the_reconciler_settings_of_matching_rules() -> None:
    args = ["rules", "explain", "cri-demo-src/team-a/web:v1.2.3", "--file", "examples/rules.yaml"]
    text = CliRunner().invoke(app, [*args, "--region", "cn-hangzhou"]).output
    assert "team-a-releases (reconciler): prune after 7d; cri-demo-sh@cn-shanghai on_conflict skip" in text
    data = CliRunner().invoke(app, [*args, "--region", "cn-hangzhou", "--json"]).output
    (verdict,) = [v for v in json.loads(data) if v["rule"] == "team-a-releases"]
    assert verdict["reconciler"]["prune"] is True
    assert verdict["reconciler"]["prune_grace"] == "7d"
