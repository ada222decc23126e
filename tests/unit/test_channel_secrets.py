"""Secrets through the rules file (issue 10, item 6): a file may only name ACRSYNC_DINGTALK_* variables, and
a webhook value is never shown beyond its scheme and host — tested with planted credentials."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from structlog.testing import capture_logs
from typer.testing import CliRunner

from acrsync import bootstrap
from acrsync.adapters.dingtalk import DingTalkNotifier
from acrsync.cli.app import app
from acrsync.errors import UpstreamRejected
from acrsync.ports import AlertChannel, AlertMessage

runner = CliRunner()
PLANTED = "planted-access-key-secret-0007-zzzz"
MESSAGE = AlertMessage(title="t", markdown="m")


def channel_file(tmp_path: Path, dingtalk: dict[str, str]) -> Path:
    doc = {
        "version": 1,
        "channels": {"ops": {"dingtalk": dingtalk}},
        "rules": [
            {
                "name": "r1",
                "alert": "ops",
                "source": {"instance": "cri-src1"},
                "destinations": [{"instance": "cri-dst1", "region": "cn-shanghai"}],
            }
        ],
    }
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize(
    "dingtalk",
    [
        {"webhook_env": "ALIBABA_CLOUD_ACCESS_KEY_SECRET"},
        {"webhook_env": "ACRSYNC_DINGTALK_WEBHOOK", "secret_env": "ALIBABA_CLOUD_SECURITY_TOKEN"},
        {"webhook_env": "ACRSYNC_STORE"},
        {"webhook_env": "acrsync_dingtalk_lowercase"},
    ],
)
def test_a_rules_file_may_not_name_variables_outside_the_dingtalk_prefix(
    tmp_path: Path, dingtalk: dict[str, str]
) -> None:
    # GIVEN a credential in the environment and a rules file naming a variable outside the prefix
    env = {"ALIBABA_CLOUD_ACCESS_KEY_SECRET": PLANTED, "ALIBABA_CLOUD_SECURITY_TOKEN": PLANTED}
    result = runner.invoke(app, ["rules", "validate", str(channel_file(tmp_path, dingtalk))], env=env)
    # THEN the file is refused with the rule stated, and the variable's value is never printed
    assert result.exit_code == 1
    assert "may only name environment variables that start with ACRSYNC_DINGTALK_" in result.output
    assert PLANTED not in result.output


def test_signing_is_optional_and_prefixed_names_are_accepted(tmp_path: Path) -> None:
    path = channel_file(tmp_path, {"webhook_env": "ACRSYNC_DINGTALK_OPS_WEBHOOK"})
    assert runner.invoke(app, ["rules", "validate", str(path)]).exit_code == 0


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (PLANTED, "(not a URL)"),  # a variable holding another credential entirely
        (f"user:{PLANTED}", "(not a URL)"),
        (f"https://evil.example/{PLANTED}?access_token=abc", "https://evil.example"),
        (f"https://oapi.dingtalk.com/robot/send?x={PLANTED}", "https://oapi.dingtalk.com"),  # no token
    ],
)
def test_the_notifier_never_echoes_a_webhook_beyond_its_host(value: str, shown: str) -> None:
    # GIVEN a channel whose webhook variable holds a planted secret somewhere in its value
    channel = AlertChannel("ops", value, "")
    # WHEN the notifier refuses it
    with capture_logs() as logs, pytest.raises(UpstreamRejected) as info:
        DingTalkNotifier(transport=lambda *a: (200, b'{"errcode": 0}')).send(channel, MESSAGE)
    # THEN the error and the log line show the scheme and host at most, never the value
    assert shown in str(info.value)
    assert PLANTED not in str(info.value)
    assert PLANTED not in repr(logs)
    assert [entry["event"] for entry in logs] == ["dingtalk_rejected"]


@pytest.fixture
def stored_foreign_channel(tmp_path: Path) -> Iterator[None]:
    """A store holding a channel applied before the prefix rule, naming a credential variable."""
    bootstrap.reset(
        {
            "ACRSYNC_STORE": f"sqlite:///{tmp_path / 'db.sqlite'}",
            "ACRSYNC_REGION": "cn-hangzhou",
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": PLANTED,
        }
    )
    bootstrap.stores().rules.write(
        channels={"ops": {"dingtalk": {"webhook_env": "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "secret_env": ""}}},
        upsert=[],
        delete=[],
        expected_version=0,
        now=0.0,
    )
    yield
    bootstrap.reset()


@pytest.mark.usefixtures("stored_foreign_channel")
def test_a_stored_channel_naming_a_foreign_variable_is_never_read() -> None:
    # WHEN the function resolves the channel
    with capture_logs() as logs:
        channel = bootstrap.channels()("ops")
    # THEN the variable is not read: no channel (no default either), one error line naming the variable
    assert channel is None
    refused = [entry for entry in logs if entry["event"] == "alert_channel_env_refused"]
    assert refused[0]["variables"] == ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"]
    assert PLANTED not in repr(logs)
