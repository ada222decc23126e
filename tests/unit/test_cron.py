"""``--schedule`` is checked as cron reads it (crontab(5)); the crontab line runs exactly the command."""

from __future__ import annotations

import shlex

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acrsync.domain.canary_schedule import schedule_env
from acrsync.domain.cron import CronError, check_schedule, crontab_line
from acrsync.domain.images import DestinationImage, SourceImage, SyncRequest


@pytest.mark.parametrize(
    ("given_", "normal"),
    [
        ("*/30 * * * *", "*/30 * * * *"),
        ("  0  9-17/2 * * mon ", "0 9-17/2 * * mon"),
        ("5,35 0 1 jan 0", "5,35 0 1 jan 0"),
        ("0 0 * * 7", "0 0 * * 7"),  # 7 is Sunday too
        ("59 23 31 12 6", "59 23 31 12 6"),
        ("@hourly", "@hourly"),
        ("@Daily", "@daily"),
    ],
)
def test_a_schedule_cron_runs_is_accepted_in_normal_form(given_: str, normal: str) -> None:
    assert check_schedule(given_) == normal


@pytest.mark.parametrize(
    ("given_", "says"),
    [
        ("*/30 * * *", "4 field(s); a cron schedule has 5: minute hour day-of-month month day-of-week"),
        ("* * * * * *", "6 field(s)"),
        ("", "0 field(s)"),
        ("0 25 * * *", "field 2 (hour) '25': outside 0-23"),
        ("60 * * * *", "field 1 (minute) '60': outside 0-59"),
        ("0 0 0 * *", "field 3 (day of month) '0': outside 1-31"),
        ("0 0 * 13 *", "field 4 (month) '13': outside 1-12"),
        ("0 0 * * 8", "field 5 (day of week) '8': outside 0-7"),
        ("*/0 * * * *", "the step must be at least 1"),
        ("0 17-9 * * *", "a range goes from low to high"),
        ("0 0 * jan-mar *", "names (jan, ...) only alone"),
        ("0 0 * * mon,tue", "names (sun, ...) only alone"),
        ("every 5 minutes please ok", "field 1 (minute) 'every'"),
        ("@reboot", "not a schedule nickname"),
        ("0 0 * * *; rm -rf /", "8 field(s)"),
        ("0 0 * * $(reboot)", "field 5 (day of week) '$(reboot)'"),
        ("0 0 * * *\n* * * * * evil", "11 field(s)"),
    ],
)
def test_a_schedule_cron_would_refuse_is_refused_naming_the_field(given_: str, says: str) -> None:
    with pytest.raises(CronError) as caught:
        check_schedule(given_)
    assert says in str(caught.value)


def test_a_huge_schedule_is_quoted_cut_in_the_error() -> None:
    with pytest.raises(CronError) as caught:
        check_schedule("* " * 10_000)
    assert len(str(caught.value)) < 400


_FIELD = st.one_of(
    st.just("*"),
    st.integers(0, 59).map(str),
    st.tuples(st.integers(0, 20), st.integers(21, 59), st.integers(1, 15)).map(
        lambda t: f"{t[0]}-{t[1]}/{t[2]}"
    ),
)


@given(st.lists(_FIELD, min_size=1, max_size=3).map(",".join))
def test_property_any_minute_list_of_stars_values_and_stepped_ranges_is_accepted(minute: str) -> None:
    assert check_schedule(f"{minute} * * * *") == f"{minute} * * * *"


def test_the_crontab_line_quotes_arguments_and_escapes_percent_signs() -> None:
    line = crontab_line(
        "*/30 * * * *", 'set -a && . "$HOME/env"', ["/opt/my tools/acr-sync", "canary", "a/b/c"], "> out"
    )
    assert line == "*/30 * * * * set -a && . \"$HOME/env\" && '/opt/my tools/acr-sync' canary a/b/c > out"
    odd = crontab_line("@daily", "", ["/opt/100%/acr-sync"], "> out")
    assert odd == "@daily /opt/100\\%/acr-sync > out"  # an unescaped % would end cron's command
    assert shlex.split(line.split(" && ", 2)[2])[:3] == ["/opt/my tools/acr-sync", "canary", "a/b/c"]


def test_the_crontab_line_refuses_a_wrong_schedule() -> None:
    with pytest.raises(CronError):
        crontab_line("* * *", "", ["x"], "")


SOURCE = SourceImage("cri-src", "cn-hangzhou", "team-a", "web", "acrsync-canary-1")


def _request(channel: str = "", **copy: str) -> SyncRequest:
    dest = DestinationImage("cri-dst", "cn-shanghai", "team-a", "web", "acrsync-canary-1")
    return SyncRequest("r", SOURCE, dest, alert_channel=channel, copy=tuple(copy.items()))


def test_the_schedule_env_names_store_region_and_credentials_and_nothing_for_alerts_without_alert() -> None:
    names = [n for n, _ in schedule_env([_request()], {}, tablestore=False, alert=False)]
    assert names == [
        "ACRSYNC_STORE",
        "ACRSYNC_REGION",
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        "ALIBABA_CLOUD_SECURITY_TOKEN",
    ]


def test_the_schedule_env_follows_the_rules_copy_credentials_and_the_rule_channel() -> None:
    channels = {
        "ops": {
            "dingtalk": {
                "webhook_env": "ACRSYNC_DINGTALK_OPS_WEBHOOK",
                "secret_env": "ACRSYNC_DINGTALK_OPS_SECRET",
            }
        }
    }
    requests = [
        _request(
            "ops", kind="copy", registry="harbor.example.com/dr", credentials_env="ACRSYNC_REGISTRY_HARBOR"
        )
    ]
    env = dict(
        schedule_env(requests, channels, tablestore=True, alert=True, overrides=["ACRSYNC_ACR_ENDPOINT"])
    )
    assert "ACRSYNC_TABLESTORE_ENDPOINT" in env
    assert "ACRSYNC_ACR_ENDPOINT" in env
    assert "harbor.example.com/dr" in env["ACRSYNC_REGISTRY_HARBOR"]
    assert env["ACRSYNC_DINGTALK_OPS_WEBHOOK"] == "alert channel ops: the robot's webhook"
    assert {"ACRSYNC_DINGTALK_OPS_SECRET", "ACRSYNC_DINGTALK_WEBHOOK", "ACRSYNC_DINGTALK_SECRET"} <= set(env)
