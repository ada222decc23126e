"""End-to-end tier: the handlers exactly as FC calls them, over the offline cloud on loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from acrsync import bootstrap
from acrsync.local.acr_model import AcrModel
from acrsync.local.stack import ACCOUNT_ID, LocalCloud, seed_events
from acrsync.service import rules_admin
from acrsync.service.clock import ManualClock

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clock() -> ManualClock:
    # Real time as the start: the DingTalk sink checks that signed timestamps are within an hour of now.
    return ManualClock(start=time.time())


@pytest.fixture
def cloud(tmp_path: Path, clock: ManualClock) -> Iterator[LocalCloud]:
    model = AcrModel(account_id=ACCOUNT_ID, clock=clock.now)
    with LocalCloud(tmp_path, model=model) as local:
        seed_events(local.model, ROOT / "events")
        bootstrap.reset(local.env)
        bootstrap.use(clock=clock)
        doc = rules_admin.validate_file(ROOT / "examples" / "rules.yaml")
        rules_admin.apply(bootstrap.stores().rules, doc, prune=True, dry_run=False, now=clock.now())
        yield local
        bootstrap.reset()
