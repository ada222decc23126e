"""Drift behind acr-sync's back: each on_conflict policy, deleted tags restored, prune with its grace."""

from __future__ import annotations

from pathlib import Path

from acrsync.domain.ledger import State
from acrsync.domain.reconcile import Finding, Kind
from acrsync.local.acr_tag_actions import delete_tag_behind_back, overwrite_tag_behind_back
from acrsync.local.fake_world import World
from acrsync.local.reconcile_world import reconcile_deps, reconcile_pass
from acrsync.service.reconcile import SliceReport
from tests.harness import push_event
from tests.unit.reconcile_fixtures import reconcile_world, settle

SH, BJ = "cri-demo-sh", "cri-demo-bj"
OTHER = "sha256:" + "e" * 64


def synced(tmp_path: Path, **extra: str) -> tuple[World, Path, str]:
    """team-a/web:v1 pushed, delivered and verified in both destinations."""
    world, rules = reconcile_world(tmp_path, **extra)
    digest = world.model.push("cri-demo-src", "team-a", "web", "v1")
    world.push(push_event("v1", digest))
    settle(world)
    assert {r.state for r in world.rows()} == {State.VERIFIED}
    return world, rules, digest


def tag_digest(world: World, instance: str, tag: str = "v1") -> str | None:
    repo = world.model.repo_by_name(instance, "team-a", "web")
    found = repo.tags.get(tag)
    return found.digest if found else None


def audit(world: World, rules: Path) -> tuple[SliceReport, list[Finding]]:
    findings: list[Finding] = []
    report = reconcile_pass(reconcile_deps(world, rules), world, on_finding=findings.append)
    assert report.completed
    return report, [f for f in findings if f.kind is not Kind.IN_SYNC]


def alerts(world: World, phrase: str) -> list[str]:
    return [m.markdown for _, m in world.notifier.sent if phrase in m.title]


def test_given_skip_when_a_destination_tag_is_overwritten_then_it_is_left_and_alerted_once(
    tmp_path: Path,
) -> None:
    world, rules, _digest = synced(tmp_path)
    overwrite_tag_behind_back(
        world.model, instance_id=SH, namespace="team-a", repo="web", tag="v1", digest=OTHER
    )
    creates = len(world.creates())
    _, first = audit(world, rules)
    _, second = audit(world, rules)
    settle(world)
    assert [(f.kind, f.outcome, f.actual_digest) for f in first] == [(Kind.CONFLICT, "alerted", OTHER)]
    assert [f.outcome for f in second] == ["alerted_before"]
    assert tag_digest(world, SH) == OTHER
    assert len(world.creates()) == creates
    (text,) = alerts(world, "tag conflict")
    assert "cri-demo-sh" in text
    assert "team-a/web" in text


def test_given_overwrite_when_a_destination_tag_is_overwritten_then_it_is_synced_with_override(
    tmp_path: Path,
) -> None:
    world, rules, digest = synced(tmp_path, sh_extra="        on_conflict: overwrite")
    overwrite_tag_behind_back(
        world.model, instance_id=SH, namespace="team-a", repo="web", tag="v1", digest=OTHER
    )
    _, findings = audit(world, rules)
    settle(world)
    assert [(f.kind, f.outcome) for f in findings] == [(Kind.CONFLICT, "submitted")]
    assert tag_digest(world, SH) == digest
    (create,) = [r for r in world.creates() if r.params["Override"] == "true"]
    assert create.params["TargetInstanceId"] == SH
    _, again = audit(world, rules)
    assert again == []


def test_given_backup_when_a_destination_tag_is_overwritten_then_a_backup_keeps_it_and_the_tag_is_synced(
    tmp_path: Path,
) -> None:
    world, rules, digest = synced(tmp_path, bj_extra="        on_conflict: backup")
    overwrite_tag_behind_back(
        world.model, instance_id=BJ, namespace="team-a", repo="web", tag="v1", digest=OTHER
    )
    _, findings = audit(world, rules)
    settle(world)
    assert [(f.kind, f.outcome) for f in findings] == [(Kind.CONFLICT, "submitted")]
    assert tag_digest(world, BJ) == digest
    tags = world.model.repo_by_name(BJ, "team-a", "web").tags
    (backup,) = [t for t in tags if t.startswith("v1-acrsync-backup-")]
    assert tags[backup].digest == OTHER
    assert backup.endswith("Z")
    assert len(backup) == len("v1-acrsync-backup-20260101T000000Z")
    assert len(world.model.requests_for("CreateRepoTag")) == 1
    _, again = audit(world, rules)
    assert again == []  # the backup tag is neither extra nor backed up again


