"""What every command shares: human logging, error printing, JSON output, the composition root."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import click
import typer
from rich.console import Console
from rich.markup import escape

from acrsync.errors import AcrSyncError, ConfigError, RuleConfigError, StoreError
from acrsync.logging import configure, get_logger

log = get_logger(__name__)

# Piped output (CI logs, `| less`) gets a wide page instead of rich's 80-column default.
# markup=False: user text (globs like team-[ab]/*, TaskIssues) must print as written; styled lines pass
# markup=True explicitly and escape what they interpolate.
out = Console(
    highlight=False, soft_wrap=True, markup=False, emoji=False, width=None if sys.stdout.isatty() else 160
)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False, emoji=False)


def console_logging(verbose: bool) -> None:
    """Log lines for a person: console renderer on stderr, warnings only unless ``--verbose``."""
    configure(level="INFO" if verbose else "WARNING", human=True)


def print_json(data: Any) -> None:
    """Machine-readable output on stdout (nothing else is printed there with ``--json``)."""
    typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


# An error quotes what the operator typed: a 100,000-character argument must not become a 100 KB message.
MAX_MESSAGE_CHARS = 2_000


def bounded(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` cut to ``limit`` characters in its middle (its start and its end, where messages say what
    is wrong, are kept), terminal control characters escaped (line breaks kept): a message never floods or
    rewrites the operator's screen."""
    half = limit // 2
    cut = (
        text
        if len(text) <= limit
        else f"{text[:half]} …({len(text) - 2 * half:,} characters cut)… {text[-half:]}"
    )
    return "".join(c if c == "\n" or c.isprintable() else repr(c)[1:-1] for c in cut)


def fail(message: str, *, hint: str = "", code: int = 1) -> NoReturn:
    """Print an error (and what to do about it) and exit non-zero."""
    err.print(f"[bold red]error:[/] {escape(bounded(message))}", markup=True)
    if hint:
        err.print(f"[dim]hint:[/] {escape(bounded(hint))}", markup=True)
    raise typer.Exit(code)


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn every error into one clear message and exit code 1: acr-sync's own with what to do about them,
    anything else as its type and text (the traceback goes to the log at DEBUG, shown with ``--verbose``)."""
    try:
        yield
    except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
        raise  # already an exit with its own message (``fail``, typer's usage errors)
    except StoreError as exc:
        fail(exc.problem, hint=exc.fix or "check ACRSYNC_STORE (see the configuration table in README.md)")
    except RuleConfigError as exc:
        for line in exc.errors:
            err.print(f"[red]✗[/] {escape(bounded(line))}", markup=True)
        fail(
            f"{len(exc.errors)} problem(s) found; nothing was written",
            hint="fix the lines above and run again",
        )
    except ConfigError as exc:
        fail(str(exc), hint="see the configuration table in README.md")
    except AcrSyncError as exc:
        fail(f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # a command never ends in a bare traceback
        log.info("command_crashed", exc_info=True)
        fail(f"unexpected {type(exc).__name__}: {exc}", hint="run again with --verbose for the details")


def call(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` under ``friendly_errors``."""
    with friendly_errors():
        return fn()
