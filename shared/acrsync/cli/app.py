"""``acr-sync``: the root app. Every command has ``--help``; data commands have ``--json``.

Each command group lives in its own module and registers on ``app``.
"""

from __future__ import annotations

import sys

import typer

from acrsync import __version__
from acrsync.cli import audit, canary, examples, invoke, local, ops, rules, tables
from acrsync.cli.common import console_logging, friendly_errors

app = typer.Typer(
    name="acr-sync",
    help=(
        "Rule-filtered, verified, alerting image replication between Alibaba Cloud ACR EE instances.\n\n"
        "Configuration comes from ACRSYNC_* environment variables (see the README); the store defaults to "
        "sqlite:///.acrsync/acrsync.db in the current directory."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
# Registration order is --help's order: the operator's commands first, the offline tools last.
app.add_typer(rules.app, name="rules")
ops.register(app)
audit.register(app)
canary.register(app)
tables.register(app)
invoke.register(app)
local.register(app)
examples.attach(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"acr-sync {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Show INFO log lines (default: warnings only)."
    ),
) -> None:
    console_logging(verbose)


def main() -> None:
    """Console-script entry point. A crash a command did not guard against still ends in one error line and
    exit code 1, never a traceback (README, CLI)."""
    try:
        with friendly_errors():
            app()
    except KeyboardInterrupt:
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
