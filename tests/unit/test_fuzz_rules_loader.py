"""Fuzz tier over the rules loader: whatever a rules file holds, ``load_document`` returns a validated
document or raises ``RuleConfigError`` — nothing else — with short messages, and every call finishes within
``BOUND_S`` (a generous bound: a legitimate 1 MiB file loads in a few seconds on a busy 2-core box; these
inputs are at most a few hundred kilobytes). Both parsers are fuzzed: libyaml's and PyYAML's own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acrsync.domain.rules_limits import MAX_ERRORS
from acrsync.domain.rules_schema import RulesDocument
from acrsync.errors import RuleConfigError
from acrsync.service import rules_yaml
from acrsync.service.rules_admin import load_document

BOUND_S = 5.0
MAX_MESSAGE = 600  # characters in one error line (paths and quotes are clipped)
LOADERS = [name for name in ("_PyLoader", "_CLoader") if name == "_PyLoader" or rules_yaml._c_loader()]
FUZZ = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@contextmanager
def parser(name: str) -> Iterator[None]:
    """Load with one parser: libyaml's (the default when PyYAML has it) or PyYAML's pure-Python one."""
    saved = rules_yaml._LOADER
    rules_yaml._LOADER = rules_yaml._PyLoader if name == "_PyLoader" else (rules_yaml._c_loader() or saved)
    try:
        yield
    finally:
        rules_yaml._LOADER = saved


def load_within_bound(content: str | bytes) -> RulesDocument | None:
    """Load; only a document or RuleConfigError may come out, quickly, with bounded messages."""
    started = time.perf_counter()
    errors: list[str] = []
    doc = None
    try:
        doc = load_document(content, source="fuzz.yaml")
    except RuleConfigError as exc:
        errors = exc.errors or ["(a RuleConfigError listing no problem)"]
    elapsed = time.perf_counter() - started
    assert elapsed < BOUND_S, f"{elapsed:.1f} s"
    assert doc is not None or 0 < len(errors) <= MAX_ERRORS + 1
    assert all(len(line) <= MAX_MESSAGE for line in errors), max(errors, key=len)[:200]
    return doc


TOKENS = [
    "version: 1\n", "rules:\n", "channels:\n", "- ", "  ", "\n", "[", "]", "{", "}", ", ", ": ", "? ",
    "&a ", "*a", "&b ", "*b", "<<: ", "!!int ", "!!float ", "!!bool ", "!!timestamp ", "!!binary ",
    "!!set ", "!!omap ", "!!str ", "!x ", "'", '"', "#", "|\n", ">\n", "---\n", "...\n", "%YAML 1.1\n",
    "2024-13-45", "2024-01-01", "0x", "0b", "0o", "1:20", "9" * 40, ".nan", "~", "null", "yes", "\t",
    "\\", "\x00", "\x07", "\ufeff", "é", "name: ", "priority: ", "include: ", "semver:", "regex:(",
    "{a,b}", "[!", "**", "{namespace}", "..", "webhook_env: ", "ACRSYNC_DINGTALK_X",
]  # fmt: skip


@pytest.mark.parametrize("loader", LOADERS)
@FUZZ
@given(content=st.binary(max_size=4_000))
def test_arbitrary_bytes_load_or_are_refused(loader: str, content: bytes) -> None:
    with parser(loader):
        load_within_bound(content)


@pytest.mark.parametrize("loader", LOADERS)
@FUZZ
@given(pieces=st.lists(st.sampled_from(TOKENS) | st.text(max_size=8), max_size=300))
def test_yaml_ish_text_loads_or_is_refused(loader: str, pieces: list[str]) -> None:
    with parser(loader):
        load_within_bound("".join(pieces))


@pytest.mark.parametrize("loader", LOADERS)
@FUZZ
@given(
    depth=st.integers(1, 20_000),
    opener=st.sampled_from(["[", "{a: ", "- ", "{? ", "[{a: "]),
    closed=st.booleans(),
)
def test_deep_nesting_is_refused_not_recursed(loader: str, depth: int, opener: str, closed: bool) -> None:
    closer = {"[": "]", "{a: ": "}", "- ": "", "{? ": "}", "[{a: ": "}]"}[opener]
    block = opener == "- "
    body = (opener * depth) + "x" + (closer * depth if closed else "")
    with parser(loader):
        load_within_bound(f"version: 1\nrules:\n{body}" if block else f"version: 1\nrules: {body}\n")


PLACES = ["name: {}", "priority: {}", "region: {}", "include: [{}]", "{}: 1", "account: {}", "alert: {}"]


@pytest.mark.parametrize("loader", LOADERS)
@FUZZ
@given(
    size=st.integers(1_000, 300_000),
    char=st.sampled_from(["x", "9", "[", "{", "*", " ", "é", "-"]),
    place=st.sampled_from(PLACES),
    quoted=st.booleans(),
)
def test_huge_scalars_are_refused_with_short_messages(
    loader: str, size: int, char: str, place: str, quoted: bool
) -> None:
    value = char * size
    scalar = f"'{value}'" if quoted else value
    text = (
        "version: 1\nrules:\n- source: {instance: cri-s}\n  destinations: [{instance: cri-d, region: cn-x}]\n"
        f"  {place.format(scalar)}\n"
    )
    with parser(loader):
        load_within_bound(text)


@pytest.mark.parametrize("loader", LOADERS)
@FUZZ
@given(
    fanout=st.integers(2, 12),
    depth=st.integers(1, 12),
    place=st.sampled_from(["priority", "include", "repositories", "destinations", "rules", "channels"]),
)
def test_alias_bombs_are_refused_before_expanding(loader: str, fanout: int, depth: int, place: str) -> None:
    lines = [f"x0: &x0 [{', '.join(['a'] * fanout)}]"]
    lines += [f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * fanout)}]" for i in range(1, depth + 1)]
    bomb = "\n".join(lines)
    text = (
        f"{bomb}\nversion: 1\nrules:\n- name: r\n  source: {{instance: cri-s, repositories: *x{depth}}}\n"
        if place == "repositories"
        else f"{bomb}\nversion: 1\nrules:\n- name: r\n  {place}: *x{depth}\n"
    )
    with parser(loader):
        load_within_bound(text)


JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["{namespace}", "a..{repo}", "semver:^1", "regex:(", "**", "ACRSYNC_DINGTALK_X"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=30,
)
RULE_KEYS = ["name", "enabled", "alert", "source", "tags", "destinations", "instance", "repositories"]


@pytest.mark.parametrize("loader", LOADERS)
@FUZZ
@given(
    rules=st.lists(st.dictionaries(st.sampled_from(RULE_KEYS), JSONISH, max_size=6), max_size=5),
    channels=st.dictionaries(st.text(max_size=10), JSONISH, max_size=3),
)
def test_well_formed_yaml_of_any_shape_validates_or_is_refused(
    loader: str, rules: list[dict[str, Any]], channels: dict[str, Any]
) -> None:
    try:
        text = yaml.safe_dump({"version": 1, "channels": channels, "rules": rules}, allow_unicode=True)
    except (yaml.YAMLError, ValueError):
        return  # not representable (e.g. an integer too long for str()); nothing to load
    with parser(loader):
        load_within_bound(text)
