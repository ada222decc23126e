"""Operator use cases over fakes: manual replication, retry (later or now), status windows."""

from __future__ import annotations

from typing import Any

import pytest

from acrsync.domain.images import DestinationImage, SourceImage, parse_image_ref
from acrsync.domain.ledger import State
from acrsync.errors import UpstreamRejected
from acrsync.service import operate
from tests.harness import World, make_world

SRC, REGION = "cri-demo-src", "cn-hangzhou"
SH = DestinationImage("cri-demo-sh", "cn-shanghai", "team-a", "web", "v9")


@pytest.fixture
def world() -> World:
    w = make_world()
    w.model.push(SRC, "team-a", "web", "v9", "sha256:" + "9" * 64)
    return w


def source(tag: str = "v9", digest: str = "") -> SourceImage:
    return SourceImage(SRC, REGION, "team-a", "web", tag, digest)


def manual(
    world: World, dest: DestinationImage = SH, *, src: SourceImage | None = None, **kwargs: Any
) -> operate.ManualResult:
    deadline = world.clock.monotonic() + 60
    return operate.replicate_image(world.replicator(), src or source(), dest, deadline=deadline, **kwargs)


@pytest.mark.parametrize(
    ("text", "seconds"), [("30m", 1800), ("1h", 3600), ("24h", 86400), ("7d", 604800), (" 90s ", 90)]
)
def test_since_durations_parse(text: str, seconds: float) -> None:
    assert operate.parse_since(text) == seconds


@pytest.mark.parametrize("text", ["", "1", "h", "-1h", "0h", "1y", "1.h"])
def test_bad_since_durations_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match=r"e\.g\. 30m"):
        operate.parse_since(text)


def test_destination_defaults_to_the_source_names() -> None:
    ref = parse_image_ref("cri-demo-src/team-a/web:v9")
    assert operate.parse_destination("cri-demo-sh/cn-shanghai", ref) == SH
    full = operate.parse_destination("cri-demo-sh/cn-shanghai/mirror/web2:v9-copy", ref)
    assert (full.namespace, full.repo, full.tag) == ("mirror", "web2", "v9-copy")


@pytest.mark.parametrize(
    "text",
    [
        "cri-demo-sh",
        "cri-demo-sh/cn-shanghai/team-a",
        "bad/cn-shanghai",
        "cri-x/CN",
        "cri-x/cn-sh/NS/r:t",
        "cri-x/cn-sh/ns/r:-t",
    ],
)
def test_bad_destinations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="--to"):
        operate.parse_destination(text, parse_image_ref("cri-demo-src/team-a/web:v9"))


def test_manual_replication_submits_one_task_with_rule_manual(world: World) -> None:
    result = manual(world, priority=5, override=True)
    assert result.outcome == "submitted"
    assert result.task_id.startswith("rst-")
    assert result.digest == "sha256:" + "9" * 64
    (row,) = world.rows()
    assert (row.rule, row.state, row.task_id, row.priority, row.override) == (
        "manual",
        State.SUBMITTED,
        result.task_id,
        5,
        True,
    )
    (create,) = world.creates()
    assert create.params["Priority"] == "5"
    assert create.params["Override"] == "true"


def test_manual_replication_twice_submits_once(world: World) -> None:
    first = manual(world)
    second = manual(world)
    assert (first.outcome, second.outcome) == ("submitted", "duplicate")
    assert second.task_id == first.task_id
    assert len(world.creates()) == 1


def test_manual_replication_onto_itself_is_refused(world: World) -> None:
    itself = DestinationImage(SRC, REGION, "team-a", "web", "v9")
    with pytest.raises(UpstreamRejected, match="destination is the image itself"):
        manual(world, itself)
    assert world.rows() == []


def test_manual_replication_of_a_digest_the_tag_no_longer_holds_is_refused(world: World) -> None:
    with pytest.raises(UpstreamRejected, match="now holds"):
        manual(world, src=source(digest="sha256:" + "0" * 64))
    assert world.creates() == []


def test_manual_replication_of_a_missing_tag_is_refused(world: World) -> None:
    with pytest.raises(UpstreamRejected, match="not found"):
        manual(world, src=source(tag="nope"))


def _failed_row(world: World) -> None:
    manual(world)
    (row,) = world.rows()
    world.ledger.update(
        row.moved_to(State.FAILED, world.clock.now(), task_issue="boom"), expected_revision=row.revision
    )


def test_retry_now_resubmits_the_reopened_row_at_once(world: World) -> None:
    # GIVEN a failed manual replication
    _failed_row(world)
    # WHEN it is retried with --now
    rows = operate.retry(world.ledger, world.clock, rule="manual")
    done = operate.retry_now(rows, world.submitter, deadline=world.clock.monotonic() + 60)
    # THEN a second task was created and the row is submitted again with a fresh attempt count
    assert [d.outcome for d in done] == ["submitted"]
    assert len(world.creates()) == 2
    (row,) = world.rows()
    assert (row.state, row.attempts, row.task_issue) == (State.SUBMITTED, 1, "")


def test_retry_dry_run_changes_nothing(world: World) -> None:
    _failed_row(world)
    rows = operate.retry(world.ledger, world.clock, dry_run=True)
    assert [r.state for r in rows] == [State.FAILED]
    assert [r.state for r in world.rows()] == [State.FAILED]


def test_status_window_counts_only_recent_rows(world: World) -> None:
    # GIVEN one replication two hours ago and one now
    manual(world)
    world.clock.advance(7200)
    manual(world, DestinationImage("cri-demo-bj", "cn-beijing", "team-a", "web", "v9"))
    # THEN the last hour holds one, the last day both
    assert operate.recent_status(world.ledger, world.clock, since_s=3600).counts == {"submitted": 1}
    assert operate.recent_status(world.ledger, world.clock, since_s=86400).counts == {"submitted": 2}
    report = operate.recent_status(world.ledger, world.clock, since_s=86400)
    ages = sorted(o["age_s"] for o in report.as_dict(world.clock.now())["open"])
    assert ages == [0, 7200]
