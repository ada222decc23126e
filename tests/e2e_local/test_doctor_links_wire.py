"""``doctor``'s custom-link row over the wire (real ACR SDK → emulator): unused, proven, and unreadable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from acrsync.cli.app import app
from acrsync.local import fc
from acrsync.local.acr_faults import FORBIDDEN
from acrsync.local.stack import SHANGHAI, SOURCE, LocalCloud
from acrsync.service.clock import ManualClock
from acrsync.service.doctor_links import LINK_RAM_FIX
from tests.e2e_local.test_links import LINK, _push, link_cloud

pytestmark = pytest.mark.loopback
ROW = f"custom link {LINK} ({SOURCE[0]} → {SHANGHAI[0]})"


@pytest.fixture
def linked(tmp_path: Path) -> Iterator[tuple[LocalCloud, ManualClock]]:
    yield from link_cloud(tmp_path)


def _doctor() -> tuple[int, dict[str, dict[str, Any]]]:
    result = CliRunner().invoke(app, ["doctor", "--json"])
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    return result.exit_code, checks


def test_given_a_link_destination_when_doctor_runs_before_and_after_first_use_then_warn_then_pass(
    linked: tuple[LocalCloud, ManualClock],
) -> None:
    local, _ = linked
    code, checks = _doctor()
    assert checks[ROW]["status"] == "WARN", checks[ROW]
    assert checks[ROW]["detail"].startswith("not proven: acr-sync has no sync rule with this link yet")
    assert code == 0  # a warning is not a failure
    fc.invoke("replicator", _push(local, "v1"), local.env)
    local.model.run_pending()
    code, checks = _doctor()
    (task,) = [r for r in local.model.requests_for("CreateRepoSyncTaskByRule") if r.outcome == "ok"]
    assert checks[ROW]["status"] == "PASS", checks[ROW]
    assert checks[ROW]["detail"].startswith("carried task rst-")
    assert "(team-a/web:v1)" in checks[ROW]["detail"]
    assert code == 0
    assert local.model.requests_for("ListRepoSyncRule")[-1].params.get("InstanceId") == SOURCE[0]
    assert task.params["Tag"] == "v1"


def test_given_a_failed_task_over_the_link_when_doctor_runs_then_it_fails_with_the_task_issue(
    linked: tuple[LocalCloud, ManualClock],
) -> None:
    local, _ = linked
    local.model.fail_destination(SHANGHAI[0], "team-a", "connect timeout: CEN route to cn-shanghai missing")
    fc.invoke("replicator", _push(local, "v1"), local.env)
    local.model.run_pending()
    code, checks = _doctor()
    assert checks[ROW]["status"] == "FAIL"
    assert "CEN route to cn-shanghai missing" in checks[ROW]["detail"]
    assert code == 1


def test_given_list_sync_rule_is_denied_when_doctor_runs_then_the_link_row_fails_and_the_table_still_prints(
    linked: tuple[LocalCloud, ManualClock],
) -> None:
    local, _ = linked
    local.model.faults.script(FORBIDDEN, action="ListRepoSyncRule", times=10)
    code, checks = _doctor()
    assert code == 1
    assert (checks[ROW]["status"], checks[ROW]["fix"]) == ("FAIL", LINK_RAM_FIX)
    assert "Forbidden.RAM" in checks[ROW]["detail"]
    assert checks["credentials"]["status"] == "PASS"
    assert any(name.startswith("alert channel") for name in checks)
    # AND the human table prints every row too, not a traceback
    text = CliRunner().invoke(app, ["doctor"]).output
    assert "custom link" in text
    assert "Traceback" not in text
