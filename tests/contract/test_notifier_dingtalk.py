"""The real DingTalk notifier (stdlib urllib) against the signature-checking sink on 127.0.0.1."""

from __future__ import annotations

import json
import time
import traceback
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from structlog.testing import capture_logs

from acrsync.adapters.dingtalk import DingTalkNotifier, sign
from acrsync.domain.alerts import group_failures, render_failure
from acrsync.domain.ledger import State
from acrsync.errors import UpstreamRejected, UpstreamUnavailable
from acrsync.local.dingtalk_sink import DingTalkSink
from acrsync.ports import AlertChannel, AlertMessage, Clock
from tests.builders import ledger_entry

pytestmark = pytest.mark.loopback

TOKEN = "sinktoken0123456789abcdef"
SECRET = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
PLAIN_TOKEN = "plaintoken0123456789abcd"
MESSAGE = AlertMessage(
    title="acr-sync: sync task failed", markdown="### acr-sync: sync task failed\n- rule: r"
)


class MovableClock(Clock):
    """Shared by sink and notifier so tests can step time (throttle expiry, skew) without sleeping."""

    def __init__(self, offset_s: float = 0.0) -> None:
        self.offset_s = offset_s

    def now(self) -> float:
        return time.time() + self.offset_s

    def monotonic(self) -> float:
        return time.monotonic() + self.offset_s

    def sleep(self, seconds: float) -> None:
        self.offset_s += seconds


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def sink(clock: MovableClock) -> Iterator[DingTalkSink]:
    with DingTalkSink({TOKEN: SECRET, PLAIN_TOKEN: ""}, clock=clock.now) as running:
        yield running


@pytest.fixture
def channel(sink: DingTalkSink) -> AlertChannel:
    return AlertChannel(
        name="ops", webhook=sink.webhook_url(TOKEN), secret=SECRET, mention_mobiles=("13800000000",)
    )


@pytest.fixture
def notifier(clock: MovableClock) -> DingTalkNotifier:
    return DingTalkNotifier(timeout_s=2, clock=clock)


def assert_no_secret(error: BaseException, logs: Sequence[Mapping[str, Any]]) -> None:
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__)) + repr(logs)
    for secret in (TOKEN, SECRET, sign(SECRET, 0)[:12]):
        assert secret not in text


def test_signed_message_is_accepted_and_recorded(
    sink: DingTalkSink, notifier: DingTalkNotifier, channel: AlertChannel
) -> None:
    # GIVEN a signed robot on the sink
    # WHEN a message is sent
    notifier.send(channel, MESSAGE)
    # THEN the sink verified and recorded it: markdown, title, the @mention in text and in `at`
    (received,) = sink.messages_for(TOKEN)
    assert received.body["msgtype"] == "markdown"
    assert received.title == MESSAGE.title
    assert received.text.endswith("@13800000000")
    assert received.body["at"]["atMobiles"] == ["13800000000"]
    assert received.content_type == "application/json; charset=utf-8"


def test_rendered_alert_goes_through_end_to_end(
    sink: DingTalkSink, notifier: DingTalkNotifier, channel: AlertChannel
) -> None:
    # GIVEN a real rendered failure alert with Chinese text in the TaskIssue
    entry = ledger_entry(
        "c1",
        tag="v1",
        state=State.FAILED,
        task_id="rst-1",
        attempts=3,
        task_issue="同步失败: 权限不足",
        error_class="task_error",
        updated_at=1.0,
    )
    rendered = render_failure(group_failures([entry])[0], "2026-05-01T08:00:00Z")
    # WHEN sent  THEN it arrives intact (UTF-8)
    notifier.send(channel, AlertMessage(title=rendered.title, markdown=rendered.markdown))
    assert "同步失败: 权限不足" in sink.messages[0].text


def test_unsigned_robot_accepts_an_unsigned_message(sink: DingTalkSink, notifier: DingTalkNotifier) -> None:
    notifier.send(AlertChannel(name="plain", webhook=sink.webhook_url(PLAIN_TOKEN)), MESSAGE)
    assert len(sink.messages_for(PLAIN_TOKEN)) == 1


def test_tampered_signature_is_refused_with_310000(sink: DingTalkSink, notifier: DingTalkNotifier) -> None:
    # GIVEN a channel holding the wrong secret (what a tampered or stale secret looks like on the wire)
    wrong = AlertChannel(name="ops", webhook=sink.webhook_url(TOKEN), secret=SECRET[:-1] + "0")
    # WHEN sent  THEN the sink answers 310000 sign not match → UpstreamRejected, nothing recorded
    with capture_logs() as logs, pytest.raises(UpstreamRejected, match="sign not match") as info:
        notifier.send(wrong, MESSAGE)
    assert info.value.code == "310000"
    assert sink.messages == []
    assert_no_secret(info.value, logs)


def test_tampered_sign_parameter_on_the_wire_is_refused(sink: DingTalkSink, clock: MovableClock) -> None:
    # GIVEN a correctly timed request whose sign was altered in transit
    ts = round(clock.now() * 1000)
    good = sign(SECRET, ts)
    bad = ("A" if good[0] != "A" else "B") + good[1:]
    url = f"{sink.webhook_url(TOKEN)}&timestamp={ts}&sign={bad}"
    body = json.dumps({"msgtype": "text", "text": {"content": "x"}}).encode()
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310 - http://127.0.0.1 only
    # WHEN posted directly  THEN HTTP 200 with errcode 310000 (§6: errors are in the body, not the status)
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=2) as response:
        assert response.status == 200
        assert json.loads(response.read()) == {"errcode": 310000, "errmsg": "sign not match"}


