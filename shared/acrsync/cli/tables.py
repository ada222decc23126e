"""``acr-sync tables init``: create the Tablestore tables (idempotent) and wait until they answer."""

from __future__ import annotations

import typer

from acrsync import bootstrap
from acrsync.cli.common import friendly_errors, out, print_json

app = typer.Typer(
    help="Set up the store's tables (Tablestore, or the SQLite file of ACRSYNC_STORE=sqlite:///PATH).",
    no_args_is_help=True,
)


def register(root: typer.Typer) -> None:
    """Add the ``tables`` group to the root app."""
    root.add_typer(app, name="tables")


@app.command("init")
def init(
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait until every table answers DescribeTable."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Create every missing table: rules, ledger, open tasks, task index, budget, reconciler state.

    For SQLite this creates the file (and its directories) with every table; `rules apply` does too.
    """
    with friendly_errors():
        cfg = bootstrap.settings()
        if cfg.store.kind != "tablestore":
            outcome = bootstrap.setup_store()
            if as_json:  # --json prints one JSON document, whatever the store
                print_json({"store": cfg.store.kind, "sqlite": cfg.store.location, "file": outcome})
            else:
                out.print(f"SQLite store {cfg.store.location}: {outcome}, every table present")
            return
        from acrsync.adapters.tablestore_client import create_tables

        report = create_tables(bootstrap.ots_client(), wait=wait)
    if as_json:
        print_json({"store": cfg.store.kind, "instance": cfg.store.location, "tables": report})
        return
    for line in report:
        verb, _, table = line.partition(": ")
        mark = "[green]created[/]" if verb == "created" else "[dim]exists[/] "
        out.print(f"{mark} {table}", markup=True)
    out.print(f"tables ready in Tablestore instance {cfg.store.location}")
