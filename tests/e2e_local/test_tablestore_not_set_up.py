"""``ACRSYNC_STORE=tablestore://...`` before `acr-sync tables init`: the functions raise a retryable error
naming the missing table, and every command says to run `tables init` — nothing is acknowledged or lost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from acrsync import bootstrap
from acrsync.cli.app import app
from acrsync.errors import StoreNotSetUp
from acrsync.local import fc
from acrsync.local.stack import LocalCloud
from acrsync.local.tablestore_standin import TablestoreStandIn
from tests.fixtures import load_event

pytestmark = pytest.mark.loopback


@pytest.fixture
def env_without_tables(tmp_path: Path) -> Iterator[dict[str, str]]:
    with LocalCloud(tmp_path) as cloud:
        emu = cloud.emulator
        with TablestoreStandIn(
            access_key_id=emu.access_key_id, access_key_secret=emu.access_key_secret, instance="acrsync-new"
        ) as ots:
            env = {
                **cloud.env,
                "ACRSYNC_STORE": "tablestore://acrsync-new",
                "ACRSYNC_TABLESTORE_ENDPOINT": ots.endpoint,
            }
            bootstrap.reset(env)
            yield env
            bootstrap.reset()


def test_push_before_tables_init_raises_naming_the_rules_table(env_without_tables: dict[str, str]) -> None:
    with pytest.raises(StoreNotSetUp) as raised:
        fc.invoke("replicator", load_event("acs.cr/push_completed.json"), env_without_tables)
    assert "acrsync_rules" in str(raised.value)
    assert "acr-sync tables init" in str(raised.value)


def test_tick_before_tables_init_raises_naming_a_table(env_without_tables: dict[str, str]) -> None:
    with pytest.raises(StoreNotSetUp, match=r"table acrsync_\w+ does not exist.*acr-sync tables init"):
        fc.invoke("watcher", load_event("timer/sweep.json"), env_without_tables)


EXAMPLE_RULES = str(Path(__file__).resolve().parents[2] / "examples" / "rules.yaml")


@pytest.mark.parametrize("command", [("rules", "list"), ("status",), ("rules", "apply", EXAMPLE_RULES)])
def test_commands_before_tables_init_say_to_run_it(
    env_without_tables: dict[str, str], command: tuple[str, ...]
) -> None:
    result = CliRunner().invoke(app, list(command))
    assert result.exit_code == 1, result.output
    assert "acr-sync tables init" in result.output
    assert "Traceback" not in result.output


def test_doctor_before_tables_init_lists_every_missing_table(env_without_tables: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["doctor", "--json"])
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    store = checks["store"]
    assert store["status"] == "FAIL"
    assert "acrsync_rules" in store["detail"]
    assert "acrsync_ledger" in store["detail"]
    assert "tables init" in store["fix"]
    assert result.exit_code == 1
