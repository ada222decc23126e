"""``acr-sync rules validate|apply|list|explain``."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.markup import escape

from acrsync import bootstrap
from acrsync.cli.audit import describe_settings, reconcile_settings
from acrsync.cli.common import fail, friendly_errors, out, print_json
from acrsync.domain.images import SourceImage, parse_image_ref
from acrsync.domain.rules import compile_rules, explain
from acrsync.service import rules_admin

app = typer.Typer(help="Validate, apply, list and explain tag-filter rules.", no_args_is_help=True)

FILE = typer.Argument(..., exists=False, help="A rules file (YAML, `version: 1`), e.g. examples/rules.yaml.")
JSON = typer.Option(False, "--json", help="Print machine-readable JSON.")


@app.command()
def validate(file: Path = FILE, as_json: bool = JSON) -> None:
    """Check a rules file: every error is listed with its path in the file and why."""
    with friendly_errors():
        doc = rules_admin.validate_file(file)
    if as_json:
        print_json({"valid": True, "rules": [r["name"] for r in doc.rules], "channels": sorted(doc.channels)})
        return
    out.print(
        f"[green]✓[/] {escape(str(file))}: {len(doc.rules)} rule(s), {len(doc.channels)} channel(s) — valid",
        markup=True,
    )


@app.command()
def apply(
    file: Path = FILE,
    prune: bool = typer.Option(False, "--prune", help="Delete stored rules that the file no longer has."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the diff; write nothing."),
    as_json: bool = JSON,
) -> None:
    """Validate FILE, show the diff against the store, and write it (one new version).

    A SQLite store that does not exist yet is created here (with every table the functions need).
    """
    with friendly_errors():
        doc = rules_admin.validate_file(file)
        result = rules_admin.apply(
            bootstrap.stores().rules, doc, prune=prune, dry_run=dry_run, now=time.time()
        )
    if as_json:
        print_json({**result.diff.as_dict(), "written": result.written, "version": result.version})
        return
    out.print(rules_admin.format_diff(result.diff))
    if result.written:
        out.print(f"[green]✓[/] applied: rules version {result.version}", markup=True)
    elif dry_run:
        out.print("[yellow]dry run:[/] nothing written", markup=True)
    else:
        out.print(f"nothing to change (version {result.version})")


@app.command("list")
def list_rules(as_json: bool = JSON) -> None:
    """Show what the store holds: version, rules, their sources and destinations (opens it read-only)."""
    with friendly_errors(), bootstrap.read_only():
        stored = bootstrap.stores().rules.read()
    if as_json:
        print_json({"version": stored.version, "updated_at": stored.updated_at, "rules": list(stored.rules)})
        return
    if not stored.rules:
        store = bootstrap.settings().store
        missing = store.kind == "sqlite" and not Path(store.location).exists()
        out.print(
            f"no rules stored in ACRSYNC_STORE={store.url} "
            f"({'no such file yet' if missing else f'version {stored.version}'}) — "
            "apply some: acr-sync rules apply examples/rules.yaml"
        )
        return
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(stored.updated_at))
    out.print(f"rules version {stored.version}, updated {when}")
    for rule in stored.rules:
        source = rule.get("source", {})
        dests = ", ".join(
            str(d["registry"]) if d.get("registry") else f"{d['instance']}@{d['region']}"
            for d in rule.get("destinations", [])
        )
        state = "" if rule.get("enabled", True) else " [dim](disabled)[/]"
        repos = ", ".join(source.get("repositories", []))
        where = escape(f"{source.get('instance')} {repos} → {dests}")
        out.print(f"- [bold]{rule['name']}[/]{state}: {where}", markup=True)


@app.command("explain")
def explain_image(
    image: str = typer.Argument(..., help="INSTANCE/NAMESPACE/REPO:TAG, e.g. cri-demo-src/team-a/web:v1.2.3"),
    region: str = typer.Option("", "--region", help="Source region (default: ACRSYNC_REGION)."),
    file: Path | None = typer.Option(
        None, "--file", "-f", help="Explain against a rules file instead of the store."
    ),
    as_json: bool = JSON,
) -> None:
    """For one image, say for every rule whether it matched, which clause decided, and where it would go."""
    try:
        ref = parse_image_ref(image)
    except ValueError as exc:
        fail(str(exc))
    with friendly_errors(), bootstrap.read_only():
        if file is not None:
            doc = rules_admin.validate_file(file)
            index = compile_rules(doc.rules, doc.channels)
            rule_docs = doc.rules
        else:
            index = bootstrap.rules_cache().index()
            rule_docs = bootstrap.stores().rules.read().rules
        source_region = region or bootstrap.settings().region
    source = SourceImage(ref.instance_id, source_region, ref.namespace, ref.repo, ref.tag, ref.digest)
    verdicts = explain(index, source)
    settings = reconcile_settings(rule_docs)
    if as_json:
        print_json([{**v.as_dict(), "reconciler": settings.get(v.rule, {})} for v in verdicts])
        return
    if not verdicts:
        out.print("no rules — apply some first: acr-sync rules apply examples/rules.yaml")
        return
    out.print(rules_admin.format_explain(verdicts))
    for verdict in verdicts:
        if verdict.matched and verdict.rule in settings:
            out.print(f"{verdict.rule} (reconciler): {describe_settings(settings[verdict.rule])}")
