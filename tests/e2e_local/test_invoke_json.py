"""``acr-sync invoke --local --json``: the offline cloud's handler run prints one JSON document on stdout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from acrsync.cli.app import app

pytestmark = pytest.mark.loopback
EVENTS = Path(__file__).resolve().parents[2] / "events"


@pytest.mark.parametrize(
    ("function", "event", "logged"),
    [
        ("replicator", "acs.cr/push_completed.json", "push_handled"),
        ("watcher", "timer/sweep.json", "watch_handled"),
    ],
)
def test_invoke_local_json_is_one_json_document_with_the_logs_on_stderr(
    function: str, event: str, logged: str
) -> None:
    # WHEN a handler runs against the offline cloud with --verbose and --json
    result = CliRunner().invoke(
        app, ["--verbose", "invoke", function, str(EVENTS / event), "--local", "--json"]
    )
    # THEN stdout is the handler's response alone, and its log lines went to stderr
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "ok"
    assert logged in result.stderr
