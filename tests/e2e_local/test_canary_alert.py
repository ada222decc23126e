"""``acr-sync canary --objective/--alert/--schedule`` against the local stack: the latency objective's exit
code and JSON, the DingTalk alert as the signed-webhook sink receives it, a failed send that does not hide the
result, a crontab line that pushes nothing, live progress only on a terminal — and no secret in any of it."""

from __future__ import annotations

import io
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from acrsync import bootstrap
from acrsync.cli import canary_progress
from acrsync.cli.app import app
from acrsync.local.dingtalk_sink import DingTalkSink
from acrsync.local.oci_store import Fault
from acrsync.local.stack import ROBOT_SECRET, ROBOT_TOKEN, SOURCE
from tests.e2e_local.canary_stack import CRED_ENV, Stack, harbor, stack_fixture  # noqa: F401 (fixture)

pytestmark = pytest.mark.loopback
REPO = f"{SOURCE[0]}/team-a/web"
OPS_TOKEN = "ops-robot-Planted-token-7"
OPS_SECRET = "SECopsPlanted8deadbeefdeadbeefdeadbeef"
OPS_CHANNEL = {
    "ops": {
        "dingtalk": {
            "webhook_env": "ACRSYNC_DINGTALK_OPS_WEBHOOK",
            "secret_env": "ACRSYNC_DINGTALK_OPS_SECRET",
        }
    }
}


def _secrets(stack: Stack) -> list[str]:
    return [ROBOT_TOKEN, ROBOT_SECRET, OPS_TOKEN, OPS_SECRET, stack.env[CRED_ENV].partition(":")[2]]


def _no_secret(stack: Stack, *texts: str) -> None:
    for secret in _secrets(stack):
        for text in texts:
            assert secret not in text


def test_given_a_destination_slower_than_the_objective_then_exit_3_and_the_json_marks_it(
    stack: Stack,
) -> None:
    stack.rules(harbor(stack))
    stack.trigger()
    result = stack.canary(REPO, 20, "--objective", "0.01")  # any real replication takes longer than 10 ms
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    assert (report["status"], report["exit_code"], report["passed"], report["objective_s"]) == (
        "objective_missed",
        3,
        False,
        0.01,
    )
    (dest,) = report["destinations"]
    assert dest["objective_missed"] is True
    assert dest["broken"] == ""
    assert dest["seconds"]["verified"] > 0.01
    assert "latency objective 0.01 s missed" in result.stderr
    assert report["alert"] is None  # not asked for
    assert stack.cloud.sink.messages == []


def test_given_a_generous_objective_then_it_passes_with_exit_0(stack: Stack) -> None:
    stack.rules(harbor(stack))
    stack.trigger()
    result = stack.canary(REPO, 20, "--objective", "120", "--alert")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["status"], report["destinations"][0]["objective_missed"]) == ("passed", False)
    assert report["alert"] == {"owed": False, "sent": False, "channel": "", "error": ""}
    assert stack.cloud.sink.messages == []  # nothing to say when it passed


