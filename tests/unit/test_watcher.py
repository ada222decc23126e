"""The watcher over fakes: every task followed to verified, retried, or alerted once with what to do."""

from __future__ import annotations

import json
from typing import Any

import pytest

from acrsync.adapters.dingtalk import DingTalkNotifier
from acrsync.domain.ledger import State
from acrsync.errors import UpstreamRejected
from acrsync.ports import AlertChannel, AlertMessage
from acrsync.service.operate import retry
from acrsync.service.watch import handle_watch
from tests.fixtures import load_event
from tests.harness import World, failure_texts, make_world

PERMANENT = "namespace not exist"
TRANSIENT = "network timeout while pulling layer"


@pytest.fixture
def world() -> World:
    return make_world()


def settle(world: World, ticks: int = 8, step: float = 61.0) -> None:
    """Let ACR run its tasks and the timer fire a few times, a minute apart."""
    for _ in range(ticks):
        world.model.run_pending()
        world.clock.advance(step)
        world.tick()


def test_successful_replication_is_verified_and_sends_nothing(world: World) -> None:
    world.push(load_event("acs.cr/push_completed.json"))
    settle(world)
    assert {r.state for r in world.rows()} == {State.VERIFIED}
    assert world.notifier.sent == []


def test_one_failed_task_gives_exactly_one_alert_with_everything_needed(world: World) -> None:
    # GIVEN Beijing lacks the destination namespace (a permanent TaskIssue)
    world.model.fail_destination("cri-demo-bj", "team-a", PERMANENT)
    world.push(load_event("acs.cr/push_completed.json"))
    # WHEN the watcher runs for a while
    settle(world)
    # THEN one alert, naming rule, image, digest, destination, task, TaskIssue, attempts and the retry command
    texts = failure_texts(world)
    assert len(texts) == 1
    failed = next(r for r in world.rows() if r.state is State.FAILED)
    for needle in (
        failed.rule,
        "cri-demo-src/team-a/web:v1.2.3",
        failed.digest,
        "cri-demo-bj",
        failed.task_id,
        PERMANENT,
        "acr-sync retry",
    ):
        assert needle in texts[0], needle
    assert failed.alerted
    # AND the Shanghai copy is verified
    assert any(r.state is State.VERIFIED for r in world.rows())


def test_transient_failure_that_recovers_on_retry_sends_no_alert(world: World) -> None:
    world.model.fail_destination("cri-demo-bj", "team-a", TRANSIENT, times=1)
    world.push(load_event("acs.cr/push_completed.json"))
    settle(world, ticks=10)
    rows = world.rows()
    assert {r.state for r in rows} == {State.VERIFIED}
    bj = next(r for r in rows if r.dest_instance == "cri-demo-bj")
    assert bj.attempts == 2
    assert world.notifier.sent == []
    assert len(world.creates()) == 3


def test_transient_failures_stop_at_the_attempt_limit_and_alert(world: World) -> None:
    world.model.fail_destination("cri-demo-bj", "team-a", TRANSIENT)
    world.push(load_event("acs.cr/push_completed.json"))
    settle(world, ticks=40)
    bj = next(r for r in world.rows() if r.dest_instance == "cri-demo-bj")
    assert bj.state is State.FAILED
    assert bj.attempts == 3
    assert "gave up after 3 attempts" in bj.task_issue
    assert len(failure_texts(world)) == 1


def test_recovery_after_an_alert_sends_a_resolved_message(world: World) -> None:
    # GIVEN an alerted failure
    world.model.fail_destination("cri-demo-bj", "team-a", PERMANENT, times=1)
    world.push(load_event("acs.cr/push_completed.json"))
    settle(world)
    assert len(failure_texts(world)) == 1
    # WHEN the operator retries it and it succeeds
    reopened = retry(world.ledger, world.clock, rule="team-a-releases")
    assert len(reopened) == 1
    settle(world)
    # THEN a resolved message follows, and nothing more
    titles = [m.title for _, m in world.notifier.sent]
    assert len(titles) == 2
    assert "resolved" in titles[1]
    settle(world)
    assert len(world.notifier.sent) == 2
    assert {r.state for r in world.rows()} == {State.VERIFIED}


def test_verification_mismatch_is_alerted_as_such(world: World) -> None:
    # GIVEN the Shanghai tag already holds another image and the rule does not override
    world.model.push("cri-demo-sh", "team-a", "web", "v1.2.3", "sha256:" + "e" * 64)
    world.push(load_event("acs.cr/push_completed.json"))
    settle(world)
    sh = next(r for r in world.rows() if r.dest_instance == "cri-demo-sh")
    assert sh.state is State.MISMATCH
    texts = failure_texts(world)
    assert len(texts) == 1
    assert "sha256:" + "e" * 64 in texts[0]
    assert "mismatch" in texts[0].lower()


def test_cancelled_task_is_alerted(world: World) -> None:
    world.push(load_event("acs.cr/push_completed.json"))
    bj = next(r for r in world.rows() if r.dest_instance == "cri-demo-bj")
    world.model.cancel_task(bj.task_id)
    settle(world)
    assert world.ledger.get(bj.claim_id).state is State.CANCELED  # type: ignore[union-attr]
    texts = failure_texts(world)
    assert len(texts) == 1
    assert "cancel" in texts[0].lower()


