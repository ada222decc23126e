"""The DingTalk notifier without a network: signing, payload, webhook policy, errcode table, redaction.

A fake transport (the httpx ``MockTransport`` idea) stands in for urllib, so these tests open no socket.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import traceback
import urllib.parse
from collections.abc import Mapping

import pytest
from structlog.testing import capture_logs

from acrsync.adapters.dingtalk import (
    DingTalkNotifier,
    Webhook,
    build_payload,
    error_for,
    sign,
    signed_url,
)
from acrsync.adapters.memory import MemoryBudgetStore
from acrsync.errors import UpstreamRejected, UpstreamUnavailable
from acrsync.ports import AlertChannel, AlertMessage, Clock

SECRET = "SECabc123def456abc123def456abc123def456abc123def456abc123def456abcd"
TOKEN = "tok0123456789abcdef0123456789abcdef"
WEBHOOK = f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}"
TS = 1_700_000_000_002
# Computed outside Python: printf '%s\n%s' $TS $SECRET | openssl dgst -sha256 -hmac $SECRET -binary | base64
OPENSSL_SIGN_AT_TS = "u85jtna4V7j+R3gFb7ZrOT4CGjZ2x3rk6SfV/rkG4TA="


def reference_signed_url(webhook: str, secret: str, ts: str) -> str:
    """The sample of reference §6, with the timestamp passed in instead of read from the clock."""
    digest = hmac.new(secret.encode("utf-8"), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    return f"{webhook}&timestamp={ts}&sign={urllib.parse.quote_plus(base64.b64encode(digest))}"


class FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self.t = now

    def now(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


class FakeTransport:
    """Records each POST and answers with a queued (status, body) or raises a queued exception."""

    def __init__(self, *answers: tuple[int, bytes] | BaseException) -> None:
        self.answers = list(answers) or [(200, b'{"errcode":0,"errmsg":"ok"}')]
        self.calls: list[tuple[str, bytes, dict[str, str], float]] = []

    def __call__(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> tuple[int, bytes]:
        self.calls.append((url, body, dict(headers), timeout))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer


def answer(errcode: int, errmsg: str) -> tuple[int, bytes]:
    return 200, json.dumps({"errcode": errcode, "errmsg": errmsg}).encode()


CHANNEL = AlertChannel(name="ops", webhook=WEBHOOK, secret=SECRET, mention_mobiles=("13800000000",))
MESSAGE = AlertMessage(title="acr-sync: sync task failed", markdown="### acr-sync: sync task failed")


def test_sign_matches_an_independently_computed_vector() -> None:
    # GIVEN a secret and a millisecond timestamp whose HmacSHA256 was computed with openssl
    # WHEN the adapter signs
    # THEN it produces the same base64 string
    assert sign(SECRET, TS) == OPENSSL_SIGN_AT_TS


@pytest.mark.parametrize("ts", [1_700_000_000_000, 1_700_000_000_001, TS, 1_700_000_000_004])
def test_signed_url_equals_the_reference_sample(ts: int) -> None:
    # GIVEN the reference's sample algorithm  WHEN we sign the same webhook  THEN the URLs are identical
    assert signed_url(WEBHOOK, SECRET, ts) == reference_signed_url(WEBHOOK, SECRET, str(ts))


def test_signed_url_url_encodes_plus_and_slash() -> None:
    # GIVEN a signature containing '+' and '/'  WHEN it goes into the query  THEN both are percent-encoded
    url = signed_url(WEBHOOK, SECRET, TS)
    assert url.endswith(f"&timestamp={TS}&sign=u85jtna4V7j%2BR3gFb7ZrOT4CGjZ2x3rk6SfV%2FrkG4TA%3D")


def test_no_secret_means_no_signature() -> None:
    assert signed_url(WEBHOOK, "", TS) == WEBHOOK


def test_payload_is_markdown_and_mentions_appear_in_text_and_at() -> None:
    # GIVEN a channel with two mobiles to mention
    # WHEN the payload is built
    payload = build_payload(MESSAGE, ("13800000000", "13900000000"))
    # THEN it is a markdown message, the @mobiles are in `at` and also at the end of the text (§6)
    assert payload["msgtype"] == "markdown"
    assert payload["markdown"] == {
        "title": MESSAGE.title,
        "text": MESSAGE.markdown + "\n\n@13800000000 @13900000000",
    }
    assert payload["at"] == {"atMobiles": ["13800000000", "13900000000"], "isAtAll": False}


@pytest.mark.parametrize(
    ("url", "code"),
    [
        (f"http://oapi.dingtalk.com/robot/send?access_token={TOKEN}", "webhook_not_https"),
        (f"http://10.0.0.1/robot/send?access_token={TOKEN}", "webhook_not_https"),
        (f"http://127.0.0.1.evil.example/robot/send?access_token={TOKEN}", "webhook_not_https"),
        (f"http://localhost.evil.example:8080/robot/send?access_token={TOKEN}", "webhook_not_https"),
        (f"https://evil.example/robot/send?access_token={TOKEN}", "webhook_host"),
        (f"https://oapi.dingtalk.com.evil.example/robot/send?access_token={TOKEN}", "webhook_host"),
        (f"https://oapi.dingtalk.com:8443/robot/send?access_token={TOKEN}", "webhook_host"),
        (f"https://oapi.dingtalk.com@evil.example/robot/send?access_token={TOKEN}", "webhook_invalid"),
        (f"ftp://127.0.0.1/robot/send?access_token={TOKEN}", "webhook_invalid"),
    ],
)
def test_webhook_outside_dingtalk_or_loopback_is_refused_by_parsing_not_prefix(url: str, code: str) -> None:
    # GIVEN a webhook that is not https to DingTalk, nor http to an exact loopback host
    # WHEN parsed  THEN it is refused with a stable code, and the message holds no token
    with pytest.raises(UpstreamRejected) as info:
        Webhook.parse(url)
    assert info.value.code == code
    assert TOKEN not in str(info.value)


def test_https_and_loopback_http_webhooks_are_accepted_and_shown_by_host_only() -> None:
    assert Webhook.parse(WEBHOOK).where == "https://oapi.dingtalk.com"
    for host in ("127.0.0.1:5", "[::1]:5", "localhost:5"):
        assert Webhook.parse(f"http://{host}/robot/send?access_token={TOKEN}").token == TOKEN


def test_webhook_without_token_is_refused() -> None:
    with pytest.raises(UpstreamRejected, match="no access_token"):
        Webhook.parse("https://oapi.dingtalk.com/robot/send")


@pytest.mark.parametrize(
    ("errcode", "errmsg", "retry_after"),
    [
        (-1, "系统繁忙", None),
        (410100, "send too fast", 600.0),
        (130101, "send too fast, exceed 20 times per minute", 600.0),
        (90030, "webhook over limit", 3600.0),  # a quota: wait, do not retry at once
        (310000, "invalid timestamp", None),
    ],
)
def test_retryable_errcodes_become_upstream_unavailable(
    errcode: int, errmsg: str, retry_after: float | None
) -> None:
    error = error_for(errcode, errmsg)
    assert isinstance(error, UpstreamUnavailable)
    assert error.code == str(errcode)
    assert error.retry_after == retry_after


@pytest.mark.parametrize(
    ("errcode", "errmsg"),
    [
        (310000, "sign not match"),
        (310000, "keywords not in content"),
        (310000, "ip 1.2.3.4 not in whitelist"),
        (400013, "group dissolved"),
        (400101, "access_token not exist"),
        (400102, "robot disabled"),
        (400105, "unsupported msgtype"),
        (400106, "robot not exist"),
        (430101, "unsafe link"),
        (430102, "inappropriate text"),
        (430103, "inappropriate image"),
        (430104, "inappropriate content"),
        (300001, "token is not exist"),
        (300005, "token is not exist"),
        (460101, "message too long, exceed 20000 bytes"),
    ],
)
def test_configuration_errcodes_become_upstream_rejected(errcode: int, errmsg: str) -> None:
    error = error_for(errcode, errmsg)
    assert isinstance(error, UpstreamRejected)
    assert error.code == str(errcode)


def test_errcode_zero_is_success() -> None:
    assert error_for(0, "ok") is None


def test_send_posts_signed_utf8_json_with_the_timeout() -> None:
    # GIVEN a notifier on a fake transport and a fixed clock
    transport = FakeTransport()
    notifier = DingTalkNotifier(timeout_s=2.5, clock=FixedClock(TS / 1000), transport=transport)
    # WHEN a message is sent
    notifier.send(CHANNEL, MESSAGE)
    # THEN one POST went to the signed URL, as UTF-8 JSON, with the timeout
    ((url, body, headers, timeout),) = transport.calls
    assert url == reference_signed_url(WEBHOOK, SECRET, str(TS))
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(body.decode("utf-8"))["markdown"]["title"] == MESSAGE.title
    assert timeout == 2.5


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (answer(-1, "系统繁忙"), UpstreamUnavailable),
        (answer(410100, "send too fast"), UpstreamUnavailable),
        (answer(400101, "token not exist"), UpstreamRejected),
        (answer(310000, "sign not match"), UpstreamRejected),
        ((500, b"<html>oops</html>"), UpstreamUnavailable),
        ((503, b""), UpstreamUnavailable),
        ((200, b"not json"), UpstreamUnavailable),
        ((302, b""), UpstreamRejected),
        ((404, b""), UpstreamRejected),
        (TimeoutError("timed out"), UpstreamUnavailable),
        (ConnectionRefusedError(111, f"refused {WEBHOOK}&sign=x"), UpstreamUnavailable),
    ],
)
def test_failures_map_onto_the_error_tree_without_leaking_secrets(
    response: tuple[int, bytes] | BaseException, expected: type[Exception]
) -> None:
    # GIVEN an upstream that fails in some way
    notifier = DingTalkNotifier(clock=FixedClock(TS / 1000), transport=FakeTransport(response))
    # WHEN a message is sent, with logs captured
    with capture_logs() as logs, pytest.raises(expected) as info:
        notifier.send(CHANNEL, MESSAGE)
    # THEN the right error is raised and neither it, its traceback nor any log line holds a secret
    rendered = "".join(traceback.format_exception(type(info.value), info.value, info.value.__traceback__))
    everything = rendered + repr(logs)
    for secret in (TOKEN, SECRET, sign(SECRET, TS), urllib.parse.quote_plus(sign(SECRET, TS))):
        assert secret not in everything
    assert "https://oapi.dingtalk.com " in str(info.value)  # the place: scheme and host, nothing more


def test_rejection_is_logged_loudly_once_per_channel_and_code() -> None:
    # GIVEN a robot whose token was deleted
    notifier = DingTalkNotifier(transport=FakeTransport(answer(400101, "token not exist")))
    # WHEN three alerts are attempted
    with capture_logs() as logs:
        for _ in range(3):
            with pytest.raises(UpstreamRejected):
                notifier.send(CHANNEL, MESSAGE)
    # THEN one error line, the repeats at info
    levels = [line["log_level"] for line in logs if line["event"] == "dingtalk_rejected"]
    assert levels == ["error", "info", "info"]


def test_oversized_message_is_refused_before_sending() -> None:
    # GIVEN a message over DingTalk's 20,000-byte body limit
    transport = FakeTransport()
    big = AlertMessage(title="t", markdown="x" * 20_001)
    # WHEN sent  THEN it is rejected locally (no rate-limit slot spent)
    with pytest.raises(UpstreamRejected) as info:
        DingTalkNotifier(transport=transport).send(CHANNEL, big)
    assert info.value.code == "460101"
    assert transport.calls == []


def test_shared_budget_keeps_the_robot_under_twenty_per_minute_across_instances() -> None:
    # GIVEN two notifiers (two function instances) sharing one budget store and one robot
    budget, clock, transport = MemoryBudgetStore(), FixedClock(TS / 1000), FakeTransport()
    first = DingTalkNotifier(clock=clock, transport=transport, budget=budget)
    second = DingTalkNotifier(clock=clock, transport=transport, budget=budget)
    for i in range(20):
        (first if i % 2 else second).send(CHANNEL, MESSAGE)
    # WHEN a 21st message is attempted within the same minute
    with pytest.raises(UpstreamUnavailable) as info:
        first.send(CHANNEL, MESSAGE)
    # THEN it is held back locally (DingTalk never sees it, so the robot is not throttled for 10 minutes)
    assert info.value.code == "rate_budget"
    assert info.value.retry_after is not None
    assert 0 < info.value.retry_after <= 60
    assert len(transport.calls) == 20
    # AND after the window it goes through
    clock.sleep(60)
    second.send(CHANNEL, MESSAGE)
    assert len(transport.calls) == 21


def test_refused_webhook_is_logged_as_a_rejection_without_the_token() -> None:
    # GIVEN a channel configured with a plain-http public webhook
    channel = AlertChannel(name="ops", webhook=WEBHOOK.replace("https://", "http://"), secret=SECRET)
    transport = FakeTransport()
    # WHEN sent
    with capture_logs() as logs, pytest.raises(UpstreamRejected):
        DingTalkNotifier(transport=transport).send(channel, MESSAGE)
    # THEN nothing was posted, one loud log line says why, and it holds no token
    assert transport.calls == []
    (line,) = [entry for entry in logs if entry["event"] == "dingtalk_rejected"]
    assert line["log_level"] == "error"
    assert line["code"] == "webhook_not_https"
    assert TOKEN not in repr(logs)


def test_a_quota_answer_holds_the_robot_for_an_hour_and_is_logged_once() -> None:
    # GIVEN a robot whose call quota is spent (90030), then recovers
    transport = FakeTransport(answer(90030, "webhook over limit"), answer(0, "ok"))
    clock = FixedClock(TS / 1000)
    notifier = DingTalkNotifier(clock=clock, transport=transport)
    with capture_logs() as logs:
        # WHEN alerts keep coming during the hour
        for _ in range(5):
            with pytest.raises(UpstreamUnavailable) as info:
                notifier.send(CHANNEL, MESSAGE)
            clock.t += 60
    # THEN DingTalk was called once, each later send waited without a call, and the quota was logged once
    assert len(transport.calls) == 1
    assert info.value.code == "held"
    assert info.value.retry_after == pytest.approx(3600 - 5 * 60 + 60)
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["dingtalk_quota_exhausted"]
    # AND after the hour the next alert is sent
    clock.t += 3600
    notifier.send(CHANNEL, MESSAGE)
    assert len(transport.calls) == 2


def test_a_token_that_does_not_exist_is_a_permanent_misconfiguration_naming_the_fix() -> None:
    transport = FakeTransport(answer(300005, "token is not exist"))
    notifier = DingTalkNotifier(clock=FixedClock(TS / 1000), transport=transport)
    with pytest.raises(UpstreamRejected, match="copy the robot's webhook URL again") as info:
        notifier.send(CHANNEL, MESSAGE)
    assert info.value.code == "300005"


@pytest.mark.parametrize(
    "reply",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"errcode":' + b"[" * 5_000 + b"]" * 5_000 + b"}",
        b'{"errcode":' + b"9" * 5_000 + b"}",
        b'{"errcode":"' + b"9" * 5_000 + b'"}',
        b"\xff\xfe",
    ],
    ids=[
        "nested past the recursion limit",
        "nested errcode",
        "5,000-digit errcode",
        "long text",
        "not UTF-8",
    ],
)
def test_a_hostile_reply_is_an_upstream_failure_never_a_crash(reply: bytes) -> None:
    # GIVEN a webhook endpoint answering HTTP 200 with a body nested past the recursion limit, a number
    # Python will not convert, or bytes that are not UTF-8
    notifier = DingTalkNotifier(clock=FixedClock(TS / 1000), transport=FakeTransport((200, reply)))
    # WHEN a message is sent THEN the reply is an upstream failure (retried, alerted), never a RecursionError
    with pytest.raises(UpstreamUnavailable) as info:
        notifier.send(CHANNEL, MESSAGE)
    assert TOKEN not in str(info.value)