def test_given_no_trigger_and_alert_then_one_signed_message_says_to_check_the_trigger(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.rules(harbor(stack))  # no PushEvents: the trigger is "broken"
    result = stack.canary(REPO, 1.5, "--alert")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["alert"] == {"owed": True, "sent": True, "channel": "default", "error": ""}
    (message,) = stack.cloud.sink.messages_for(ROBOT_TOKEN)  # the sink checked the signature
    assert message.title == f"acr-sync canary: broken at event ({report['image']})"
    assert "stage **event** broken — no push event within 1 s" in message.text
    assert "check the EventBridge trigger" in message.text
    assert "`acr-sync doctor --deployed`" in message.text
    _no_secret(stack, result.output, json.dumps(message.body), *capsys.readouterr())


def test_given_a_rule_with_its_own_channel_then_the_alert_goes_to_that_robot(stack: Stack) -> None:
    with DingTalkSink({OPS_TOKEN: OPS_SECRET}) as ops:
        stack.env |= {
            "ACRSYNC_DINGTALK_OPS_WEBHOOK": ops.webhook_url(OPS_TOKEN),
            "ACRSYNC_DINGTALK_OPS_SECRET": OPS_SECRET,
        }
        bootstrap.reset(stack.env)
        stack.rules(harbor(stack), alert="ops", channels=OPS_CHANNEL)
        stack.trigger()
        result = stack.canary(REPO, 20, "--objective", "0.01", "--alert")
        assert result.exit_code == 3, result.output
        report = json.loads(result.stdout)
        assert report["alert"]["channel"] == "ops"
        (message,) = ops.messages_for(OPS_TOKEN)
    assert stack.cloud.sink.messages == []  # not the default robot
    dest = report["destinations"][0]
    seconds = dest["seconds"]["verified"]
    assert f"`{dest['destination']}`: verified after {seconds:.1f} s (objective 0.01 s)" in message.text
    assert "over the 0.01 s objective" in message.title
    _no_secret(stack, result.output, message.text)


def test_given_a_robot_that_refuses_the_signature_then_the_result_still_stands(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = "SECwrongPlanted9deadbeefdeadbeefdeadbeef"
    stack.env["ACRSYNC_DINGTALK_SECRET"] = wrong
    bootstrap.reset(stack.env)
    stack.rules(harbor(stack))
    result = stack.canary(REPO, 1, "--alert")
    assert result.exit_code == 1  # the canary's own result: broken at event
    assert "broken stage: event" in result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "broken"
    assert report["alert"]["sent"] is False
    assert "310000" in report["alert"]["error"]
    assert stack.cloud.sink.messages == []
    text = CliRunner().invoke(app, ["canary", REPO, "--timeout", "1", "--poll", "0.1", "--alert"])
    assert text.exit_code == 1
    assert "alert: NOT sent (channel default): DingTalk webhook" in text.stderr
    _no_secret(stack, result.output, text.output, *capsys.readouterr())
    assert wrong not in result.output + text.output


def test_given_the_robot_down_and_the_objective_missed_then_exit_3_and_the_send_failure_is_reported(
    stack: Stack,
) -> None:
    stack.rules(harbor(stack))
    stack.trigger()
    stack.cloud.sink.down()
    result = stack.canary(REPO, 20, "--objective", "0.01", "--alert")
    assert result.exit_code == 3, result.output
    alert = json.loads(result.stdout)["alert"]
    assert (alert["owed"], alert["sent"]) == (True, False)
    assert "unreachable" in alert["error"]
    _no_secret(stack, result.output)


def test_schedule_prints_a_crontab_line_for_this_canary_and_pushes_nothing(stack: Stack) -> None:
    stack.env |= {
        "ACRSYNC_DINGTALK_OPS_WEBHOOK": "https://oapi.dingtalk.com/robot/send?access_token=" + OPS_TOKEN
    }
    bootstrap.reset(stack.env)
    stack.rules(harbor(stack), alert="ops", channels=OPS_CHANNEL)
    args = ["canary", REPO, "--timeout", "900", "--objective", "600", "--alert", "--schedule", "*/30 * * * *"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (line,) = [x for x in result.stdout.splitlines() if x.startswith("*/30 * * * * ")]
    assert line.startswith('*/30 * * * * set -a && . "$HOME/.acrsync-canary.env" && set +a && ')
    assert f"acr-sync canary {REPO} --timeout 900 --objective 600 --alert --json > " in line
    assert line.endswith('2>> "$HOME/acrsync-canary.log"')
    for name in ("ACRSYNC_STORE", "ALIBABA_CLOUD_ACCESS_KEY_ID", CRED_ENV, "ACRSYNC_DINGTALK_OPS_WEBHOOK"):
        assert f"#   {name} " in result.stdout
    assert "ACRSYNC_DINGTALK_OPS_SECRET" in result.stdout
    assert "3 nothing broken but a destination missed --objective" in result.stdout
    _no_secret(stack, result.output)
    # nothing was pushed, nothing claimed
    assert stack.source.state.tags.get("team-a/web", {}) == {}
    assert list(bootstrap.stores().ledger.scan(since=0)) == []
    as_json = CliRunner().invoke(app, [*args, "--json"])
    doc = json.loads(as_json.stdout)
    assert doc["crontab_line"] == line
    env = {e["name"]: e["set_here"] for e in doc["env"]}
    assert env[CRED_ENV] is True
    assert env["ACRSYNC_DINGTALK_OPS_SECRET"] is False
    assert doc["exit_codes"]["3"] == "objective missed"


@pytest.mark.parametrize(
    ("schedule", "says"),
    [
        ("*/30 * * *", "4 field(s)"),
        ("0 24 * * *", "field 2 (hour) '24': outside 0-23"),
        ("@reboot", "nickname"),
    ],
)
def test_schedule_with_a_wrong_cron_is_a_usage_error_naming_the_field(
    stack: Stack, schedule: str, says: str
) -> None:
    stack.rules(harbor(stack))
    result = CliRunner().invoke(app, ["canary", REPO, "--schedule", schedule], env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert says in result.stderr
    assert stack.source.state.tags.get("team-a/web", {}) == {}


def test_progress_is_drawn_on_a_terminal_and_nothing_extra_otherwise(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.rules(harbor(stack))
    stack.trigger()
    plain = CliRunner().invoke(app, ["canary", REPO, "--timeout", "20", "--poll", "0.1"])
    assert plain.exit_code == 0, plain.output
    assert plain.stderr == ""  # not a terminal: no progress, no noise
    assert "every destination verified" in plain.stdout
    assert stack.events is not None
    stack.events.join()
    screen = io.StringIO()
    monkeypatch.setattr(canary_progress, "err", Console(file=screen, force_terminal=True, width=200))
    assert canary_progress.wanted(as_json=True) is False  # --json on a terminal: nothing drawn
    drawn = CliRunner().invoke(app, ["canary", REPO, "--timeout", "20", "--poll", "0.1"])
    assert drawn.exit_code == 0, drawn.output
    assert "canary:" in screen.getvalue()
    assert " s of 20 s" in screen.getvalue()
    assert "waiting for" in screen.getvalue() or "→" in screen.getvalue()


def test_help_shows_the_objective_alert_and_schedule_with_examples() -> None:
    shown = CliRunner().invoke(app, ["canary", "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0
    for text in ("--objective", "--alert", "--schedule", "Exit code 0", "3 when nothing is broken"):
        assert text in shown.output
    assert (
        "acr-sync canary cri-src123/canary/probe --objective 600 --alert --schedule '*/30 * * * *'"
        in shown.output
    )


def test_given_the_source_registry_refusing_the_push_then_push_is_the_broken_stage_and_alerted(
    stack: Stack,
) -> None:
    stack.rules(harbor(stack))
    stack.trigger()
    stack.source.state.faults.append(Fault("*", r"^/v2/team-a/web/", 403, times=1000))
    result = stack.canary(REPO, 5, "--alert")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert (report["broken"], report["digest"], report["destinations"]) == ("push", "", [])
    assert "broken stage: push:" in result.stderr
    (message,) = stack.cloud.sink.messages_for(ROBOT_TOKEN)
    assert "broken at push" in message.title
    assert "check the operator's credentials (cr:GetAuthorizationToken)" in message.text


def test_given_a_store_that_is_not_set_up_then_the_error_is_alerted_and_still_exits_1(
    stack: Stack, tmp_path: Path
) -> None:
    bootstrap.reset({**stack.env, "ACRSYNC_STORE": f"sqlite:///{tmp_path / 'nowhere' / 'none.db'}"})
    result = CliRunner().invoke(app, ["canary", REPO, "--timeout", "2", "--alert"])
    assert result.exit_code == 1
    assert "alert: sent to channel default" in result.stderr
    assert "error:" in result.stderr
    as_json = CliRunner().invoke(app, ["canary", REPO, "--timeout", "2", "--json"])
    assert as_json.exit_code == 1
    report = json.loads(as_json.stdout)  # a scheduled run's report file is still one JSON document
    assert (report["status"], report["broken"], report["alert"]) == ("broken", "run", None)
    assert report["detail"].startswith("RulesNotApplied: ACRSYNC_STORE=")
    (message,) = stack.cloud.sink.messages_for(ROBOT_TOKEN)
    assert "broken at run" in message.title
    _no_secret(stack, result.output, message.text)


def test_the_printed_crontab_line_runs_the_canary_under_crons_bare_environment(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the line --schedule prints (acr-sync found on PATH) and the env file it asks for
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    stack.rules(harbor(stack))
    stack.trigger()
    printed = CliRunner().invoke(app, ["canary", REPO, "--timeout", "30", "--schedule", "*/30 * * * *"])
    (line,) = [x for x in printed.stdout.splitlines() if x.startswith("*/30 * * * * ")]
    names = [x.split()[1] for x in printed.stdout.splitlines() if x.startswith("#   ")]
    home = tmp_path / "home"
    home.mkdir()
    (home / ".acrsync-canary.env").write_text(
        "".join(f"{n}={shlex.quote(stack.env[n])}\n" for n in names if n in stack.env)
        + "".join(f"{n}={shlex.quote(v)}\n" for n, v in stack.env.items() if n.endswith("_ENDPOINT"))
    )
    # WHEN cron runs its command: sh, HOME set, PATH /usr/bin:/bin, nothing else in the environment
    command = line.split(" ", 5)[5]
    done = subprocess.run(
        ["/bin/sh", "-c", command], env={"HOME": str(home), "PATH": "/usr/bin:/bin"}, timeout=120, check=False
    )
    assert stack.events is not None
    stack.events.join()
    # THEN the canary ran, passed, and left its report and its log where the line says
    log = (home / "acrsync-canary.log").read_text()
    assert done.returncode == 0, log
    report = json.loads((home / "acrsync-canary.json").read_text())
    assert report["status"] == "passed"
    assert report["destinations"][0]["seconds"]["verified"] > 0
