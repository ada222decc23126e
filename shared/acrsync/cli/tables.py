"""``acr-sync tables init``: create the Tablestore tables (idempotent) and wait until they answer."""

from __future__ import annotations

import typer

from acrsync import bootstrap
from acrsync.cli.common import friendly_errors, out, print_json

app = typer.Typer(
    help="Tablestore tables (only for ACRSYNC_STORE=tablestore://INSTANCE).", no_args_is_help=True
)


def register(root: typer.Typer) -> None:
    """Add the ``tables`` group to the root app."""
    root.add_typer(app, name="tables")


@app.command("init")
def init(
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait until every table answers DescribeTable."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Create every missing table (rules, ledger, open tasks, task index, budgets); report what it did."""
    with friendly_errors():
        cfg = bootstrap.settings()
        if cfg.store.kind != "tablestore":
            note = f"the store is {cfg.store.kind} ({cfg.store.location}): it creates its tables itself"
            if as_json:  # --json prints one JSON document, whatever the store
                doc = {"store": cfg.store.kind, "instance": cfg.store.location, "tables": [], "note": note}
                print_json(doc)
            else:
                out.print(note)
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
