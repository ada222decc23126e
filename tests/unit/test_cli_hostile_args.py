"""Hostile command-line arguments: a clear usage error of bounded size, never an "unexpected" error, never
the whole argument echoed back, never a terminal control sequence printed as is."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from acrsync import bootstrap
from acrsync.cli.common import MAX_MESSAGE_CHARS
from tests.unit.store_world import EXAMPLE_RULES, cli, pin, store_env

HUGE = "x" * 100_000


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = store_env(tmp_path / "acrsync.db")
    assert cli(env, "rules", "apply", str(EXAMPLE_RULES)).exit_code == 0
    yield env
    bootstrap.reset()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("audit", "--rule", HUGE), "no such rule"),
        (("canary", HUGE, "--timeout", "1"), "expected INSTANCE/NAMESPACE/REPO"),
        (("rules", "explain", f"cri-demo-src/team-a/web:{HUGE}"), "is not an image reference"),
        (("rules", "explain", "[" * 3_000), "is not an image reference"),
        (("audit", "--repository", "[" * 25_000), "--repository: "),
    ],
    ids=["audit --rule", "canary", "explain a huge tag", "explain brackets", "audit --repository"],
)
def test_a_huge_argument_is_a_bounded_usage_error(
    env: dict[str, str], args: tuple[str, ...], needle: str
) -> None:
    # GIVEN an argument of tens of thousands of characters WHEN the command runs
    result = cli(env, *args, world=pin(env))
    # THEN it fails with what is wrong, quoting only the start of the argument
    assert result.exit_code == 1
    assert needle in result.output
    assert "unexpected" not in result.output
    assert "Traceback" not in result.output
    assert len(result.output) < 2 * MAX_MESSAGE_CHARS + 500


def test_control_characters_in_an_argument_are_printed_escaped(env: dict[str, str]) -> None:
    # GIVEN a rule name with a screen-clearing escape and a carriage return
    result = cli(env, "audit", "--rule", "\x1b[2J\rFORGED", world=pin(env))
    # THEN the error names it escaped: nothing reaches the terminal as a control sequence
    assert result.exit_code == 1
    assert "\x1b" not in result.output
    assert "\r" not in result.output
    assert "\\x1b[2J\\rFORGED" in result.output


def test_text_that_looks_like_an_emoji_code_is_printed_as_written(tmp_path: Path) -> None:
    # GIVEN a rules file whose role_arn is wrong (rich would print ":ram:" of "acs:ram::" as an emoji)
    path = tmp_path / "rules.yaml"
    path.write_text(
        "version: 1\nrules:\n  - name: r1\n    source: {instance: cri-a, repositories: ['a/*']}\n"
        "    destinations:\n      - {instance: cri-b, region: cn-shanghai, account: '1234567890123456',"
        " role_arn: 'acs:ram::1234567890123456:role/'}\n"
    )
    # WHEN it is validated THEN the message shows the ARN and its expected form exactly as written
    result = cli({"ACRSYNC_REGION": "cn-hangzhou"}, "rules", "validate", str(path))
    assert result.exit_code == 1
    assert (
        "'acs:ram::1234567890123456:role/' is not a RAM role ARN (acs:ram::ACCOUNT_ID:role/NAME)"
        in result.output
    )
