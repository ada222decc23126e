"""``acr-sync invoke``: an unknown function name is refused naming every function there is."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from acrsync.cli.app import app
from acrsync.local.fc import FUNCTION_NAMES

ROOT = Path(__file__).resolve().parents[2]


def test_given_an_unknown_function_when_invoked_then_the_error_names_all_four_functions() -> None:
    result = CliRunner().invoke(app, ["invoke", "replicatr", str(ROOT / "events" / "timer" / "sweep.json")])
    assert result.exit_code == 1
    assert "unknown function 'replicatr'" in result.output
    for name in FUNCTION_NAMES:
        assert name in result.output
    assert "Traceback" not in result.output


def test_invoke_help_names_every_function() -> None:
    result = CliRunner().invoke(app, ["invoke", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in FUNCTION_NAMES:
        assert name in result.output
