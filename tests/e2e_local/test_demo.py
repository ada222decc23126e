"""``acr-sync demo`` runs the whole flow and reports it truthfully."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from acrsync.cli.app import app
from acrsync.domain.ledger import State
from acrsync.local import demo

pytestmark = pytest.mark.loopback


def test_demo_scenario_replicates_retries_verifies_and_alerts_once(tmp_path: Path) -> None:
    report = demo.run(tmp_path)
    states = [(r.dest_instance, r.state, r.attempts) for r in report.rows]
    # Beijing team-a is broken on purpose: both team-a tags fail there, in one grouped alert
    assert sum(1 for d, s, _ in states if d == "cri-demo-bj" and s is State.FAILED) == 2
    failures = [text for title, text in report.alerts if "sync task failed" in title]
    assert len(failures) == 1
    assert "namespace not exist" in failures[0]
    # the flaky Shanghai task was retried and verified
    assert any(d == "cri-demo-sh" and s is State.VERIFIED and a == 2 for d, s, a in states)
    # unmatched pushes made no task
    assert sum(1 for _, resp in report.pushes if not resp["results"]) == 2
    assert report.seconds < 60


def test_demo_reconciler_repairs_the_one_lost_push_and_reports_the_one_conflict(tmp_path: Path) -> None:
    report = demo.run(tmp_path)
    assert report.reconcile["completed"] is True
    assert report.reconcile["events_missed"] == 1
    assert report.reconcile["kinds"]["conflict"] == 1
    (lost,) = [r for r in report.rows if r.source_tag == "v2.2.0"]
    assert lost.state is State.VERIFIED
    assert {n.error_class for n in report.notices} == {"conflict", "events_missed"}
    titles = [title for title, _ in report.alerts]
    assert sum("tag conflict" in t for t in titles) == 1
    assert sum("push events missed" in t for t in titles) == 1


def test_demo_command_prints_the_table_and_the_alert() -> None:
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "Replications" in result.output
    assert "DingTalk received" in result.output
    assert "everything stopped" in result.output
    assert "repaired (no push event had brought it)" in result.output
    assert "Reconciler" in result.output
    # AND each act's results come before the next act starts: the first act's tables, the alerts and
    # doctor --deployed, then the data-plane act's heading and its own results
    out = result.output
    order = ["Replications", "DingTalk received", "checks PASS", "Outcome events", "registry data plane"]
    positions = [out.index(marker) for marker in order]
    assert positions == sorted(positions)
    assert out.index("registry data plane") < out.index("canary: passed")
    # AND the custom-link act sits between them: the managed rule, the task by rule, the verified
    # destination, the refused LinkId's alert and doctor's link row, before the data plane starts
    link_act = [
        "custom replication link",
        "managed sync rule",
        "CreateRepoSyncTaskByRule SyncRuleId=",
        "verified (task rst-",
        "DingTalk received: acr-sync: custom link refused",
        "doctor PASS custom link",
    ]
    positions = [out.index(marker) for marker in ["Outcome events", *link_act, "registry data plane"]]
    assert positions == sorted(positions)
    assert "Traceback" not in out
