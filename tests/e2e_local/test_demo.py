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
    assert len(report.alerts) == 1
    assert "namespace not exist" in report.alerts[0][1]
    # the flaky Shanghai task was retried and verified
    assert any(d == "cri-demo-sh" and s is State.VERIFIED and a == 2 for d, s, a in states)
    # unmatched pushes made no task
    assert sum(1 for _, resp in report.pushes if not resp["results"]) == 2
    assert report.seconds < 60


def test_demo_command_prints_the_table_and_the_alert() -> None:
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "Replications" in result.output
    assert "DingTalk received" in result.output
    assert "everything stopped" in result.output
