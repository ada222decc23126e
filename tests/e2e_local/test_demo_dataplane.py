"""The demo's data-plane act: a signed image copied to the Harbor stand-in, and a passing canary."""

from __future__ import annotations

from pathlib import Path

import pytest

from acrsync.domain.ledger import State
from acrsync.local import demo_dataplane

pytestmark = pytest.mark.loopback


def test_demo_copies_a_signed_image_to_harbor_and_the_canary_passes(tmp_path: Path) -> None:
    report = demo_dataplane.run(tmp_path)
    assert report.row is not None
    assert report.row.state is State.VERIFIED
    assert demo_dataplane.TAG in report.harbor_tags
    assert any(t.startswith("sha256-") and t.endswith(".sig") for t in report.harbor_tags)
    assert report.lost_push.startswith("sha256:")  # a push whose event was lost, repaired by a pass
    assert report.canary is not None
    assert report.canary.passed, report.canary
    assert report.canary.cleanup == []
    # the canary went both ways: copied to Harbor and synced by ACR to the Beijing instance
    harbor, acr = sorted(report.canary.destinations, key=lambda d: d.destination.startswith("cri-"))
    assert "/dr@oci/team-a/web:acrsync-canary-" in harbor.destination
    assert acr.destination.startswith("cri-demo-bj@cn-beijing/team-a/web:acrsync-canary-")
    assert set(acr.seconds) == {"event", "task", "completed", "verified"}
    assert report.seconds < 60
