"""The replicator flow with ``ACRSYNC_STORE=tablestore://...`` on the loopback stand-in: works unchanged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from acrsync import bootstrap
from acrsync.cli.app import app
from acrsync.domain.ledger import State
from acrsync.local import fc
from acrsync.local.stack import LocalCloud, seed_events
from acrsync.local.tablestore_standin import TablestoreStandIn
from acrsync.service import rules_admin
from tests.fixtures import load_event

pytestmark = pytest.mark.loopback
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cloud_on_tablestore(tmp_path: Path) -> Iterator[tuple[LocalCloud, dict[str, str]]]:
    with LocalCloud(tmp_path) as cloud:
        emu = cloud.emulator
        with TablestoreStandIn(
            access_key_id=emu.access_key_id, access_key_secret=emu.access_key_secret, instance="acrsync-e2e"
        ) as ots:
            env = {
                **cloud.env,
                "ACRSYNC_STORE": "tablestore://acrsync-e2e",
                "ACRSYNC_TABLESTORE_ENDPOINT": ots.endpoint,
            }
            seed_events(cloud.model, ROOT / "events")
            bootstrap.reset(env)
            yield cloud, env
            bootstrap.reset()


def test_tables_init_creates_then_finds_the_tables(
    cloud_on_tablestore: tuple[LocalCloud, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, env = cloud_on_tablestore
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    bootstrap.reset()
    first = CliRunner().invoke(app, ["tables", "init", "--json"])
    assert first.exit_code == 0, first.output
    assert all(line.startswith("created") for line in json.loads(first.output)["tables"])
    bootstrap.reset()
    second = CliRunner().invoke(app, ["tables", "init", "--json"])
    assert all(line.startswith("exists") for line in json.loads(second.output)["tables"])


def test_replicator_flow_works_unchanged_on_tablestore(
    cloud_on_tablestore: tuple[LocalCloud, dict[str, str]],
) -> None:
    from acrsync.adapters.tablestore_client import create_tables

    cloud, env = cloud_on_tablestore
    create_tables(bootstrap.ots_client(), wait=True)
    doc = rules_admin.validate_file(ROOT / "examples" / "rules.yaml")
    rules_admin.apply(bootstrap.stores().rules, doc, prune=True, dry_run=False, now=0.0)
    event = load_event("acs.cr/push_completed.json")
    for _ in range(3):
        assert fc.invoke("replicator", event, env)["status"] == "ok"
    creates = [r for r in cloud.model.requests_for("CreateRepoSyncTask") if r.outcome == "ok"]
    assert sorted(r.params["TargetInstanceId"] for r in creates) == ["cri-demo-bj", "cri-demo-sh"]
    rows = list(bootstrap.stores().ledger.scan())
    assert {r.state for r in rows} == {State.SUBMITTED}
    assert all(r.task_id for r in rows)
    # AND the watcher follows the tasks to verified through the Tablestore open-task index
    completions: list[dict[str, object]] = []
    cloud.model.on_sync_completed(completions.append)
    cloud.model.run_pending()
    for completion in completions:
        fc.invoke("watcher", json.dumps(completion).encode(), env)
    assert {r.state for r in bootstrap.stores().ledger.scan()} == {State.VERIFIED}
    assert bootstrap.stores().ledger.list_open(limit=10) == []


def test_reconciler_on_tablestore_repairs_and_keeps_its_cursor_and_last_pass_there(
    cloud_on_tablestore: tuple[LocalCloud, dict[str, str]],
) -> None:
    from acrsync.adapters.tablestore_client import create_tables
    from acrsync.adapters.tablestore_state import TablestoreStateStore

    _, env = cloud_on_tablestore
    create_tables(bootstrap.ots_client(), wait=True)
    doc = rules_admin.validate_file(ROOT / "examples" / "rules.yaml")
    rules_admin.apply(bootstrap.stores().rules, doc, prune=True, dry_run=False, now=0.0)
    tick = json.dumps({"triggerTime": "2026-11-30T10:00:00Z", "triggerName": "reconcile", "payload": "{}"})
    response = fc.invoke("reconciler", tick.encode(), env)
    assert response["completed"] is True
    assert response["outcomes"]["submitted"] >= 2
    state = TablestoreStateStore(bootstrap.ots_client())
    assert state.read("reconciler:last_pass")[0]["pass_id"] == response["pass_id"]
    assert state.read("reconciler:cursor")[0] == {}
    again = fc.invoke("reconciler", tick.encode(), env)
    assert "submitted" not in again["outcomes"]  # the claims made the second pass a no-op