def test_stuck_task_is_alerted_once(world: World) -> None:
    # GIVEN ACR never runs the tasks
    world.push(load_event("acs.cr/push_completed.json"))
    for _ in range(45):
        world.clock.advance(61)
        world.tick()
    texts = failure_texts(world)
    assert len(texts) == 2  # one per destination group
    assert all("stuck" in t.lower() for t in texts)
    assert all("no terminal state by 20" in t for t in texts)  # the deadline it missed, as a date


def test_completion_events_delivered_twice_make_one_transition(world: World) -> None:
    events: list[dict[str, Any]] = []
    world.model.on_sync_completed(events.append)
    world.model.fail_destination("cri-demo-bj", "team-a", PERMANENT)
    world.push(load_event("acs.cr/push_completed.json"))
    world.model.run_pending()
    assert len(events) == 2
    revisions_before = {r.claim_id: r.revision for r in world.rows()}
    for event in events + events:
        handle_watch(json.dumps(event), world.watcher(), deadline=world.clock.monotonic() + 100)
    rows = world.rows()
    assert {r.state for r in rows} == {State.VERIFIED, State.FAILED}
    # submitted -> (succeeded ->) final: at most two writes each, however many deliveries
    assert all(r.revision - revisions_before[r.claim_id] <= 2 for r in rows)
    world.clock.advance(120)
    world.tick()
    world.tick()
    assert len(failure_texts(world)) == 1


def test_completion_of_a_task_we_did_not_create_is_ignored(world: World) -> None:
    response = handle_watch(
        load_event("acs.cr/synchronization_completed.success.json"), world.watcher(), deadline=1e12
    ).as_response()
    assert response["actions"] == {"not_ours": 1}


def test_dingtalk_down_delivers_the_alert_later_exactly_once(world: World) -> None:
    world.notifier.fail_next = 3
    world.model.fail_destination("cri-demo-bj", "team-a", PERMANENT)
    world.push(load_event("acs.cr/push_completed.json"))
    settle(world, ticks=10)
    assert len(failure_texts(world)) == 1


class RejectingNotifier(DingTalkNotifier):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def send(self, channel: AlertChannel, message: AlertMessage) -> None:
        self.calls += 1
        raise UpstreamRejected("DingTalk webhook answered errcode 310000: sign not match", code="310000")


def test_a_rejected_robot_is_not_retried_forever(world: World) -> None:
    notifier = RejectingNotifier()
    world.notifier = notifier  # type: ignore[assignment]
    world.model.fail_destination("cri-demo-bj", "team-a", PERMANENT)
    world.push(load_event("acs.cr/push_completed.json"))
    settle(world, ticks=10)
    assert notifier.calls == 1
    failed = next(r for r in world.rows() if r.state is State.FAILED)
    assert "310000" in failed.extra["alert_note"]


def test_no_channel_logs_the_alert_and_keeps_the_row(world: World) -> None:
    world.channel = None
    world.model.fail_destination("cri-demo-bj", "team-a", PERMANENT)
    world.push(load_event("acs.cr/push_completed.json"))
    settle(world)
    failed = next(r for r in world.rows() if r.state is State.FAILED)
    assert failed.alerted
    assert "no channel" in failed.extra["alert_note"]


def test_sixty_failures_in_a_burst_never_exceed_twenty_messages_a_minute(world: World) -> None:
    # GIVEN a real DingTalk notifier over a recording transport, with the shared 20/min budget
    sent_at: list[tuple[float, str]] = []

    def transport(url: str, body: bytes, headers: Any, timeout: float) -> tuple[int, bytes]:
        sent_at.append((world.clock.now(), json.loads(body)["markdown"]["text"]))
        return 200, b'{"errcode":0,"errmsg":"ok"}'

    world.notifier = DingTalkNotifier(clock=world.clock, transport=transport, budget=world.budget)  # type: ignore[assignment]
    world.channel = AlertChannel("ops", "https://oapi.dingtalk.com/robot/send?access_token=t0k3n", "SECabc")
    world.model.fail_destination("cri-demo-bj", "team-a", PERMANENT)
    for i in range(60):
        world.model.push("cri-demo-src", "team-a", f"svc-{i:02d}", "v1.0.0", "sha256:" + f"{i:064x}")
        event = json.loads(load_event("acs.cr/push_completed.json"))
        event["id"] = f"burst-{i}"
        event["data"].update({"RepoName": f"svc-{i:02d}", "Tag": "v1.0.0", "Digest": "sha256:" + f"{i:064x}"})
        del event["data"]["RepoId"]
        world.push(json.dumps(event))
    settle(world, ticks=8)
    # THEN never more than 20 in any 60 s, and every failed repository appears in some message
    times = sorted(t for t, _ in sent_at)
    assert len(times) == 60  # 60 repositories = 60 groups, so the limit really had to hold them back
    assert times[-1] - times[0] >= 120
    assert all(sum(1 for u in times if t <= u < t + 60) <= 20 for t in times)
    text = "\n".join(m for _, m in sent_at)
    assert all(f"svc-{i:02d}" in text for i in range(60))
