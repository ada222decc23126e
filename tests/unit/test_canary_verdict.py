"""What a canary run means: passed, broken (which stage, what to do) or over its latency objective; the alert
it sends; and that a failed send never hides the result."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acrsync.domain.canary import (
    ALL_DESTINATIONS,
    BROKEN,
    EXIT_BROKEN,
    EXIT_OBJECTIVE_MISSED,
    EXIT_PASSED,
    OBJECTIVE_MISSED,
    PASSED,
    STAGE_ADVICE,
    judge,
    misses_objective,
    render_alert,
)
from acrsync.errors import StoreError, UpstreamRejected, UpstreamUnavailable
from acrsync.ports import AlertChannel, AlertMessage, Notifier
from acrsync.service.canary import CanaryReport, DestinationReport, iter_stage_rows
from acrsync.service.canary_alert import NO_CHANNEL, alert_if_failed

IMAGE = "cri-src/team-a/web:acrsync-canary-1"
STAGES = ("event", "task", "completed", "verified")


Dest = DestinationReport  # one destination as the service measures it


def verified(name: str, after: float) -> Dest:
    return Dest(name, {"event": 0.5, "task": 1.0, "completed": after - 1, "verified": after})


def test_given_every_destination_verified_within_the_objective_then_it_passed_with_exit_0() -> None:
    verdict = judge([verified("a", 30), verified("b", 59.9)], objective_s=60)
    assert (verdict.status, verdict.exit_code, verdict.broken, verdict.slow) == (PASSED, EXIT_PASSED, (), ())


def test_given_no_objective_then_a_slow_destination_still_passes() -> None:
    assert judge([verified("a", 5000)]).exit_code == EXIT_PASSED


def test_given_a_destination_verified_after_the_objective_then_it_missed_it_with_exit_3() -> None:
    verdict = judge([verified("a", 30), verified("b", 61.5)], objective_s=60)
    assert verdict.status == OBJECTIVE_MISSED
    assert verdict.exit_code == EXIT_OBJECTIVE_MISSED == 3
    assert [(s.destination, s.seconds, s.objective_s) for s in verdict.slow] == [("b", 61.5, 60)]


def test_given_a_broken_stage_and_a_slow_destination_then_broken_wins_with_exit_1() -> None:
    broken = Dest("b", {"event": 1.0}, broken="task", detail="CreateRepoSyncTask refused")
    verdict = judge([verified("a", 900), broken], objective_s=60)
    assert (verdict.status, verdict.exit_code) == (BROKEN, EXIT_BROKEN)
    assert [(b.destination, b.stage) for b in verdict.broken] == [("b", "task")]
    assert [s.destination for s in verdict.slow] == ["a"]  # still reported


def test_given_no_push_event_at_all_then_the_run_level_stage_comes_once_not_per_destination() -> None:
    dests = [Dest(n, broken="event", detail="no claim") for n in ("a", "b")]
    verdict = judge(dests, run_broken="event", run_detail="no push event within 60 s")
    assert [(b.destination, b.stage, b.detail) for b in verdict.broken] == [
        (ALL_DESTINATIONS, "event", "no push event within 60 s")
    ]


def test_a_broken_destination_is_never_also_slow() -> None:
    odd = Dest("a", {"event": 1, "task": 2, "completed": 90, "verified": 90}, broken="verified")
    assert not misses_objective(odd, 60)
    assert not misses_objective(verified("a", 90), None)
    assert misses_objective(verified("a", 90), 60)


@given(
    st.lists(
        st.tuples(st.floats(0, 1000, allow_nan=False), st.sampled_from(("", *STAGES))), min_size=1, max_size=6
    ),
    st.one_of(st.none(), st.floats(0.01, 1000, allow_nan=False)),
)
def test_property_exit_code_is_1_iff_broken_and_3_iff_only_over_the_objective(
    rows: list[tuple[float, str]], objective: float | None
) -> None:
    dests = [verified(f"d{i}", t) if not b else Dest(f"d{i}", broken=b) for i, (t, b) in enumerate(rows)]
    code = judge(dests, objective_s=objective).exit_code
    any_broken = any(b for _, b in rows)
    any_slow = objective is not None and any(not b and t > objective for t, b in rows)
    assert code == (1 if any_broken else 3 if any_slow else 0)


def test_the_alert_for_a_missing_push_event_says_to_check_the_trigger_with_doctor_deployed() -> None:
    verdict = judge([Dest("a", broken="event")], run_broken="event", run_detail="no push event within 60 s")
    message = render_alert(IMAGE, verdict, "2026-11-30T00:00:00Z")
    assert message.title == f"acr-sync canary: broken at event ({IMAGE})"
    assert "stage **event** broken — no push event within 60 s" in message.markdown
    assert "check the EventBridge trigger" in message.markdown
    assert "`acr-sync doctor --deployed`" in message.markdown


@pytest.mark.parametrize("stage", ["task", "completed", "verified", "rules"])
def test_each_broken_stage_comes_with_what_to_do(stage: str) -> None:
    message = render_alert(IMAGE, judge([Dest("cri-dst@cn-sh/team-a/web", broken=stage, detail="x")]), "now")
    assert STAGE_ADVICE[stage] in message.markdown
    assert "`cri-dst@cn-sh/team-a/web`" in message.markdown


def test_the_alert_for_a_slow_destination_gives_its_seconds_against_the_objective() -> None:
    message = render_alert(
        IMAGE, judge([verified("cri-dst@cn-sh/team-a/web", 812.34)], objective_s=600), "now"
    )
    assert "over the 600 s objective" in message.title
    assert "`cri-dst@cn-sh/team-a/web`: verified after 812.3 s (objective 600 s)" in message.markdown
    assert "acr-sync status --since 1h" in message.markdown


def test_the_alert_stays_bounded_with_many_destinations_and_huge_details() -> None:
    dests = [Dest(f"d{i}", broken="completed", detail="ERROR `x` " * 500) for i in range(40)]
    text = render_alert(IMAGE, judge(dests), "now").markdown
    assert "…and 30 more" in text
    assert len(text.encode()) < 10_000
    assert "`x`" not in text  # backticks from upstream text cannot break the markdown


def test_the_stage_table_marks_a_destination_over_the_objective() -> None:
    report = CanaryReport(IMAGE, destinations=[DestinationReport("a", dict(verified("a", 61).seconds))])
    (row,) = iter_stage_rows(report, 60)
    assert row[4] == "61.0s OVER"
    assert row[5] == "verified later than the 60 s objective"
    (plain,) = iter_stage_rows(report)
    assert plain[4] == "61.0s"


class RecordingNotifier(Notifier):
    def __init__(self, error: Exception | None = None) -> None:
        self.sent: list[tuple[AlertChannel, AlertMessage]] = []
        self.error = error

    def send(self, channel: AlertChannel, message: AlertMessage) -> None:
        if self.error is not None:
            raise self.error
        self.sent.append((channel, message))


def _channels(name: str) -> AlertChannel | None:
    return AlertChannel(name or "default", "https://oapi.dingtalk.com/robot/send?access_token=t")


def test_given_a_passing_run_then_no_alert_is_owed_and_nothing_is_sent() -> None:
    notifier = RecordingNotifier()
    outcome = alert_if_failed(
        lambda: notifier, _channels, image=IMAGE, verdict=judge([verified("a", 1)]), channel_name="", now=0
    )
    assert (outcome.owed, notifier.sent) == (False, [])


def test_given_a_broken_run_then_one_message_goes_to_the_rule_channel() -> None:
    notifier = RecordingNotifier()
    verdict = judge([Dest("a", broken="task", detail="refused")])
    outcome = alert_if_failed(
        lambda: notifier, _channels, image=IMAGE, verdict=verdict, channel_name="ops", now=0
    )
    assert (outcome.sent, outcome.channel, outcome.error) == (True, "ops", "")
    ((channel, message),) = notifier.sent
    assert channel.name == "ops"
    assert "broken at task" in message.title


@pytest.mark.parametrize(
    "error",
    [
        UpstreamRejected("DingTalk webhook oapi answered errcode 310000: sign not match", code="310000"),
        UpstreamUnavailable("DingTalk webhook oapi unreachable: TimeoutError", code="network"),
    ],
)
def test_given_a_send_that_fails_then_the_outcome_says_so_and_nothing_is_raised(error: Exception) -> None:
    verdict = judge([verified("a", 90)], objective_s=60)
    outcome = alert_if_failed(
        lambda: RecordingNotifier(error), _channels, image=IMAGE, verdict=verdict, channel_name="", now=0
    )
    assert (outcome.owed, outcome.sent, outcome.channel) == (True, False, "default")
    assert outcome.error == str(error)


def test_given_no_channel_configured_then_the_outcome_says_which_variables_to_set() -> None:
    outcome = alert_if_failed(
        RecordingNotifier,
        lambda _n: None,
        image=IMAGE,
        verdict=judge([Dest("a", broken="event")]),
        channel_name="",
        now=0,
    )
    assert (outcome.owed, outcome.sent, outcome.error) == (True, False, NO_CHANNEL)
    assert "ACRSYNC_DINGTALK_WEBHOOK" in outcome.error


def test_given_the_budget_store_broken_then_the_alert_goes_out_without_the_budget() -> None:
    budgeted, plain = RecordingNotifier(StoreError("the store is not set up", fix="")), RecordingNotifier()
    outcome = alert_if_failed(
        lambda: budgeted,
        _channels,
        image=IMAGE,
        verdict=judge([], run_broken="run", run_detail="StoreError"),
        channel_name="",
        now=0,
        unbudgeted=lambda: plain,
    )
    assert (outcome.sent, budgeted.sent, len(plain.sent)) == (True, [], 1)


def test_given_the_rules_unreadable_then_a_named_channel_falls_back_to_the_default() -> None:
    def channels(name: str) -> AlertChannel | None:
        if name:
            raise StoreError("unreadable", fix="")
        return AlertChannel("default", "https://oapi.dingtalk.com/robot/send?access_token=t")

    notifier = RecordingNotifier()
    outcome = alert_if_failed(
        lambda: notifier,
        channels,
        image=IMAGE,
        verdict=judge([Dest("a", broken="task")]),
        channel_name="ops",
        now=0,
    )
    assert (outcome.sent, outcome.channel) == (True, "default")
