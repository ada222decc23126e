"""``acr-sync local acr``: run the ACR emulator (and DingTalk sink) in the foreground for manual testing."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import typer

from acrsync.cli.common import out
from acrsync.local import fc

app = typer.Typer(help="The offline cloud: loopback stand-ins for ACR and DingTalk.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    """Add the ``local`` group to the root app."""
    root.add_typer(app, name="local")


@app.command("up")
def up(
    tick: float = typer.Option(0.5, help="Seconds between sync-task progress steps."),
) -> None:
    """Start the ACR emulator and DingTalk sink on free loopback ports; print the env to use; Ctrl-C stops."""
    from acrsync.local.stack import LocalCloud, seed_events

    with tempfile.TemporaryDirectory(prefix="acrsync-local-") as tmp, LocalCloud(Path(tmp)) as cloud:
        pushed = seed_events(cloud.model, fc.FUNCTIONS_DIR.parent / "events")
        cloud.model.start_ticker(tick)
        out.print(f"ACR emulator and DingTalk sink are up ({pushed} images from events/ pushed). Export:")
        for key, value in cloud.env.items():
            out.print(f"export {key}={value}")
        out.print(
            "then e.g.: acr-sync rules apply examples/rules.yaml && "
            "acr-sync invoke replicator events/acs.cr/push_completed.json"
        )
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            out.print("stopping")