def test_stale_timestamp_is_refused_as_invalid_timestamp(sink: DingTalkSink, channel: AlertChannel) -> None:
    # GIVEN a sender whose clock is two hours behind DingTalk's
    skewed = DingTalkNotifier(clock=MovableClock(offset_s=-7200))
    # WHEN it sends  THEN 310000 invalid timestamp, which is retryable once the clock is fixed
    with pytest.raises(UpstreamUnavailable, match="invalid timestamp") as info:
        skewed.send(channel, MESSAGE)
    assert info.value.code == "310000"
    assert sink.messages == []


def test_unknown_token_is_rejected_with_400101(sink: DingTalkSink, notifier: DingTalkNotifier) -> None:
    # GIVEN a webhook whose robot was deleted
    gone = AlertChannel(name="gone", webhook=sink.webhook_url("deletedtoken0123456789"), secret=SECRET)
    # WHEN sent  THEN UpstreamRejected 400101, and the token shows nowhere
    with capture_logs() as logs, pytest.raises(UpstreamRejected) as info:
        notifier.send(gone, MESSAGE)
    assert info.value.code == "400101"
    text = str(info.value) + repr(logs)
    assert "deletedtoken0123456789" not in text
    assert_no_secret(info.value, logs)


def test_twenty_first_message_in_a_minute_is_throttled_for_ten_minutes(
    sink: DingTalkSink, notifier: DingTalkNotifier, channel: AlertChannel, clock: MovableClock
) -> None:
    # GIVEN 20 messages sent within a minute
    for _ in range(20):
        notifier.send(channel, MESSAGE)
    # WHEN the 21st is sent
    with pytest.raises(UpstreamUnavailable) as info:
        notifier.send(channel, MESSAGE)
    # THEN 410100, retry after 600 s; still throttled after the minute has passed, free after 10 minutes
    assert info.value.code == "410100"
    assert info.value.retry_after == 600.0
    clock.sleep(120)
    with pytest.raises(UpstreamUnavailable):
        notifier.send(channel, MESSAGE)
    clock.sleep(600)
    notifier.send(channel, MESSAGE)
    assert len(sink.messages_for(TOKEN)) == 21


def test_rate_limit_is_per_robot(
    sink: DingTalkSink, notifier: DingTalkNotifier, channel: AlertChannel
) -> None:
    for _ in range(20):
        notifier.send(channel, MESSAGE)
    notifier.send(AlertChannel(name="plain", webhook=sink.webhook_url(PLAIN_TOKEN)), MESSAGE)
    assert len(sink.messages_for(PLAIN_TOKEN)) == 1


def test_system_busy_is_retryable_then_succeeds(
    sink: DingTalkSink, notifier: DingTalkNotifier, channel: AlertChannel
) -> None:
    # GIVEN the sink answers -1 (system busy) to the next two messages
    sink.busy(2)
    # WHEN sent three times  THEN two UpstreamUnavailable(-1), then delivered
    for _ in range(2):
        with pytest.raises(UpstreamUnavailable) as info:
            notifier.send(channel, MESSAGE)
        assert info.value.code == "-1"
    notifier.send(channel, MESSAGE)
    assert len(sink.messages) == 1


def test_http_500_is_retryable(sink: DingTalkSink, notifier: DingTalkNotifier, channel: AlertChannel) -> None:
    sink.http_error(1, status=500)
    with pytest.raises(UpstreamUnavailable) as info:
        notifier.send(channel, MESSAGE)
    assert info.value.code == "http_500"


def test_sink_down_is_retryable_and_leaks_nothing(
    sink: DingTalkSink, notifier: DingTalkNotifier, channel: AlertChannel
) -> None:
    # GIVEN the sink is down
    sink.down()
    # WHEN a message is sent  THEN UpstreamUnavailable without the token, sign or secret
    with capture_logs() as logs, pytest.raises(UpstreamUnavailable) as info:
        notifier.send(channel, MESSAGE)
    assert info.value.code == "network"
    assert_no_secret(info.value, logs)
    # AND once it is back on the same port, delivery works again
    sink.up()
    notifier.send(channel, MESSAGE)
    assert len(sink.messages) == 1


def test_unsupported_msgtype_is_rejected_with_400105(sink: DingTalkSink) -> None:
    body = json.dumps({"msgtype": "video", "video": {}}).encode()
    status, answer = sink.handle(f"access_token={PLAIN_TOKEN}", body, "application/json")
    assert (status, answer["errcode"]) == (200, 400105)


def test_keywords_robot_refuses_messages_without_a_keyword(
    sink: DingTalkSink, notifier: DingTalkNotifier
) -> None:
    sink.add_robot("kwtoken0123456789abcdef", keywords=("acr-sync",))
    hook = AlertChannel(name="kw", webhook=sink.webhook_url("kwtoken0123456789abcdef"))
    with pytest.raises(UpstreamRejected, match="keywords not in content"):
        notifier.send(hook, AlertMessage(title="hello", markdown="no keyword here"))
    notifier.send(hook, MESSAGE)
    assert len(sink.messages) == 1


def test_a_keyword_must_be_in_the_message_not_in_the_json_around_it(
    sink: DingTalkSink, notifier: DingTalkNotifier
) -> None:
    # GIVEN a robot whose keyword is also a JSON key of every markdown message
    sink.add_robot("kwtoken2123456789abcdef", keywords=("markdown",))
    hook = AlertChannel(name="kw", webhook=sink.webhook_url("kwtoken2123456789abcdef"))
    # THEN a message without the word is refused, and one with it in its text accepted
    with pytest.raises(UpstreamRejected, match="keywords not in content"):
        notifier.send(hook, AlertMessage(title="hello", markdown="plain words"))
    notifier.send(hook, AlertMessage(title="hello", markdown="written in markdown"))
    assert len(sink.messages) == 1
