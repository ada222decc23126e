"""Hostile and careless rules files, through ``acr-sync rules validate|apply``: a clear error, never a crash.

One test per defect class of issue 10 (items 2-5, 11): quadratic patterns, YAML bombs and unbounded
messages, files that used to print tracebacks, the unsigned channel that could not be applied, template
literals that make names the registry refuses.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from acrsync import bootstrap
from acrsync.cli.app import app

runner = CliRunner()


def rules_text(*, tags: list[str] | None = None, dest: dict[str, Any] | None = None, **rule: Any) -> str:
    """A one-rule file (YAML), with an unsigned ``ops`` channel; keyword arguments replace rule keys."""
    doc = {
        "version": 1,
        "channels": {"ops": {"dingtalk": {"webhook_env": "ACRSYNC_DINGTALK_OPS_WEBHOOK"}}},
        "rules": [
            {
                "name": "r1",
                "alert": "ops",
                "source": {"instance": "cri-src1", "repositories": ["team-a/*"]},
                "tags": {"include": tags or []},
                "destinations": [{"instance": "cri-dst1", "region": "cn-shanghai", **(dest or {})}],
                **rule,
            }
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False, width=10**9)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Path]:
    """An empty SQLite store for ``rules apply``, pinned for the CLI (and forgotten afterwards)."""
    bootstrap.reset({"ACRSYNC_STORE": f"sqlite:///{tmp_path / 'db.sqlite'}", "ACRSYNC_REGION": "cn-hangzhou"})
    yield tmp_path
    bootstrap.reset()


def cli(tmp_path: Path, command: str, content: str | bytes, *args: str) -> tuple[Result, float]:
    path = tmp_path / "rules.yaml"
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    started = time.perf_counter()
    result = runner.invoke(app, ["rules", command, str(path), *args])
    return result, time.perf_counter() - started


def assert_refused_cleanly(result: Result, *needles: str) -> None:
    """Exit 1 through the error printer: no traceback, the reason printed, the output a few lines."""
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in result.output, result.output
    assert len(result.output) < 3_000, f"{len(result.output)} characters of output"


# --- item 2: patterns compile in linear time, and are capped -----------------------------------------


def test_an_overlong_pattern_is_refused_naming_its_path_and_the_limit(tmp_path: Path) -> None:
    # GIVEN a 25,000-character glob of '[' (the 47-second example)
    result, elapsed = cli(tmp_path, "validate", rules_text(tags=["[" * 25_000]))
    # THEN it is refused at once, where it is, with the limit and what to do
    assert_refused_cleanly(result, "rules[0].tags.include[0]:", "25,000 characters, at most 1,024")
    assert elapsed < 5


def test_many_hostile_patterns_under_the_limit_validate_in_linear_time(tmp_path: Path) -> None:
    # GIVEN 120 different 1,000-character globs of unclosed '[' and '{', mixed with '*'
    # (the quadratic translator spent ~0.5 s on each; linear, they cost what letters do)
    shapes = ("[", "{", "[{*", "{[*,")
    tags = [(shapes[i % 4] * 1_000)[:996] + f"{i:04d}" for i in range(120)]
    result, elapsed = cli(tmp_path, "validate", rules_text(tags=tags), "--json")
    assert result.exit_code == 0, result.output
    assert elapsed < 15


@pytest.mark.parametrize(
    ("pattern", "needle"),
    [
        ("regex:\\pL{1000}", "needs more than 1 MiB compiled"),  # RE2's memory cap, not 0.3 s of compile
        ("semver:1.2.3" + " " * 200 + "<", "is not an npm semver range"),  # node-semver: exponential
        ("{a,b}" * 9, "braces expand to more than 256 alternatives"),
        ("{a,b,c,d,e,f}" + "y" * 1_000, "braces grow the pattern by more than 4,096 characters"),
    ],
)
def test_costly_patterns_of_every_kind_are_refused_quickly(tmp_path: Path, pattern: str, needle: str) -> None:
    result, elapsed = cli(tmp_path, "validate", rules_text(tags=[pattern]))
    assert_refused_cleanly(result, "rules[0].tags.include[0]:", needle)
    assert elapsed < 5


def test_a_semver_range_with_runs_of_spaces_is_read_as_written(tmp_path: Path) -> None:
    result, elapsed = cli(tmp_path, "validate", rules_text(tags=["semver:>=1.0.0" + " " * 300 + "<2.0.0"]))
    assert result.exit_code == 0, result.output
    assert elapsed < 5


def test_a_document_whose_patterns_compile_too_large_is_refused_once(tmp_path: Path) -> None:
    # GIVEN 300 different globs, each ~2,000 characters once its braces are expanded
    tags = [f"x{{a,b}}{'y' * 990}{i:04d}" for i in range(300)]
    result, _ = cli(tmp_path, "validate", rules_text(tags=tags))
    # THEN the file is refused, with one message at the pattern that went over the budget
    assert_refused_cleanly(result, "compile to more than 500,000 characters in all")
    assert result.output.count("compile to more than") == 1


# --- item 3: YAML bombs, file size, unbounded values in messages --------------------------------------

BOMB = "\n".join(
    [f"a0: &a0 [{', '.join(['x'] * 9)}]"]
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
)


def test_an_alias_bomb_is_refused_before_anything_expands_it(tmp_path: Path) -> None:
    # GIVEN the billion laughs placed in a destination's priority (9^9 nodes once expanded)
    text = rules_text().replace("region: cn-shanghai", "region: cn-shanghai\n    priority: *a8")
    result, elapsed = cli(tmp_path, "validate", f"{BOMB}\n{text}")
    # THEN refused at the alias that goes over, in milliseconds, not a MemoryError after a minute
    assert_refused_cleanly(result, "line 5", "aliases here repeat more than 10,000 nodes")
    assert elapsed < 5


def test_aliases_sharing_a_few_values_are_fine(tmp_path: Path) -> None:
    text = (
        "version: 1\nrules:\n"
        "  - {name: a, source: {instance: cri-s, repositories: &repos [team-a/*]},"
        " destinations: &both [{instance: cri-d, region: cn-shanghai},"
        " {instance: cri-d, region: cn-beijing}]}\n"
        "  - {name: b, source: {instance: cri-t, repositories: *repos}, destinations: *both}\n"
    )
    result, _ = cli(tmp_path, "validate", text, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["rules"] == ["a", "b"]


def test_a_file_over_the_size_limit_is_refused_by_its_size(tmp_path: Path) -> None:
    result, _ = cli(tmp_path, "validate", rules_text() + "#" * (1 << 20))
    assert_refused_cleanly(result, "a rules file is at most 1,048,576 bytes")


def test_messages_quote_only_the_start_of_a_huge_value(tmp_path: Path) -> None:
    # GIVEN 100,000-character values where a number, a name and a region are expected
    huge = "x" * 100_000
    text = rules_text(name=huge, dest={"priority": huge, "region": huge})
    result, _ = cli(tmp_path, "validate", text)
    # THEN each is named by its first characters and its length, never copied whole
    assert_refused_cleanly(
        result, "rules[0].name: 'xxxxx", "(100,000 characters) is not a rule name", "priority: must be"
    )


# --- item 4: files that printed tracebacks --------------------------------------------------------------

TRACEBACK_FILES: dict[str, tuple[str | bytes, str]] = {
    "non_utf8": (b"version: 1\nrules: []\nchannels: {ops: \xff\xfe}\n", "line 3, column 17: byte 0xff"),
    "timestamp_not_a_date": ("version: 1\nrules: []\nchannels: {ops: 2024-13-45}\n", "got str '2024-13-45'"),
    "explicit_timestamp": ("version: !!timestamp 2024-99-99\nrules: []\n", "version: must be 1"),
    "integer_of_5000_digits": ("version: 1\nrules: []\nx: " + "9" * 5_000 + "\n", "line 3, column 4"),
    "nested_5000_deep": ("version: 1\nrules: " + "{a: " * 5_000 + "1" + "}" * 5_000, "line 2"),
    "duplicate_key": ("version: 1\nrules: []\nversion: 1\n", "line 3, column 1: duplicate key 'version'"),
    "explicit_int_not_a_number": ("version: !!int one\nrules: []\n", "'one' is not a valid !!int"),
    "control_character": ("version: 1\x00\nrules: []\n", "line 1, column 11: character U+0000"),
}


@pytest.mark.parametrize("case", sorted(TRACEBACK_FILES))
@pytest.mark.parametrize("command", ["validate", "apply"])
def test_broken_files_are_refused_with_a_position_never_a_traceback(
    store: Path, command: str, case: str
) -> None:
    content, needle = TRACEBACK_FILES[case]
    result, elapsed = cli(store, command, content)
    assert_refused_cleanly(result, needle)
    assert elapsed < 5
    assert bootstrap.stores().rules.read().version == 0  # nothing applied


def test_duplicate_keys_deep_in_a_rule_are_refused(tmp_path: Path) -> None:
    text = rules_text().replace("- name: r1\n", "- name: r1\n  name: r2\n")
    result, _ = cli(tmp_path, "validate", text)
    assert_refused_cleanly(result, "line 8, column 3: duplicate key 'name' (first at line 7)")


def test_a_tag_that_looks_like_a_date_stays_the_tag_it_names(tmp_path: Path) -> None:
    text = rules_text().replace("include: []", "include: [2024-01-01]")
    result, _ = cli(tmp_path, "validate", text, "--json")
    assert result.exit_code == 0, result.output


# --- item 5: a channel without secret_env validates, applies, lists and validates again ----------------


def test_an_unsigned_channel_round_trips_through_apply_and_the_store(store: Path) -> None:
    # GIVEN a file whose channel names only webhook_env (signing is optional)
    first, _ = cli(store, "apply", rules_text())
    assert first.exit_code == 0, first.output
    assert "applied: rules version 1" in first.output
    listed = runner.invoke(app, ["rules", "list", "--json"])
    assert [r["name"] for r in json.loads(listed.output)["rules"]] == ["r1"]
    # WHEN the stored document is written back out and validated, then applied again
    stored = bootstrap.stores().rules.read()
    plain = json.loads(json.dumps({"version": 1, "channels": stored.channels, "rules": list(stored.rules)}))
    assert plain["channels"]["ops"]["dingtalk"]["secret_env"] == ""
    again, _ = cli(store, "validate", yaml.safe_dump(plain))
    assert again.exit_code == 0, again.output
    reapplied, _ = cli(store, "apply", yaml.safe_dump(plain))
    # THEN it is the same document: valid, and nothing to change
    assert reapplied.exit_code == 0, reapplied.output
    assert "nothing to change (version 1)" in reapplied.output


# --- item 11: template literals must make names the registry accepts -----------------------------------


@pytest.mark.parametrize(
    ("field", "template", "example"),
    [
        ("namespace", "a..{namespace}", "'a..a'"),
        ("namespace", "{namespace}_", "'a_'"),
        ("namespace", "{namespace}.-x", "'a.-x'"),
        ("repository", "_{repo}", "'_a'"),
        ("repository", "{namespace}___{repo}", "'a___a'"),
        ("repository", "{repo}-", "'a-'"),
        ("tag", ".{tag}", "'.a'"),
    ],
)
def test_templates_whose_literals_make_invalid_names_are_refused(
    tmp_path: Path, field: str, template: str, example: str
) -> None:
    result, _ = cli(tmp_path, "validate", rules_text(dest={field: template}))
    assert_refused_cleanly(result, f"rules[0].destinations[0].{field}:", f"such as {example}")


@pytest.mark.parametrize(
    ("field", "template"),
    [
        ("namespace", "prod-{namespace}"),
        ("namespace", "{namespace}.mirror"),
        ("repository", "{namespace}__{repo}"),
        ("repository", "{repo}---x"),
        ("tag", "prod-{tag}"),
        ("tag", "{tag}_{namespace}"),
    ],
)
def test_templates_that_make_valid_names_are_accepted(tmp_path: Path, field: str, template: str) -> None:
    result, _ = cli(tmp_path, "validate", rules_text(dest={field: template}))
    assert result.exit_code == 0, result.output


# --- every name check matches the whole value: "$" let a trailing line break through ----------------------

_CHANNEL = {"webhook_env": "ACRSYNC_DINGTALK_OPS_WEBHOOK"}


@pytest.mark.parametrize(
    ("place", "rule", "dest", "channel"),
    [
        ("rules[0].name", {"name": "r1\n"}, {}, {}),
        ("rules[0].destinations[0].region", {}, {"region": "cn-shanghai\n"}, {}),
        ("rules[0].destinations[0].instance", {}, {"instance": "cri-dst1\n"}, {}),
        ("rules[0].destinations[0].account", {}, {"account": "1234567890123456\n"}, {}),
        (
            "rules[0].destinations[0].role_arn",
            {},
            {"account": "1234567890123456", "role_arn": "acs:ram::1234567890123456:role/reader\n"},
            {},
        ),
        ("channels.ops.dingtalk.webhook_env", {}, {}, {"webhook_env": "ACRSYNC_DINGTALK_OPS_WEBHOOK\n"}),
        ("channels.ops.mention_mobiles[0]", {}, {}, {"mention_mobiles": ["13800000000\n"]}),
    ],
    ids=["rule name", "region", "instance", "account", "role_arn", "webhook_env", "mobile"],
)
def test_a_value_with_a_trailing_line_break_is_refused_where_it_is(
    tmp_path: Path, place: str, rule: dict[str, Any], dest: dict[str, Any], channel: dict[str, Any]
) -> None:
    # GIVEN a rules file where one checked value ends in "\n" (a regex ending in "$" matched it)
    doc = yaml.safe_load(rules_text(dest=dest, tags=["*"], **rule))
    mobiles = channel.pop("mention_mobiles", None)
    doc["channels"]["ops"]["dingtalk"] = {**_CHANNEL, **channel}
    if mobiles is not None:
        doc["channels"]["ops"]["mention_mobiles"] = mobiles
    # WHEN it is validated THEN that value is refused, named by its place
    result, _ = cli(tmp_path, "validate", yaml.safe_dump(doc, sort_keys=False, width=10**9))
    assert_refused_cleanly(result, f"{place}:")


_HUGE = "x" * 100_000


@pytest.mark.parametrize(
    ("place", "rule", "dest"),
    [
        ("rules[0].prune_grace", {"prune": True, "prune_grace": _HUGE}, {}),
        ("rules[0].destinations[0].namespace", {}, {"namespace": "{" + _HUGE + "}"}),
        ("rules[0].destinations[0].role_arn", {}, {"account": "1234567890123456", "role_arn": _HUGE}),
        (
            "rules[0].destinations[0].registry",
            {},
            {"registry": _HUGE, "credentials_env": "ACRSYNC_REGISTRY_X"},
        ),
    ],
    ids=["prune_grace", "template field", "role_arn", "registry host"],
)
def test_a_100000_character_value_is_refused_in_a_message_of_one_short_line(
    tmp_path: Path, place: str, rule: dict[str, Any], dest: dict[str, Any]
) -> None:
    # GIVEN one value of 100,000 characters (a registry host longer than any DNS name among them)
    doc = yaml.safe_load(rules_text(tags=["*"], dest=dest, **rule))
    if "registry" in dest:
        del doc["rules"][0]["destinations"][0]["instance"], doc["rules"][0]["destinations"][0]["region"]
    # WHEN it is validated THEN it is refused where it is, quoting only its start
    result, _ = cli(tmp_path, "validate", yaml.safe_dump(doc, sort_keys=False, width=10**9))
    assert_refused_cleanly(result, f"{place}:")
    assert len(result.output) < 600
