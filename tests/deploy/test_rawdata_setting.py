"""s.yaml: ACRSYNC_ACCEPT_RAWDATA agrees with the EventBridge triggers' eventSchema, in every function."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from acrsync.config import load_settings
from acrsync.local.fc import FUNCTION_NAMES

REPO = Path(__file__).resolve().parents[2]


def props(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((REPO / "s.yaml").read_text(encoding="utf-8"))
    found: dict[str, Any] = next(
        r["props"] for r in doc["resources"].values() if r["props"]["functionName"] == f"acr-sync-{name}"
    )
    return found


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_rawdata_is_accepted_exactly_when_a_trigger_delivers_rawdata(name: str) -> None:
    # GIVEN the function's environment and its EventBridge triggers
    function = props(name)
    env = {k: str(v) for k, v in function["environmentVariables"].items() if "${" not in str(v)}
    schemas = {
        t["triggerConfig"]["eventSinkConfig"]["deliveryOption"]["eventSchema"]
        for t in function["triggers"]
        if t["triggerType"] == "eventbridge"
    }
    # THEN the variable is set explicitly, as a string FC passes through, and says what the triggers send
    assert isinstance(function["environmentVariables"]["ACRSYNC_ACCEPT_RAWDATA"], str)
    accepted = load_settings({**env, "ACRSYNC_REGION": "cn-hangzhou"}).accept_raw_data
    if accepted:
        assert schemas == {"RawData"}
    else:  # CloudEvents only; a function without EventBridge triggers (the reconciler's timer) has none
        assert schemas <= {"CloudEvents"}
