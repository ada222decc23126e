"""An unusable store is one clear, typed error naming ACRSYNC_STORE — never a raw sqlite3 traceback; read-only
commands work on a read-only store; a locked store answers within the invocation's deadline."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from acrsync import bootstrap
from acrsync.errors import ConfigError, RetryableError, StoreConfigError, StoreUnavailable
from tests.fixtures import load_event
from tests.unit.store_world import (
    EXAMPLE_RULES,
    cli,
    digest,
    invoke,
    pin,
    quiesce,
    read_only,
    store_env,
)

PUSH = load_event("acs.cr/push_completed.json")
TICK = load_event("timer/sweep.json")
IMAGE = "cri-demo-src/team-a/web:v1.2.3"


@pytest.fixture(autouse=True)
def _fresh_instance() -> Iterator[None]:
    yield
    bootstrap.reset()


def a_directory(tmp_path: Path) -> Path:
    return tmp_path


def a_junk_file(tmp_path: Path) -> Path:
    junk = tmp_path / "notes.txt"
    junk.write_text("this is not a database\n" * 100)
    return junk


BROKEN: dict[str, tuple[Callable[[Path], Path], str]] = {
    "directory": (a_directory, "is a directory"),
    "junk file": (a_junk_file, "not an acr-sync SQLite database"),
}
COMMANDS = {
    "rules list": ("rules", "list"),
    "rules explain": ("rules", "explain", IMAGE),
    "rules apply": ("rules", "apply", str(EXAMPLE_RULES)),
    "tables init": ("tables", "init"),
    "status": ("status",),
    "retry": ("retry", "--dry-run"),
    "backfill": ("backfill", "--dry-run"),
    "replicate": ("replicate", IMAGE, "--to", "cri-demo-sh/cn-shanghai"),
    "doctor": ("doctor",),
}


@pytest.mark.parametrize("broken", sorted(BROKEN))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_on_an_unusable_store_prints_one_error_naming_acrsync_store(
    tmp_path: Path, command: str, broken: str
) -> None:
    # GIVEN ACRSYNC_STORE pointing at a directory, or at a file that is not a database
    make, expected = BROKEN[broken]
    env = store_env(make(tmp_path))
    # WHEN any command touching the store runs
    result = cli(env, *COMMANDS[command], world=pin(env))
    # THEN it exits 1 with the variable, the path and the problem, and no traceback
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "ACRSYNC_STORE=sqlite:///" in result.output
    assert expected in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("function", ["replicator", "watcher"])
@pytest.mark.parametrize("broken", sorted(BROKEN))
def test_handlers_on_an_unusable_store_raise_a_typed_configuration_error(
    tmp_path: Path, function: str, broken: str
) -> None:
    make, expected = BROKEN[broken]
    env = store_env(make(tmp_path))
    pin(env)
    event = PUSH if function == "replicator" else TICK
    with pytest.raises(StoreConfigError) as raised:
        invoke(function, event, env)
    assert isinstance(raised.value, ConfigError)
    assert expected in str(raised.value)
    assert "ACRSYNC_STORE=sqlite:///" in str(raised.value)


@pytest.fixture
def read_only_store(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """A set-up store with rules and one replication, then made unwritable with its directory."""
    folder = tmp_path / "store"
    path = folder / "acrsync.db"
    env = store_env(path)
    assert cli(env, "rules", "apply", str(EXAMPLE_RULES)).exit_code == 0
    world = pin(env)
    assert invoke("replicator", PUSH, env)["status"] == "ok"
    quiesce(path)
    with read_only(path, folder):
        yield env, path
    del world


@pytest.mark.parametrize(
    "command",
    [("rules", "list", "--json"), ("status", "--json"), ("rules", "explain", IMAGE, "--json")],
    ids=["rules list", "status", "rules explain"],
)
def test_read_only_commands_work_on_a_read_only_store_and_change_nothing(
    read_only_store: tuple[dict[str, str], Path], command: tuple[str, ...]
) -> None:
    env, path = read_only_store
    before = digest(path)
    result = cli(env, *command)
    assert result.exit_code == 0, result.output
    assert "cri-demo-sh" in result.stdout  # the stored rule's destination / the replication row is there
    assert digest(path) == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["acrsync.db"]


def test_doctor_reads_a_read_only_store(read_only_store: tuple[dict[str, str], Path]) -> None:
    env, path = read_only_store
    before = digest(path)
    result = cli(env, "doctor", "--json", world=pin(env))
    rows = {row["name"]: row for row in json.loads(result.stdout)["checks"]}
    assert rows["store"]["status"] == "PASS", rows["store"]
    assert "read-only" in rows["store"]["detail"]
    assert rows["rules"]["status"] == "PASS", rows["rules"]
    assert digest(path) == before


def test_writes_to_a_read_only_store_fail_with_one_clear_error(
    read_only_store: tuple[dict[str, str], Path],
) -> None:
    env, path = read_only_store
    before = digest(path)
    result = cli(env, "rules", "apply", str(EXAMPLE_RULES), "--prune")
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "ACRSYNC_STORE=sqlite:///" in result.output
    assert "write access" in result.output
    pin(env)
    with pytest.raises(StoreConfigError, match="ACRSYNC_STORE=sqlite:///"):
        invoke("replicator", load_event("acs.cr/push_completed.v1.3.0.json"), env)
    assert digest(path) == before


def test_a_locked_store_gives_a_retryable_error_within_the_invocation_deadline(tmp_path: Path) -> None:
    # GIVEN a set-up store whose write lock another process holds
    path = tmp_path / "acrsync.db"
    env = store_env(path)
    assert cli(env, "rules", "apply", str(EXAMPLE_RULES)).exit_code == 0
    pin(env)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        # WHEN a push arrives at a function with 6 s to run (1 s of work after the 5 s safety margin)
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as raised:
            invoke("replicator", PUSH, env, timeout=6)
        elapsed = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # THEN FC is told to retry, the message says why, and the wait ended with the deadline, not 30 s later
    assert isinstance(raised.value, RetryableError)
    assert raised.value.code == "locked"
    assert "ACRSYNC_STORE=sqlite:///" in str(raised.value)
    assert elapsed < 4.0, elapsed
