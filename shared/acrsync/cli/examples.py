"""One or two example lines per command, shown at the end of its ``--help``.

Kept apart from the commands so each stays short; ``tests/unit/test_readme_truth.py`` checks that every
example names a real command and real options.
"""

from __future__ import annotations

import typer

EXAMPLES: dict[str, tuple[str, ...]] = {
    "rules validate": ("acr-sync rules validate examples/rules.yaml",),
    "rules apply": ("acr-sync rules apply rules.yaml --dry-run", "acr-sync rules apply rules.yaml --prune"),
    "rules list": ("acr-sync rules list --json",),
    "rules explain": (
        "acr-sync rules explain cri-src123/team-a/web:v1.2.3 --region cn-hangzhou",
        "acr-sync rules explain cri-demo-src/team-a/web:v1.2.3 --file examples/rules.yaml",
    ),
    "replicate": ("acr-sync replicate cri-src123/team-a/web:v1.2.3 --to cri-dst456/cn-shanghai",),
    "backfill": (
        "acr-sync backfill --rule releases-to-shanghai --dry-run",
        "acr-sync backfill --repository 'team-a/*' --max-qps 5",
    ),
    "status": ("acr-sync status --failed --since 1h",),
    "retry": (
        "acr-sync retry --failed --rule releases-to-shanghai --dry-run",
        "acr-sync retry cri-src123/team-a/web:v1.2.3 --now",
    ),
    "doctor": ("acr-sync doctor --send-test-alert", "acr-sync doctor --deployed --s-yaml s.yaml --json"),
    "audit": ("acr-sync audit --rule releases-to-shanghai --json", "acr-sync audit --repair"),
    "canary": (
        "acr-sync canary cri-src123/team-a/web --timeout 900 --json",
        "acr-sync canary cri-src123/canary/probe --objective 600 --alert",
        "acr-sync canary cri-src123/canary/probe --objective 600 --alert --schedule '*/30 * * * *'",
    ),
    "tables init": ("ACRSYNC_STORE=tablestore://my-ots acr-sync tables init",),
    "invoke": (
        "acr-sync invoke replicator events/acs.cr/push_completed.json --local",
        "acr-sync invoke watcher events/timer/sweep.json",
    ),
    "local up": ("acr-sync local up --tick 0.2",),
    "demo": ("acr-sync demo",),
}


def attach(app: typer.Typer, prefix: str = "") -> None:
    """Set each registered command's ``--help`` epilog to its examples, in ``app`` and its groups."""
    for info in app.registered_commands:
        name = info.name or (info.callback.__name__.replace("_", "-") if info.callback else "")
        lines = EXAMPLES.get(f"{prefix}{name}")
        if lines:
            info.epilog = "Examples:\n\n" + "\n\n".join(f"  {line}" for line in lines)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            attach(group.typer_instance, f"{prefix}{group.name} ")
