"""Cross-account destinations through the real credentials SDK: the RAM-role provider assumes ``role_arn`` at
the loopback STS (HTTPS, signature checked), and the emulator answers another account's instance only to
that role's keys. Without a role the destination is unverifiable, never verified."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from acrsync import bootstrap
from acrsync.domain.ledger import State
from acrsync.local import fc
from acrsync.local.stack import ACCOUNT_ID, LocalCloud
from acrsync.local.sts_standin import StsStandIn
from acrsync.service import rules_admin
from acrsync.service.clock import ManualClock
from tests.fixtures import load_event

pytestmark = pytest.mark.loopback

OTHER, THIRD = "2222222222222222", "3333333333333333"
ROLE = f"acs:ram::{OTHER}:role/acr-sync-reader"
TICK = json.dumps(
    {"triggerTime": "2026-11-30T10:00:00Z", "triggerName": "reconcile", "payload": "{}"}
).encode()
RULES = f"""
version: 1
rules:
  - name: to-other-account
    source: {{instance: cri-demo-src, repositories: ["team-a/*"]}}
    destinations:
      - {{instance: cri-other, region: cn-beijing, account: "{OTHER}", role_arn: "{ROLE}"}}
      - {{instance: cri-third, region: cn-beijing, account: "{THIRD}"}}
"""


@pytest.fixture
def sts(cloud: LocalCloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StsStandIn]:
    model = cloud.model
    for instance, account in (("cri-other", OTHER), ("cri-third", THIRD)):
        model.add_instance(instance, region="cn-beijing")
        model.add_namespace(instance, "team-a", auto_create_repo=True)
        cloud.emulator.accounts.own(instance, account)
    callers = {cloud.emulator.access_key_id: (cloud.emulator.access_key_secret, ACCOUNT_ID)}
    with StsStandIn(cloud.emulator, callers=callers) as standin:
        standin.add_role(ROLE, trusts={ACCOUNT_ID})
        monkeypatch.setenv("SSL_CERT_FILE", standin.ca_file)  # trust the stand-in's CA, as a host would
        env = {**cloud.env, "ACRSYNC_STS_ENDPOINT": standin.endpoint}
        bootstrap.reset(env)
        bootstrap.use(clock=cloud_clock(cloud))
        path = tmp_path / "rules.yaml"
        path.write_text(RULES, encoding="utf-8")
        doc = rules_admin.validate_file(path)
        rules_admin.apply(bootstrap.stores().rules, doc, prune=True, dry_run=False, now=model.clock())
        cloud.__dict__["env_with_sts"] = env
        yield standin


def cloud_clock(cloud: LocalCloud) -> ManualClock:
    clock = cloud.model.clock.__self__  # type: ignore[attr-defined]  # the fixture's ManualClock.now
    assert isinstance(clock, ManualClock)
    return clock


def run(cloud: LocalCloud, function: str, event: bytes) -> dict[str, Any]:
    return fc.invoke(function, event, cloud.__dict__["env_with_sts"])


def test_given_a_role_when_reconciled_and_watched_then_the_other_account_is_read_repaired_and_verified(
    cloud: LocalCloud, sts: StsStandIn, clock: ManualClock
) -> None:
    # GIVEN an image no event announced
    digest = cloud.model.push("cri-demo-src", "team-a", "web", "v1")
    # WHEN the reconciler ticks, ACR runs the task, the watcher sweeps, and the reconciler ticks again
    first = run(cloud, "reconciler", TICK)
    cloud.model.run_pending()
    for _ in range(3):
        clock.advance(61)
        run(cloud, "watcher", load_event("timer/sweep.json"))
    second = run(cloud, "reconciler", TICK)
    # THEN the role was assumed and the other account's instance listed with its keys
    assert sts.state.issued
    assert all(arn == ROLE for arn, _ in sts.state.issued)
    lists = [r for r in cloud.model.requests_for("ListRepoTag") if r.params["InstanceId"] == "cri-other"]
    assert lists
    assert all(r.outcome == "ok" for r in lists)
    # AND the image was repaired there (TargetUserId) and verified through the role
    creates = [
        r
        for r in cloud.model.requests_for("CreateRepoSyncTask")
        if (r.params["TargetInstanceId"], r.params["TargetTag"]) == ("cri-other", "v1")
    ]
    assert [r.params["TargetUserId"] for r in creates] == [OTHER]
    rows = {r.dest_instance: r for r in bootstrap.stores().ledger.scan() if r.source_ref.endswith("/web:v1")}
    assert rows["cri-other"].state is State.VERIFIED
    assert cloud.model.repo_by_name("cri-other", "team-a", "web").tags["v1"].digest == digest
    assert first["outcomes"]["submitted"] >= 1
    assert second["kinds"]["in_sync"] >= 1
    # AND the destination without a role is unverifiable in the pass, and its row never verified
    assert first["kinds"]["unverifiable"] >= 1
    assert rows["cri-third"].state is State.UNVERIFIABLE


def test_given_the_functions_own_keys_when_they_read_the_other_account_then_no_privilege(
    cloud: LocalCloud, sts: StsStandIn
) -> None:
    from acrsync.errors import UpstreamRejected

    api = bootstrap.registry()("cn-beijing")
    with pytest.raises(UpstreamRejected) as info:
        list(api.list_repositories("cri-other"))
    assert info.value.code == "NoPrivilege"


def test_given_a_role_that_does_not_trust_us_when_reconciled_then_a_finding_not_a_crash(
    cloud: LocalCloud, sts: StsStandIn
) -> None:
    sts.state.roles[ROLE].trusts = frozenset({"9999"})
    cloud.model.push("cri-demo-src", "team-a", "web", "v1")
    response = run(cloud, "reconciler", TICK)
    assert response["status"] == "ok"
    assert response["completed"] is True
    assert response["kinds"]["unreachable"] >= 1
    assert not sts.state.issued


def test_given_role_reads_when_everything_runs_then_no_issued_secret_reaches_a_log_line_or_response(
    cloud: LocalCloud, sts: StsStandIn, clock: ManualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud.model.push("cri-demo-src", "team-a", "web", "v9")
    responses = [run(cloud, "reconciler", TICK)]
    cloud.model.run_pending()
    clock.advance(61)
    responses.append(run(cloud, "watcher", load_event("timer/sweep.json")))
    issued = [cloud.emulator.keys.sts[key_id] for _, key_id in sts.state.issued]
    assert issued
    captured = capsys.readouterr()
    text = captured.out + captured.err + json.dumps(responses)
    for secret, token in issued:
        assert secret not in text
        assert token not in text
    assert cloud.emulator.access_key_secret not in text
