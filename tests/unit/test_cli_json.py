"""Every command with ``--json`` prints exactly one JSON document on stdout; log lines go to stderr, even at
``--verbose`` and even when the command runs a handler (``invoke``), which logs JSON lines of its own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from acrsync.cli.app import app
from tests.offline_functions import EXAMPLE_RULES, ROOT, OfflineFunctions

EVENTS = ROOT / "events"
COMMANDS = {
    "rules validate": ["rules", "validate", str(EXAMPLE_RULES)],
    "rules apply": ["rules", "apply", str(EXAMPLE_RULES)],
    "rules list": ["rules", "list"],
    "rules explain": ["rules", "explain", "cri-demo-src/team-a/web:v1.2.3"],
    "invoke a push": ["invoke", "replicator", str(EVENTS / "acs.cr" / "push_completed.json")],
    "invoke a refused body": ["invoke", "replicator", str(EVENTS / "invalid" / "malformed.json")],
    "invoke a tick": ["invoke", "watcher", str(EVENTS / "timer" / "sweep.json")],
    "replicate": [
        "replicate",
        "cri-demo-src/team-a/web:v1.2.3",
        "--to",
        "cri-demo-sh/cn-shanghai/team-a/web:v9",
    ],
    "backfill": ["backfill", "--dry-run"],
    "status": ["status"],
    "retry": ["retry", "--dry-run"],
    "doctor": ["doctor"],
    "tables init": ["tables", "init"],
}
# What the command logs at INFO, to show the lines went to stderr rather than nowhere.
LOGGED = {
    "invoke a push": "push_handled",
    "invoke a refused body": "event_refused",
    "invoke a tick": "watch_handled",
}


@pytest.fixture
def functions(tmp_path: Path) -> Iterator[OfflineFunctions]:
    world = OfflineFunctions(tmp_path)
    world.apply_rules()
    yield world
    world.close()


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_json_output_is_one_json_document_on_stdout_and_logs_go_to_stderr(
    functions: OfflineFunctions, name: str
) -> None:
    # GIVEN the offline world WHEN the command runs with --verbose (INFO logs) and --json
    result = CliRunner().invoke(app, ["--verbose", *COMMANDS[name], "--json"])
    # THEN stdout parses as exactly one JSON document (json.loads refuses trailing lines)
    assert result.exit_code == (1 if name == "doctor" else 0), result.output  # doctor: no credentials here
    json.loads(result.stdout)
    # AND the handler's own log lines are on stderr
    if name in LOGGED:
        assert LOGGED[name] in result.stderr


def test_every_function_logs_one_summary_line_per_invocation_even_the_copier(
    functions: OfflineFunctions, tmp_path: Path
) -> None:
    # GIVEN a copy job for a claim the ledger does not hold
    job = tmp_path / "job.json"
    job.write_text('{"claim_id": "no-such-claim"}')
    # WHEN the copier runs it
    result = CliRunner().invoke(app, ["--verbose", "invoke", "copier", str(job), "--json"])
    # THEN it answers with the outcome and logs its summary line (README: Deploying, step 6)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["outcome"] == "unknown"
    assert "copy_handled" in result.stderr
