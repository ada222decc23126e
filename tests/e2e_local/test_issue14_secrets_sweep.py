"""Secrets planted everywhere issue 14 reaches (a registry password, a DingTalk token and secret, an STS
token), then every operator surface it added or changed — canary (with a failing alert), status, doctor —
and every log line: none of them may show one (the outside review of issue 14)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from acrsync import bootstrap
from acrsync.cli.app import app
from acrsync.local.stack import SOURCE
from tests.e2e_local.canary_stack import CRED_ENV, Stack, harbor, stack_fixture  # noqa: F401 (fixture)

pytestmark = pytest.mark.loopback
PASSWORD = "harbor-Sweep-Planted-pw-5e6f"
TOKEN = "dt-Sweep-Planted-token-1a2b"
SECRET = "SECsweepPlanted0123456789abcdef0123456789abcdef"
STS = "sts-Sweep-Planted-token-9c8d"


def test_given_planted_secrets_when_canary_status_and_doctor_run_and_fail_then_none_is_shown(
    stack: Stack, capfd: pytest.CaptureFixture[str]
) -> None:
    stack.env.update(
        {
            CRED_ENV: f"robot$dr:{PASSWORD}",  # wrong: the copy fails, the canary is broken
            # a robot nobody answers: the canary's alert fails and says so
            "ACRSYNC_DINGTALK_WEBHOOK": f"http://127.0.0.1:9/robot/send?access_token={TOKEN}",
            "ACRSYNC_DINGTALK_SECRET": SECRET,
            "ALIBABA_CLOUD_SECURITY_TOKEN": STS,
        }
    )
    bootstrap.reset(stack.env)
    stack.rules(harbor(stack))
    stack.trigger()
    canary = stack.canary(f"{SOURCE[0]}/team-a/web", 20, "--alert")
    assert canary.exit_code == 1, canary.output
    assert "broken stage: completed:" in canary.output
    runner = CliRunner()
    status = runner.invoke(app, ["status", "--failed", "--json"])
    doctor = runner.invoke(app, ["doctor"])
    texts = [canary.output, status.output, doctor.output, *capfd.readouterr()]
    assert any("alert" in t for t in texts)
    for secret in (PASSWORD, TOKEN, SECRET, STS):
        for text in texts:
            assert secret not in text
