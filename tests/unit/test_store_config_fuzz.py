"""Garbage in ACRSYNC_STORE — random strings, bad schemes, directories, missing parents, unicode, control
characters — gives only documented errors that name the variable, through the handler and the CLI, and never
creates a file."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acrsync import bootstrap
from acrsync.errors import ConfigError, StoreError, StoreNotSetUp, StoreUnavailable
from tests.fixtures import load_event
from tests.unit.store_world import cli, invoke, pin, store_env

PUSH = load_event("acs.cr/push_completed.json")
TICK = load_event("timer/sweep.json")
# What a broken store may raise out of a handler (errors.py): nothing else, and every one names the variable.
DOCUMENTED = (ConfigError, StoreNotSetUp, StoreUnavailable)
TS_INSTANCE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{2,15}$")
BASE = "{base}"  # replaced by the example's own temporary directory

names = st.text(min_size=1, max_size=40).filter(lambda s: "/" not in s and s not in (".", ".."))
paths_under_base = st.one_of(
    st.just(BASE),  # a directory
    st.just(f"{BASE}/junk.txt"),  # a file that is not a database
    st.just(f"{BASE}/junk.txt/acrsync.db"),  # a parent that is a file
    st.lists(names, min_size=1, max_size=4).map(lambda parts: "/".join([BASE, *parts])),  # missing parents
    st.just(f"{BASE}/" + "x" * 300),  # a name too long for the file system
)
store_values = st.one_of(
    st.text(max_size=60),  # anything at all (empty: the default, relative to the working directory)
    st.builds(
        lambda scheme, rest: scheme + rest,
        st.sampled_from(
            ["mysql://", "sqlite://", "sqlite:/", "SQLITE:///", "file://", "tablestore:", "s3://"]
        ),
        st.text(max_size=30),
    ),
    st.builds(lambda p: f"sqlite:///{p}", paths_under_base),
    st.builds(lambda p: f"sqlite:///{p}", st.text(min_size=1, max_size=40)),  # relative, any characters
    st.sampled_from(["sqlite:////", "sqlite:////dev/null", "sqlite:///", "sqlite:///./", "tablestore://"]),
    # Instance names Tablestore refuses (a valid one would be a real endpoint: the contract tier covers it)
    st.builds(lambda s: f"tablestore://{s}", st.text(max_size=20).filter(lambda s: not TS_INSTANCE.match(s))),
)


@contextlib.contextmanager
def sandbox() -> Iterator[Path]:
    """A fresh directory that is also the working directory (relative store paths land in it)."""
    before = Path.cwd()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "junk.txt").write_text("not a database\n" * 50)
        os.chdir(base)
        try:
            yield base
        finally:
            os.chdir(before)
            bootstrap.reset()


def listing(base: Path) -> list[str]:
    return sorted(str(p.relative_to(base)) for p in base.rglob("*"))


@pytest.mark.parametrize(("function", "event"), [("replicator", PUSH), ("watcher", TICK)])
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=store_values)
def test_garbage_store_value_gives_a_documented_error_naming_the_variable(
    function: str, event: bytes, value: str
) -> None:
    with sandbox() as base:
        store = value.replace(BASE, str(base))
        env = store_env(store)
        pin(env)
        before = listing(base)
        with pytest.raises(Exception) as raised:  # noqa: PT011 - the type is the property under test
            invoke(function, event, env)
        assert isinstance(raised.value, DOCUMENTED), repr(raised.value)
        assert "ACRSYNC_STORE" in str(raised.value)
        if isinstance(raised.value, StoreError):
            assert raised.value.fix or raised.value.code, raised.value
        assert listing(base) == before  # nothing created, whatever the value


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=store_values.filter(lambda v: "\x00" not in v),
    command=st.sampled_from(["rules list", "status"]),
)
def test_garbage_store_value_gives_one_cli_error_naming_the_variable(value: str, command: str) -> None:
    # (NUL cannot be in a real environment variable: the operating system refuses it)
    with sandbox() as base:
        env = store_env(value.replace(BASE, str(base)))
        before = listing(base)
        result = cli(env, *command.split())
        assert result.exit_code in (0, 1), result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        assert "ACRSYNC_STORE" in result.output
        assert "Traceback" not in result.output
        assert listing(base) == before
