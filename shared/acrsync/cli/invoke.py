"""``acr-sync invoke FUNCTION EVENT_FILE``: run a handler locally, exactly as FC calls it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import typer

from acrsync import bootstrap
from acrsync.cli.common import fail, friendly_errors, out, print_json
from acrsync.local import fc

REPO_ROOT = fc.FUNCTIONS_DIR.parent


def register(app: typer.Typer) -> None:
    """Add ``invoke`` to the root app."""
    app.command("invoke")(invoke)


def invoke(
    function: str = typer.Argument(..., help="replicator, watcher, reconciler or copier"),
    event_file: Path = typer.Argument(..., help="An event file, e.g. events/acs.cr/push_completed.json"),
    local: bool = typer.Option(
        False,
        "--local",
        help="Start the offline cloud (ACR emulator, DingTalk sink, temp SQLite) with examples/rules.yaml "
        "applied, instead of using the ACRSYNC_* configuration.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print only the handler's JSON response."),
) -> None:
    """Call functions/FUNCTION/handler.py with EVENT_FILE as bytes and an FC-shaped context."""
    if function not in fc.FUNCTION_NAMES:
        fail(f"unknown function {function!r}", hint=f"use one of: {', '.join(fc.FUNCTION_NAMES)}")
    try:
        event = event_file.read_bytes()
    except OSError as exc:
        fail(f"cannot read {event_file}: {exc.strerror}")
    if not local:
        with friendly_errors():
            response = fc.invoke(function, event, os.environ)
        _print(response, as_json)
        return
    from acrsync.local.stack import LocalCloud, seed_events
    from acrsync.service import rules_admin

    with tempfile.TemporaryDirectory(prefix="acrsync-invoke-") as tmp, LocalCloud(Path(tmp)) as cloud:
        seed_events(cloud.model, REPO_ROOT / "events")
        bootstrap.reset(cloud.env)
        with friendly_errors():
            doc = rules_admin.validate_file(REPO_ROOT / "examples" / "rules.yaml")
            rules_admin.apply(bootstrap.stores().rules, doc, prune=True, dry_run=False, now=0.0)
            response = fc.invoke(function, event, cloud.env)
        _print(response, as_json)
        if not as_json:
            tasks = cloud.model.requests_for("CreateRepoSyncTask")
            out.print(f"\nthe ACR emulator received {len(tasks)} CreateRepoSyncTask call(s)")
        bootstrap.reset()


def _print(response: dict[str, object], as_json: bool) -> None:
    if as_json:
        print_json(response)
        return
    out.print(f"status: [bold]{response.get('status')}[/]", markup=True)
    for item in response.get("results", []) or []:  # type: ignore[attr-defined]
        out.print(f"  {item}")
    for key in ("actions", "alerts_sent", "reason"):
        if key in response:
            out.print(f"{key}: {response[key]}")
