"""Copy destinations (``registry:``) are reconciled: a push whose event was lost still reaches Harbor.

Over the wire: the reconciler and the watcher through ``handler(bytes, context)``, the ``audit`` CLI through
typer; Harbor is the OCI stand-in (``local/oci_registry.py``, basic auth checked), every request logged.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from acrsync import bootstrap
from acrsync.cli.app import app
from acrsync.domain.copies import is_copy
from acrsync.domain.ledger import LedgerEntry, State
from acrsync.domain.rules_schema import validate_document
from acrsync.local.acr_tag_actions import delete_tag_behind_back
from acrsync.local.oci_images import Pushed, put_index
from acrsync.local.oci_store import Fault
from acrsync.local.referrers_world import HARBOR_PW, REPO, ReferrersWorld, referrers_world, rules
from acrsync.local.stack import SOURCE
from acrsync.service import rules_admin
from acrsync.service.clock import ManualClock

pytestmark = pytest.mark.loopback
WRITES = ("POST", "PUT", "PATCH", "DELETE")
World = ReferrersWorld
HARBOR_REPO = f"dr/{REPO}"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with referrers_world(tmp_path, ManualClock(start=time.time())) as w:
        yield w


def lost_push(world: World, tag: str, sizes: tuple[int, ...] = (3000,)) -> Pushed:
    """An image pushed at the source whose push event never reached acr-sync."""
    index = put_index(world.regs["source"].state, REPO, tag, layer_sizes=sizes)
    world.cloud.model.push(SOURCE[0], "team-a", "web", tag, index.digest)
    return index


def harbor_digest(world: World, tag: str) -> str | None:
    found = world.regs["harbor"].state.get_manifest(HARBOR_REPO, tag)
    return found[2] if found else None


def harbor_rows(world: World) -> list[LedgerEntry]:
    return [
        r for r in world.rows() if is_copy(r) and not r.extra.get("referrer_of") and "notice" not in r.extra
    ]


def harbor_requests(world: World, since: int) -> list[tuple[str, str]]:
    return [(e.method, e.path) for e in world.regs["harbor"].state.log[since:]]


def set_on_conflict(world: World, policy: str, **rule: object) -> None:
    doc = rules(world.regs["harbor"])
    doc["rules"][0]["destinations"][0]["on_conflict"] = policy
    doc["rules"][0].update(rule)
    stores = bootstrap.stores()
    rules_admin.apply(stores.rules, validate_document(doc), prune=True, dry_run=False, now=world.clock.now())


def test_given_a_push_whose_event_was_lost_when_the_reconciler_passes_then_harbor_gets_it_once(
    world: World,
) -> None:
    # GIVEN an image pushed at the source, its event lost: Harbor does not have it
    image = lost_push(world, "v2.0.0")
    assert harbor_digest(world, "v2.0.0") is None
    # WHEN the reconciler passes
    response = world.reconcile()
    # THEN Harbor holds the tag at the source's digest, through exactly one copy row, verified
    assert response["completed"] is True
    assert harbor_digest(world, "v2.0.0") == image.digest
    rows = harbor_rows(world)
    assert len(rows) == 1
    assert rows[0].state is State.VERIFIED
    assert rows[0].extra["verified_digest"] == image.digest
    assert response["events_missed"] >= 1
    assert any("@oci/" in ex for ex in response["examples"])
    # AND a second pass writes nothing at Harbor and claims nothing new
    mark = len(world.regs["harbor"].state.log)
    again = world.reconcile()
    asked = harbor_requests(world, mark)
    assert [m for m, _ in asked if m in WRITES] == []
    assert len(harbor_rows(world)) == 1
    assert again["kinds"].get("missing", 0) == 0
    assert again["copy_destinations"]["tag_lists"] == 1
    status = " ".join(CliRunner().invoke(app, ["status"]).output.split())
    assert "; copy destinations: 1 tag lists, 1 HEADs" in status  # the source tag moved today: re-read


def test_given_many_verified_copies_when_a_quiet_pass_runs_then_harbor_sees_one_listing_and_few_heads(
    world: World,
) -> None:
    # GIVEN 48 images that reached Harbor (repaired by a pass), a day and more ago
    for n in range(48):
        lost_push(world, f"v1.{n}.0", sizes=(600 + n,))
    world.reconcile()
    assert len(harbor_rows(world)) == 48
    world.clock.advance(2 * 86400)  # older than the referrer window: not "recent" any more
    # WHEN two quiet passes run
    counts, heads_seen = [], []
    for _ in range(2):
        mark = len(world.regs["harbor"].state.log)
        response = world.reconcile()
        asked = harbor_requests(world, mark)
        counts.append(len(asked))
        # THEN each lists the tags once and HEADs only this pass's rotation share; it writes nothing
        assert [m for m, _ in asked if m in WRITES] == []
        assert sum(1 for m, p in asked if p.endswith("/tags/list")) == 1
        heads = response["copy_destinations"].get("heads", 0)
        heads_seen.append(heads)
        assert heads == sum(1 for m, _ in asked if m == "HEAD")
        assert heads + response["copy_destinations"]["heads_skipped"] == 48
        assert heads <= 12  # 48 / 24 shares = 2 expected; a share is a hash, so allow for its spread
        assert response["kinds"]["in_sync"] >= 48
    assert all(n == 1 + h for n, h in zip(counts, heads_seen, strict=True))


def test_given_a_harbor_tag_overwritten_when_on_conflict_is_skip_then_it_is_alerted_and_left(
    world: World,
) -> None:
    # GIVEN a copied image whose Harbor tag someone else then overwrote
    image = lost_push(world, "v3.0.0")
    world.reconcile()
    foreign = put_index(world.regs["harbor"].state, HARBOR_REPO, "v3.0.0", layer_sizes=(1234,))
    # WHEN the reconciler passes (on_conflict: skip, the default)
    response = world.reconcile()
    # THEN the conflict is reported and alerted, and Harbor keeps the foreign image
    assert response["kinds"]["conflict"] == 1
    assert response["outcomes"].get("alerted") == 1
    assert harbor_digest(world, "v3.0.0") == foreign.digest != image.digest


def test_given_a_harbor_tag_overwritten_when_on_conflict_is_backup_then_the_old_image_is_kept_and_fixed(
    world: World,
) -> None:
    # GIVEN a copied image overwritten at Harbor, and the destination's on_conflict set to backup
    image = lost_push(world, "v4.0.0")
    world.reconcile()
    foreign = put_index(world.regs["harbor"].state, HARBOR_REPO, "v4.0.0", layer_sizes=(4321,))
    set_on_conflict(world, "backup")
    # WHEN the reconciler passes
    response = world.reconcile()
    # THEN the foreign image is kept under a backup tag and the tag holds the source's image again
    assert response["outcomes"].get("backed_up", 0) + response["outcomes"].get("submitted", 0) >= 1
    assert harbor_digest(world, "v4.0.0") == image.digest
    tags = world.regs["harbor"].state.tags[HARBOR_REPO]
    backups = [t for t in tags if t.startswith("v4.0.0-acrsync-backup-")]
    assert len(backups) == 1
    assert harbor_digest(world, backups[0]) == foreign.digest


@pytest.mark.parametrize("status", [503, 429])
def test_given_harbor_down_when_the_reconciler_passes_then_it_is_reported_and_the_pass_goes_on(
    world: World, status: int
) -> None:
    # GIVEN two source repositories with a lost push each, and Harbor answering 503 (or 429) to tag lists
    set_on_conflict(world, "skip", source={"instance": SOURCE[0], "repositories": ["team-a/*"]})
    lost_push(world, "v5.0.0")
    other = put_index(world.regs["source"].state, "team-a/api", "v5.0.0", layer_sizes=(777,))
    world.cloud.model.push(SOURCE[0], "team-a", "api", "v5.0.0", other.digest)
    fault = Fault("GET", "/tags/list", status, times=10_000, retry_after=0)
    world.regs["harbor"].state.faults.append(fault)
    # WHEN the reconciler passes
    response = world.reconcile()
    # THEN the pass completes: both images at Harbor are unreachable, Harbor was asked for the first
    # repository only (its client's retries), and the ACR destinations were audited and repaired
    assert response["completed"] is True
    assert response["repositories"] == 2
    assert response["kinds"]["unreachable"] == 2
    assert 1 <= 10_000 - fault.times <= 5  # one call and its retries, not one per repository
    assert response["kinds"]["missing"] == 4  # Shanghai and Beijing, two images each
    assert response["outcomes"].get("submitted") == 4
    assert harbor_digest(world, "v5.0.0") is None


def test_given_harbor_refusing_the_credentials_when_the_reconciler_passes_then_it_is_reported(
    world: World,
) -> None:
    lost_push(world, "v6.0.0")
    world.regs["harbor"].state.faults.append(Fault("GET", "/tags/list", 403, times=10_000))
    response = world.reconcile()
    assert response["completed"] is True
    assert response["kinds"]["unreachable"] == 1
    assert HARBOR_PW not in json.dumps(response)


def test_given_a_lost_push_when_audit_runs_then_harbor_is_a_row_and_repair_copies_it(world: World) -> None:
    # GIVEN a lost push
    image = lost_push(world, "v7.0.0")
    runner = CliRunner()
    # WHEN audit runs (dry): THEN Harbor's missing image is a finding, nothing is copied
    dry = runner.invoke(app, ["audit", "--json"])
    assert dry.exit_code == 0, dry.output
    doc = json.loads(dry.output)
    harbor = [f for f in doc["findings"] if "@oci/" in f["destination"]]
    assert [(f["kind"], f["outcome"]) for f in harbor] == [("missing", "dry_run")]
    assert any(row["destination"].endswith("/dr@oci") for row in doc["summary"])
    assert harbor_digest(world, "v7.0.0") is None
    # WHEN audit --repair runs: THEN Harbor has it
    fixed = runner.invoke(app, ["audit", "--repair", "--json"])
    assert fixed.exit_code == 0, fixed.output
    assert harbor_digest(world, "v7.0.0") == image.digest
    table = runner.invoke(app, ["audit"])
    said = " ".join(table.output.split())
    assert "dr@oci" in said
    assert "copy destinations: 1 tag lists, 1 HEADs" in said  # audit reads every tag there
    assert HARBOR_PW not in dry.output + fixed.output + table.output


def test_given_prune_when_the_source_tag_is_gone_then_a_registry_refusing_delete_by_tag_is_reported(
    world: World,
) -> None:
    # GIVEN prune on (grace 1h), an image acr-sync copied to Harbor, then its source tag deleted
    set_on_conflict(world, "skip", prune=True, prune_grace="1h")
    image = lost_push(world, "v8.0.0")
    world.reconcile()
    assert harbor_digest(world, "v8.0.0") == image.digest
    delete_tag_behind_back(world.cloud.model, SOURCE[0], "team-a", "web", "v8.0.0")
    # WHEN a pass finds it extra, and another runs after the grace
    first = world.reconcile()
    world.clock.advance(3601)
    mark = len(world.regs["harbor"].state.log)
    second = world.reconcile()
    # THEN the grace started, then the tag was deleted by tag (never by digest): the stand-in, as
    # distribution does, refuses deletes by tag, so it is reported and alerted, the tag stays, the pass ends
    assert first["outcomes"].get("grace_started", 0) >= 1
    deletes = [(m, p) for m, p in harbor_requests(world, mark) if m == "DELETE"]
    assert deletes == [("DELETE", f"/v2/{HARBOR_REPO}/manifests/v8.0.0")]
    assert second["outcomes"].get("prune_unsupported") == 1
    assert second["completed"] is True
    assert harbor_digest(world, "v8.0.0") == image.digest
    notices = [r for r in world.rows() if r.extra.get("notice") == "prune_unsupported"]
    assert len(notices) == 1
    assert "delete" in notices[0].last_error
