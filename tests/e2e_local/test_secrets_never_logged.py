"""Planted secrets (AK/SK, STS token, DingTalk token and secret) never reach a log line or a response."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from acrsync import bootstrap
from acrsync.local import fc
from acrsync.local.acr_emulator import AcrEmulator
from acrsync.local.acr_model import AcrModel
from acrsync.local.dingtalk_sink import DingTalkSink
from acrsync.local.stack import ACCOUNT_ID, seed_events, seed_world
from acrsync.service import rules_admin
from acrsync.service.clock import ManualClock
from tests.fixtures import load_event

pytestmark = pytest.mark.loopback
ROOT = Path(__file__).resolve().parents[2]

AK = "STS.PlantedAccessKeyId0001"
SK = "planted-secret-key-0002-zzzz"
TOKEN = "planted-sts-security-token-0003-CAIS"
ROBOT = "planted-robot-access-token-0004"
ROBOT_SECRET = "SECplanted0005deadbeefdeadbeefdeadbeef"
PLANTED = (SK, TOKEN, ROBOT, ROBOT_SECRET)


def test_no_planted_secret_appears_in_any_log_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an STS identity and a signed robot; the robot is configured with the WRONG secret, so the
    # DingTalk error path runs too, and one delivery uses a wrong SK so the ACR error path runs
    model = AcrModel(account_id=ACCOUNT_ID)
    seed_world(model)
    seed_events(model, ROOT / "events")
    model.fail_destination("cri-demo-bj", "team-a", "namespace not exist")
    with (
        AcrEmulator(model, sts_credentials={AK: (SK, TOKEN)}) as emulator,
        DingTalkSink({ROBOT: "SECother"}) as sink,
    ):
        env = {
            "ACRSYNC_STORE": f"sqlite:///{tmp_path / 'db.sqlite'}",
            "ACRSYNC_REGION": "cn-hangzhou",
            "ACRSYNC_ACR_ENDPOINT": emulator.url,
            "ACRSYNC_ALLOWED_ACCOUNT_IDS": ACCOUNT_ID,
            "ACRSYNC_DINGTALK_WEBHOOK": sink.webhook_url(ROBOT),
            "ACRSYNC_DINGTALK_SECRET": ROBOT_SECRET,
            "ACRSYNC_LOG_LEVEL": "DEBUG",
            "ALIBABA_CLOUD_ACCESS_KEY_ID": AK,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SK,
            "ALIBABA_CLOUD_SECURITY_TOKEN": TOKEN,
        }
        bootstrap.reset(env)
        doc = rules_admin.validate_file(ROOT / "examples" / "rules.yaml")
        rules_admin.apply(bootstrap.stores().rules, doc, prune=True, dry_run=False, now=0.0)
        bootstrap.reset(env)
        responses = [fc.invoke("replicator", load_event("acs.cr/push_completed.json"), env)]
        model.run_pending()
        from acrsync.service.alerting import flush_alerts

        clock = ManualClock(start=time.time() + 60)  # the tasks are due for their first check
        bootstrap.use(clock=clock)
        responses.append(fc.invoke("watcher", load_event("timer/sweep.json"), env))
        clock.advance(120)  # the alert window closes
        flush_alerts(bootstrap.watcher_deps(), deadline=1e18)
        # a wrong secret: the ACR error path
        bad = {**env, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "wrong-" + SK}
        bootstrap.reset(bad)
        refused = fc.invoke("replicator", load_event("acs.cr/push_completed.v1.3.0.json"), bad)
        assert {r["outcome"] for r in refused["results"]} == {"failed"}
        assert "SignatureDoesNotMatch" in json.dumps(refused)
        responses.append(refused)
        bootstrap.reset()
    captured = capsys.readouterr()
    text = captured.out + captured.err + json.dumps(responses)
    # THEN the flows ran (there is something to inspect) and no secret is in it
    assert "sync_task_submitted" in text
    assert "alert_channel_rejected" in text or "dingtalk" in text.lower()
    leaked = [s for s in PLANTED if s in text]
    assert leaked == []
