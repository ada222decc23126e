"""The console script never ends in a traceback: an error a command did not guard against is one line and
exit code 1 (README, CLI)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from acrsync.cli import app as cli_app
from acrsync.cli import rules as cli_rules

ROOT = Path(__file__).resolve().parents[2]


def _boom(_rules: object) -> object:
    raise RuntimeError("planted defect")


def test_given_an_unguarded_crash_when_the_console_script_runs_then_one_error_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli_rules, "reconcile_settings", _boom)
    argv = ["acr-sync", "rules", "explain", "cri-demo-src/team-a/web:v1.2.3"]
    monkeypatch.setattr(sys, "argv", [*argv, "--file", str(ROOT / "examples" / "rules.yaml")])
    with pytest.raises(SystemExit) as exited:
        cli_app.main()
    assert exited.value.code == 1
    captured = capsys.readouterr()
    assert "unexpected RuntimeError: planted defect" in captured.err
    assert "Traceback" not in captured.err + captured.out
