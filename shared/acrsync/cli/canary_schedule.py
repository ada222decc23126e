"""``acr-sync canary --schedule CRON``: a crontab line to paste for this exact canary; nothing is pushed.

The line reads the variables from an env file (cron starts with an almost empty environment), runs the
canary with ``--json`` into a file (the last run's report) and appends its stderr to a log; the exit code
(0 passed, 1 broken, 3 objective missed) is what ``--alert`` and any other scheduler act on.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer

from acrsync import bootstrap
from acrsync.cli.common import out, print_json
from acrsync.domain.canary_schedule import schedule_env
from acrsync.domain.cron import CronError, check_schedule, crontab_line
from acrsync.domain.images import SourceImage, SyncRequest
from acrsync.domain.rules_eval import evaluate
from acrsync.errors import AcrSyncError

ENV_FILE = '"$HOME/.acrsync-canary.env"'
SETUP = f"set -a && . {ENV_FILE} && set +a"  # set -a: plain NAME=value lines are exported
REDIRECTIONS = '> "$HOME/acrsync-canary.json" 2>> "$HOME/acrsync-canary.log"'
EXIT_CODES = (
    "exit codes: 0 every destination verified (within --objective); 1 a stage is broken; "
    "3 nothing broken but a destination missed --objective; 2 a usage error"
)


def checked_schedule(value: str) -> str:
    """The schedule in normal form, or typer's usage error (exit 2) saying which field is wrong."""
    try:
        return check_schedule(value)
    except CronError as exc:
        raise typer.BadParameter(str(exc), param_hint="--schedule") from None


def print_schedule(
    schedule: str, source: SourceImage, options: list[str], *, alert: bool, as_json: bool
) -> None:
    """Print the crontab line running ``acr-sync canary`` with ``options``, the env names, the exit codes."""
    argv = [_executable(), "canary", f"{source.instance_id}/{source.repository}", *options, "--json"]
    line = crontab_line(schedule, SETUP, argv, REDIRECTIONS)
    requests, channels, note = _covering(source)
    settings = bootstrap.settings()
    set_here = (
        ("ACRSYNC_ACR_ENDPOINT", settings.acr_endpoint),
        ("ACRSYNC_STS_ENDPOINT", settings.sts_endpoint),
    )
    overrides = [name for name, value in set_here if value]
    env = schedule_env(
        requests,
        channels,
        tablestore=settings.store.kind == "tablestore",
        alert=alert,
        overrides=overrides,
    )
    unset = set(bootstrap.unset_env(n for n, _ in env))
    if as_json:
        print_json(
            {
                "schedule": checked_schedule(schedule),
                "crontab_line": line,
                "env_file": ENV_FILE.strip('"'),
                "env": [{"name": n, "why": why, "set_here": n not in unset} for n, why in env],
                "exit_codes": {"0": "passed", "1": "broken", "2": "usage error", "3": "objective missed"},
                "note": note,
            }
        )
        return
    _print_text(line, env, unset, note)


def _print_text(line: str, env: list[tuple[str, str]], unset: set[str], note: str) -> None:
    out.print("# crontab -e, then paste (nothing was pushed):")
    out.print(line)
    env_file = ENV_FILE.strip('"')
    out.print(
        f"\n# {env_file} (chmod 600), one NAME='value' a line (quoted: a value may hold $); names only here:"
    )
    for name, why in env:
        out.print(f"#   {name:<34} {why}{'  (not set in this shell)' if name in unset else ''}")
    out.print(f"\n# {EXIT_CODES}.")
    out.print("# Keep --timeout shorter than the interval so runs do not overlap.")
    if note:
        out.print(f"# note: {note}")


def _executable() -> str:
    """The full path of ``acr-sync`` (cron's PATH is /usr/bin:/bin): on PATH, else the one running now."""
    found = shutil.which("acr-sync")
    if found:
        return str(Path(found).absolute())
    running = Path(sys.argv[0])
    return str(running.absolute()) if running.name == "acr-sync" else "acr-sync"


def _covering(source: SourceImage) -> tuple[list[SyncRequest], Mapping[str, Any], str]:
    """What the rules give for a canary image now and the channels they name (env names depend on both);
    a note when they cannot say."""
    try:
        with bootstrap.read_only():
            index = bootstrap.rules_cache().index()
    except AcrSyncError as exc:
        return (
            [],
            {},
            (
                f"rules not readable here ({type(exc).__name__}): add each copy destination's "
                "credentials_env and the covering rule's channel variables yourself"
            ),
        )
    requests = evaluate(index, source)
    if not requests:
        return [], index.channels, f"no enabled rule selects {source.ref}: the canary would stop at 'rules'"
    return requests, index.channels, ""