def test_given_a_verified_tag_deleted_behind_our_back_when_audited_then_it_is_restored_once(
    tmp_path: Path,
) -> None:
    world, rules, digest = synced(tmp_path)
    delete_tag_behind_back(world.model, SH, "team-a", "web", "v1")
    _, first = audit(world, rules)
    _, second = audit(world, rules)
    settle(world)
    assert [(f.kind, f.outcome) for f in first] == [(Kind.MISSING, "submitted")]
    assert [(f.kind, f.outcome) for f in second] == [(Kind.MISSING, "pending")]
    assert tag_digest(world, SH) == digest
    assert len([r for r in world.creates() if r.params["TargetInstanceId"] == SH]) == 2  # push + one restore


def test_given_a_source_tag_repushed_without_an_event_and_override_on_when_audited_then_it_resyncs(
    tmp_path: Path,
) -> None:
    world, rules, _ = synced(tmp_path, sh_extra="        override: true")
    new = world.model.push("cri-demo-src", "team-a", "web", "v1")  # event lost
    _, findings = audit(world, rules)
    settle(world)
    by_dest = {f.destination.split("@")[0]: f for f in findings}
    assert by_dest[SH].outcome == "submitted"
    assert by_dest[SH].kind is Kind.CONFLICT
    assert by_dest[BJ].outcome == "alerted"  # override off: the conflict policy (skip) applies
    assert tag_digest(world, SH) == new


GRACE = "        prune: true\n        prune_grace: 1h"


def test_given_prune_when_a_source_tag_is_deleted_then_the_tag_acr_sync_created_goes_after_the_grace(
    tmp_path: Path,
) -> None:
    world, rules, _ = synced(tmp_path, rule_extra=GRACE.replace("        ", "    "))
    delete_tag_behind_back(world.model, "cri-demo-src", "team-a", "web", "v1")
    _, first = audit(world, rules)
    world.clock.advance(1800)
    _, middle = audit(world, rules)
    assert {f.outcome for f in first} == {"grace_started"}
    assert tag_digest(world, SH) is not None
    assert tag_digest(world, BJ) is not None
    assert all("pruned in" in f.detail for f in middle)
    world.clock.advance(1801)
    _, last = audit(world, rules)
    assert {f.outcome for f in last} == {"pruned"}
    assert tag_digest(world, SH) is None
    assert tag_digest(world, BJ) is None
    assert len(world.model.requests_for("DeleteRepoTag")) == 2
    assert all(
        "pruned_at" in r.extra
        for r in world.rows()
        if r.extra.get("kind") is None and r.state is State.VERIFIED
    )
    settle(world)
    assert alerts(world, "tag pruned")


def test_given_prune_when_a_destination_tag_was_not_created_by_acr_sync_then_it_is_never_deleted(
    tmp_path: Path,
) -> None:
    world, rules, _ = synced(tmp_path, rule_extra=GRACE.replace("        ", "    "))
    world.model.push(SH, "team-a", "web", "hand-made")
    for _ in range(3):
        _, findings = audit(world, rules)
        world.clock.advance(7200)
    assert [(f.kind, f.outcome) for f in findings] == [(Kind.EXTRA, "")]
    assert tag_digest(world, SH, "hand-made") is not None
    assert world.model.requests_for("DeleteRepoTag") == []


def test_given_prune_off_when_a_source_tag_is_deleted_then_nothing_is_ever_deleted(tmp_path: Path) -> None:
    world, rules, _ = synced(tmp_path)
    delete_tag_behind_back(world.model, "cri-demo-src", "team-a", "web", "v1")
    for _ in range(3):
        _, findings = audit(world, rules)
        world.clock.advance(3 * 86400)
    assert {(f.kind, f.detail) for f in findings} == {
        (Kind.EXTRA, "the source tag is gone (prune is off for this rule)")
    }
    assert world.model.requests_for("DeleteRepoTag") == []
