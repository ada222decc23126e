"""``doctor`` over the wire (real ACR SDK → emulator), several calls failing at once: every row is there."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from acrsync.cli.app import app
from acrsync.local.acr_faults import FORBIDDEN, SERVER_ERROR, UNAVAILABLE
from acrsync.local.stack import LocalCloud
from acrsync.service.doctor_guard import RAM_FIX, TRANSIENT_FIX

pytestmark = pytest.mark.loopback
SRC = "cri-demo-src"


def test_doctor_with_denied_and_failing_calls_reports_every_row_with_its_fix(cloud: LocalCloud) -> None:
    # GIVEN a role without cr:ListRepository, a 500 on the first GetInstance and 503s on GetNamespace
    faults = cloud.model.faults
    faults.script(FORBIDDEN, action="ListRepository", times=10)
    faults.script(SERVER_ERROR, action="GetInstance", times=1)
    faults.script(UNAVAILABLE, action="GetNamespace", times=2)
    # WHEN doctor runs
    result = CliRunner().invoke(app, ["doctor", "--json"])
    # THEN it prints its report (not one error), exits 1, and every check has its row
    assert result.exit_code == 1, result.output
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert {
        "store",
        "rules",
        "credentials",
        f"source edition {SRC}",
        "destination region cn-shanghai",
        "destination region cn-beijing",
        "destination namespace cri-demo-bj",  # the "**" rule: its namespaces come from ListRepository
        "alert channel ops",
    } <= set(checks), sorted(checks)
    assert (checks["credentials"]["status"], checks["credentials"]["fix"]) == ("FAIL", TRANSIENT_FIX)
    assert "SystemError" in checks["credentials"]["detail"]
    assert checks[f"source edition {SRC}"]["status"] == "PASS"
    denied = checks["destination namespace cri-demo-bj"]
    assert (denied["status"], denied["fix"]) == ("FAIL", RAM_FIX)
    assert "Forbidden.RAM" in denied["detail"]
    unavailable = [c for c in checks.values() if "ServiceUnavailable" in c["detail"]]
    assert len(unavailable) == 2
    assert {c["status"] for c in unavailable} == {"FAIL"}
    assert checks["alert channel ops"]["status"] == "PASS"
