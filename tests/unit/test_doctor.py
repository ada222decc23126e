"""``doctor`` checks over the emulated account: each one passes on a healthy setup and fails on its fault."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from acrsync.domain.regions import cloud_of, is_public_cloud
from acrsync.errors import UpstreamRejected, UpstreamUnavailable
from acrsync.local.acr_model import AcrModel
from acrsync.local.fake_registry import FakeRegistry
from acrsync.ports import AlertChannel, RegistryApi, StoredRules
from acrsync.service.doctor import FAIL, PASS, WARN, Check, DoctorDeps, failed, run_checks
from tests.harness import RecordingNotifier

SRC, DST = "cri-src", "cri-dst"
CHANNEL = AlertChannel("ops", "https://oapi.dingtalk.com/robot/send?access_token=t0k3n", "SEC" + "0" * 20)


def healthy_model() -> AcrModel:
    """A Premium source in Hangzhou; a Shanghai destination with team-a (auto-create on) and ops/mirror."""
    model = AcrModel()
    model.add_instance(SRC, region="cn-hangzhou")
    model.add_instance(DST, region="cn-shanghai")
    model.push(SRC, "team-a", "web", "v1")
    model.add_namespace(DST, "team-a", auto_create_repo=True)
    model.add_namespace(DST, "ops")
    model.add_repository(DST, "ops", "mirror")
    return model


def rules(region: str = "cn-shanghai", **dest: Any) -> list[dict[str, Any]]:
    """A namespace-level rule (repository template) and a literal-repository rule."""
    return [
        {
            "name": "team-a",
            "alert": "ops",
            "source": {"instance": SRC, "repositories": ["team-a/*"]},
            "tags": {},
            "destinations": [{"instance": DST, "region": region, **dest}],
        },
        {
            "name": "mirror",
            "source": {"instance": SRC, "repositories": ["team-a/web"]},
            "tags": {},
            "destinations": [
                {"instance": DST, "region": "cn-shanghai", "namespace": "ops", "repository": "mirror"}
            ],
        },
    ]


def deps(
    model: AcrModel,
    rule_docs: list[dict[str, Any]] | None = None,
    *,
    registry: Callable[[str], RegistryApi] | None = None,
    creds: bool = True,
    probe: Callable[[], str] = lambda: "sqlite test.db: opens",
    channel: AlertChannel | None = CHANNEL,
    notifier: RecordingNotifier | None = None,
) -> DoctorDeps:
    stored = StoredRules(
        version=3,
        updated_at=0.0,
        channels={"ops": {"dingtalk": {"webhook_env": "ACRSYNC_DINGTALK_OPS_HOOK"}}},
        rules=tuple(rule_docs if rule_docs is not None else rules()),
    )
    sent = notifier or RecordingNotifier()
    return DoctorDeps(
        region="cn-hangzhou",
        credentials_present=creds,
        rules=lambda: stored,
        registry=registry or (lambda region: FakeRegistry(model, region=region)),
        store_probe=probe,
        channels=lambda name: channel,
        notifier=lambda: sent,
    )


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def test_healthy_setup_passes_every_check() -> None:
    checks = run_checks(deps(healthy_model()))
    assert {c.status for c in checks} == {PASS}, [c for c in checks if c.status != PASS]
    names = set(by_name(checks))
    assert {
        "store",
        "rules",
        "credentials",
        f"source edition {SRC}",
        "destination region cn-shanghai",
        f"destination namespace {DST}/team-a",
        f"auto-create repository {DST}/team-a",
        f"destination repository {DST}/ops/mirror",
        "alert channel ops",
    } <= names
    assert not failed(checks)


def test_standard_edition_source_fails_with_the_premium_fix() -> None:
    model = healthy_model()
    model.instances[SRC].specification = "Enterprise_Standard"
    check = by_name(run_checks(deps(model)))[f"source edition {SRC}"]
    assert check.status == FAIL
    assert "ACR replication needs the Premium edition" in check.detail


def test_missing_source_instance_fails() -> None:
    model = healthy_model()
    del model.instances[SRC]
    checks = run_checks(deps(model))
    assert by_name(checks)["credentials"].status == PASS  # INSTANCE_NOT_EXIST is a business answer
    assert by_name(checks)[f"source edition {SRC}"].status == FAIL


@pytest.mark.parametrize("region", ["cn-shanghai-finance-1", "cn-north-2-gov-1", "cn-shenzhen-finance-1"])
def test_finance_and_gov_destination_regions_fail(region: str) -> None:
    model = healthy_model()
    model.instances[DST].region = region
    check = by_name(run_checks(deps(model, rules(region=region))))[f"destination region {region}"]
    assert check.status == FAIL
    assert cloud_of(region) in check.detail


def test_region_classification_is_by_list_and_marker() -> None:
    assert is_public_cloud("cn-shanghai")
    assert is_public_cloud("ap-southeast-1")
    assert cloud_of("cn-hangzhou-finance") == "finance"
    assert cloud_of("cn-north-2-gov-1") == "gov"
    assert cloud_of("cn-wuhan-finance-2") == "finance"  # not listed: caught by the marker


def test_missing_destination_namespace_fails_with_the_console_path() -> None:
    model = healthy_model()
    del model.namespaces[(DST, "team-a")]
    check = by_name(run_checks(deps(model)))[f"destination namespace {DST}/team-a"]
    assert check.status == FAIL
    assert "Create Namespace 'team-a'" in check.fix


def test_auto_create_off_warns_for_a_namespace_level_rule() -> None:
    model = healthy_model()
    model.namespaces[(DST, "team-a")].auto_create_repo = False
    checks = run_checks(deps(model))
    check = by_name(checks)[f"auto-create repository {DST}/team-a"]
    assert check.status == WARN
    assert "Automatically Create Repository" in check.fix
    assert not failed(checks)


def test_literal_destination_repository_missing_fails_unless_auto_created() -> None:
    model = healthy_model()
    mirror = model.repo_by_name(DST, "ops", "mirror")
    del model.repos[mirror.repo_id]
    name = f"destination repository {DST}/ops/mirror"
    assert by_name(run_checks(deps(model)))[name].status == FAIL
    model.namespaces[(DST, "ops")].auto_create_repo = True
    assert by_name(run_checks(deps(model)))[name].status == PASS


def test_namespace_of_a_double_star_rule_is_read_from_the_source_repositories() -> None:
    # GIVEN a "**" rule renaming namespaces to prod-{namespace}; the source has team-a only
    model = healthy_model()
    doc = rules()[:1]
    doc[0]["source"]["repositories"] = ["**"]
    doc[0]["destinations"][0]["namespace"] = "prod-{namespace}"
    checks = by_name(run_checks(deps(model, doc)))
    # THEN prod-team-a is checked (and missing)
    assert checks[f"destination namespace {DST}/prod-team-a"].status == FAIL


def test_rules_that_do_not_recompile_fail() -> None:
    bad = rules()
    bad[0]["tags"] = {"include": ["regex:(unclosed"]}
    check = by_name(run_checks(deps(healthy_model(), bad)))["rules"]
    assert check.status == FAIL
    assert "rules[0]" in check.detail


def test_no_rules_warns() -> None:
    check = by_name(run_checks(deps(healthy_model(), [])))["rules"]
    assert check.status == WARN


def test_unreachable_store_fails() -> None:
    def broken() -> str:
        raise UpstreamUnavailable("tablestore DescribeTable: OTSServerBusy", code="OTSServerBusy")

    check = by_name(run_checks(deps(healthy_model(), probe=broken)))["store"]
    assert check.status == FAIL
    assert "tables init" in check.fix


def test_missing_credentials_fail_and_skip_the_acr_checks() -> None:
    checks = run_checks(deps(healthy_model(), creds=False))
    assert by_name(checks)["credentials"].status == FAIL
    assert f"source edition {SRC}" not in by_name(checks)
    assert failed(checks)


class Refusing(FakeRegistry):
    def __init__(self, model: AcrModel, code: str) -> None:
        super().__init__(model)
        self.code = code

    def get_instance(self, instance_id: str) -> Any:
        raise UpstreamRejected(f"ACR GetInstance failed: {self.code} (HTTP 400)", code=self.code)


@pytest.mark.parametrize("code", ["SignatureDoesNotMatch", "InvalidAccessKeyId.NotFound"])
def test_refused_credentials_fail_with_check_the_ak_sk(code: str) -> None:
    model = healthy_model()
    check = by_name(run_checks(deps(model, registry=lambda region: Refusing(model, code))))["credentials"]
    assert check.status == FAIL
    assert check.fix == "check the AK/SK"


def test_unconfigured_alert_channel_warns() -> None:
    check = by_name(run_checks(deps(healthy_model(), channel=None)))["alert channel ops"]
    assert check.status == WARN


def test_webhook_the_notifier_would_refuse_fails_instead_of_passing() -> None:
    # GIVEN a channel whose webhook only looks like loopback (the notifier refuses it)
    hook = "http://127.0.0.1.evil.example/robot/send?access_token=t0k3n"
    sent = RecordingNotifier()
    setup = deps(healthy_model(), channel=AlertChannel("ops", hook), notifier=sent)
    checks = run_checks(setup, send_test_alert=True)
    # THEN doctor fails it with the notifier's reason (host only), and sends nothing there
    check = by_name(checks)["alert channel ops"]
    assert check.status == FAIL
    assert "http://127.0.0.1.evil.example must be https" in check.detail
    assert "t0k3n" not in check.detail
    assert sent.sent == []


def test_channel_falling_back_to_default_names_its_env_variable() -> None:
    fallback = AlertChannel("default", "https://example.invalid/robot")
    check = by_name(run_checks(deps(healthy_model(), channel=fallback)))["alert channel ops"]
    assert check.status == WARN
    assert "OPS_HOOK" in check.detail


def test_send_test_alert_goes_through_the_notifier() -> None:
    sent = RecordingNotifier()
    # GIVEN two channel names (the mirror rule's default, the team-a rule's ops) leading to one robot
    checks = run_checks(deps(healthy_model(), notifier=sent), send_test_alert=True)
    # THEN one test message was sent, and its check passed
    tests = [c for c in checks if c.name.startswith("test alert")]
    assert [c.status for c in tests] == [PASS]
    assert [m.title for _, m in sent.sent] == ["acr-sync test alert"]


def test_failing_test_alert_fails() -> None:
    sent = RecordingNotifier()
    sent.fail_next = 1
    checks = run_checks(deps(healthy_model(), notifier=sent), send_test_alert=True)
    assert [c.status for c in checks if c.name.startswith("test alert")] == [FAIL]
    assert failed(checks)
