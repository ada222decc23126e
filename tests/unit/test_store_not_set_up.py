"""A store nobody set up never acknowledges a push: the functions raise a retryable, typed error (FC retries,
then dead-letters: the event is kept), log it at ERROR with the command that fixes it, and create nothing."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from acrsync import bootstrap
from acrsync.errors import RetryableError, RulesNotApplied, StoreNotSetUp, StoreUnavailable
from tests.fixtures import load_event
from tests.harness import push_event
from tests.unit.store_world import EXAMPLE_RULES, cli, invoke, log_lines, pin, store_env

PUSH = load_event("acs.cr/push_completed.json")  # team-a/web:v1.2.3: two destinations
PUSH_ID = json.loads(PUSH)["id"]
TICK = load_event("timer/sweep.json")


@pytest.fixture(autouse=True)
def _fresh_instance() -> Iterator[None]:
    yield
    bootstrap.reset()


def errors_logged(capsys: pytest.CaptureFixture[str], event: str) -> list[dict[str, object]]:
    return [line for line in log_lines(capsys.readouterr().out) if line["event"] == event]


def test_push_against_a_missing_sqlite_file_raises_retryable_and_creates_no_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN ACRSYNC_STORE naming a file that does not exist (never set up, or a typo)
    path = tmp_path / "never" / "acrsync.db"
    env = store_env(path)
    world = pin(env)
    # WHEN a push arrives
    with pytest.raises(StoreNotSetUp) as raised:
        invoke("replicator", PUSH, env)
    # THEN FC is told to retry, with the variable and the fix in the message; nothing was submitted
    assert isinstance(raised.value, RetryableError)
    assert "ACRSYNC_STORE=sqlite:///" in str(raised.value)
    assert "acr-sync rules apply" in str(raised.value)
    assert world.creates() == []
    # AND no store (nor its directory) was created behind anyone's back
    assert not path.parent.exists()
    # AND it is logged at ERROR, saying what to do
    (line,) = errors_logged(capsys, "store_not_set_up")
    assert line["level"] == "error"
    assert "acr-sync rules apply" in str(line["fix"])


def test_push_against_a_store_set_up_without_rules_raises_rules_not_applied(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a store created by `tables init` (rules version 0: nothing was ever applied)
    env = store_env(tmp_path / "acrsync.db")
    assert cli(env, "tables", "init").exit_code == 0
    world = pin(env)
    # WHEN a push arrives THEN it is a configuration error, not "no rule matched"
    with pytest.raises(RulesNotApplied, match="no rules were ever applied"):
        invoke("replicator", PUSH, env)
    assert world.creates() == []
    assert errors_logged(capsys, "store_not_set_up")


def test_store_whose_rules_were_all_removed_matches_nothing_and_acknowledges(tmp_path: Path) -> None:
    # GIVEN rules applied once, then every rule pruned (a deliberate, versioned "replicate nothing")
    env = store_env(tmp_path / "acrsync.db")
    assert cli(env, "rules", "apply", str(EXAMPLE_RULES)).exit_code == 0
    empty = tmp_path / "empty.yaml"
    empty.write_text("version: 1\nrules: []\n")
    assert cli(env, "rules", "apply", str(empty), "--prune").exit_code == 0
    world = pin(env)
    # WHEN a push arrives THEN no rule matched is the honest answer
    assert invoke("replicator", PUSH, env) == {"status": "ok", "event_ids": [PUSH_ID], "results": []}
    assert world.creates() == []


def test_store_file_deleted_under_a_warm_instance_fails_loudly_and_is_not_recreated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a warm instance that has replicated one push
    path = tmp_path / "acrsync.db"
    env = store_env(path)
    assert cli(env, "rules", "apply", str(EXAMPLE_RULES)).exit_code == 0
    world = pin(env)
    assert invoke("replicator", PUSH, env)["status"] == "ok"
    # WHEN the file is deleted under it and another push arrives
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with pytest.raises(StoreNotSetUp, match="deleted while this instance had it open"):
        invoke("replicator", push_event("v1.2.4", "sha256:" + "4" * 64), env)
    # THEN nothing was written into the unlinked file, no new file appeared, and it was logged at ERROR
    assert not path.exists()
    assert len(world.creates()) == 2  # the first push's two tasks only
    assert errors_logged(capsys, "store_file_deleted")[0]["level"] == "error"


def test_store_file_replaced_under_a_warm_instance_fails_once_then_uses_the_new_file(tmp_path: Path) -> None:
    # GIVEN a warm instance on one file, and another set-up store with the same rules
    path, other = tmp_path / "acrsync.db", tmp_path / "restored.db"
    env = store_env(path)
    for target in (path, other):
        assert cli(store_env(target), "rules", "apply", str(EXAMPLE_RULES)).exit_code == 0
    pin(env)
    assert invoke("replicator", PUSH, env)["status"] == "ok"
    # WHEN the other file is moved into its place (a restore)
    os.replace(other, path)
    # THEN the next invocation fails loudly (retryable), and the one after runs on the new file
    event = push_event("v1.2.5", "sha256:" + "5" * 64)
    with pytest.raises(StoreUnavailable, match="replaced while this instance had it open"):
        invoke("replicator", event, env)
    assert invoke("replicator", event, env)["status"] == "ok"


def test_timer_tick_against_a_missing_store_is_a_logged_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the watcher configured with a store nobody set up
    path = tmp_path / "acrsync.db"
    env = store_env(path)
    pin(env)
    # WHEN its timer fires THEN the tick fails with the fix (every minute, until someone sets it up)
    with pytest.raises(StoreNotSetUp, match="acr-sync rules apply"):
        invoke("watcher", TICK, env, timeout=120)
    assert not path.exists()
    assert errors_logged(capsys, "store_not_set_up")[0]["level"] == "error"


def test_a_store_set_up_by_an_older_version_gains_the_new_tables_on_first_use(tmp_path: Path) -> None:
    # GIVEN a store set up and used by an older acr-sync: its rules applied, but without the tables added
    # since (the reconciler's state, the events marks)
    path = tmp_path / "acrsync.db"
    env = store_env(path)
    assert cli(env, "rules", "apply", str(EXAMPLE_RULES)).exit_code == 0
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE reconcile_state")
        conn.execute("DROP TABLE events_seen")
    # WHEN a push and a timer tick arrive
    world = pin(env)
    invoke("replicator", PUSH, env)
    invoke("watcher", TICK, env)
    # THEN they worked (the push created its tasks) and the store has every table again
    assert world.creates()
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"reconcile_state", "events_seen"} <= tables


def test_a_stray_sqlite_file_is_not_turned_into_a_store_by_opening_it(tmp_path: Path) -> None:
    # GIVEN an SQLite file that was never set up by acr-sync (no rules_meta table)
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE unrelated (x)")
    env = store_env(path)
    pin(env)
    # WHEN a push arrives THEN it is refused as not set up, and no acr-sync table was created
    with pytest.raises(RetryableError):
        invoke("replicator", PUSH, env)
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"unrelated"}


def test_status_on_a_store_from_before_the_reconciler_says_no_pass_yet(tmp_path: Path) -> None:
    # GIVEN a store set up by an older acr-sync (no reconciler state table), not opened for writing since
    path = tmp_path / "acrsync.db"
    env = store_env(path)
    assert cli(env, "rules", "apply", str(EXAMPLE_RULES)).exit_code == 0
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE reconcile_state")
    # WHEN an operator asks for the status (read-only)
    result = cli(env, "status")
    # THEN it answers, saying no reconciler pass has run yet, and changed nothing
    assert result.exit_code == 0, result.output
    assert "reconciler: no completed pass yet" in result.output
