"""Rules and a world for reconciler tests: team-a/* from cri-demo-src to Shanghai and Beijing, every tag."""

from __future__ import annotations

from pathlib import Path

from acrsync.adapters.memory import MemoryLedger
from acrsync.domain.rules import compile_rules
from acrsync.local.acr_model import AcrModel
from acrsync.local.fake_world import World
from acrsync.local.stack import ACCOUNT_ID, seed_world
from acrsync.service.clock import ManualClock
from acrsync.service.rules_admin import validate_file

RULES = """
version: 1
channels:
  ops:
    dingtalk: {{webhook_env: ACRSYNC_DINGTALK_WEBHOOK}}
rules:
  - name: team-a-all
    alert: ops
{rule_extra}
    source:
      instance: cri-demo-src
      repositories: ["team-a/*"]
    destinations:
      - instance: cri-demo-sh
        region: cn-shanghai
{sh_extra}
      - instance: cri-demo-bj
        region: cn-beijing
{bj_extra}
"""


def write_rules(tmp: Path, *, rule_extra: str = "", sh_extra: str = "", bj_extra: str = "") -> Path:
    """The rules file, with extra keys indented under the rule / each destination."""
    path = tmp / "rules.yaml"
    path.write_text(
        RULES.format(rule_extra=rule_extra, sh_extra=sh_extra, bj_extra=bj_extra), encoding="utf-8"
    )
    return path


def reconcile_world(tmp: Path, **extra: str) -> tuple[World, Path]:
    """The demo's instances and namespaces, no images yet, and the rules file."""
    rules = write_rules(tmp, **extra)
    clock = ManualClock()
    model = AcrModel(account_id=ACCOUNT_ID, clock=clock.now)
    seed_world(model)
    doc = validate_file(rules)
    world = World(
        model=model, ledger=MemoryLedger(), clock=clock, index=compile_rules(doc.rules, doc.channels)
    )
    return world, rules


def settle(world: World, ticks: int = 6, step: float = 61.0) -> None:
    """ACR runs its tasks; the watcher's timer fires a few times, a minute apart."""
    for _ in range(ticks):
        world.model.run_pending()
        world.clock.advance(step)
        world.tick()
