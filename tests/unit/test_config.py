"""Configuration: every variable read in one place; each problem names the variable and what it expects."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from acrsync.config import DEFAULT_STORE, KNOWN_VARIABLES, load_settings
from acrsync.errors import ConfigError


def test_defaults_need_nothing_but_a_region() -> None:
    settings = load_settings({"ACRSYNC_REGION": "cn-hangzhou"})
    assert settings.store.kind == "sqlite"
    assert DEFAULT_STORE.endswith(settings.store.location)
    assert settings.log_level == "INFO"
    assert settings.acr_qps == 10


def test_tablestore_endpoint_is_derived_from_instance_and_region() -> None:
    settings = load_settings({"ACRSYNC_STORE": "tablestore://acrsync", "ACRSYNC_REGION": "cn-shanghai"})
    assert settings.tablestore_endpoint == "https://acrsync.cn-shanghai.ots.aliyuncs.com"


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        (
            {"ACRSYNC_STORE": "mysql://x"},
            "ACRSYNC_STORE='mysql://x': expected sqlite:///PATH or tablestore://INSTANCE",
        ),
        ({"ACRSYNC_REGION": "Hangzhou"}, "ACRSYNC_REGION='Hangzhou': expected a region id"),
        (
            {"ACRSYNC_ALLOWED_ACCOUNT_IDS": "123456789,abc"},
            "ACRSYNC_ALLOWED_ACCOUNT_IDS: not account ids: abc",
        ),
        ({"ACRSYNC_LOG_LEVEL": "LOUD"}, "ACRSYNC_LOG_LEVEL='LOUD': expected one of"),
        ({"ACRSYNC_ACR_QPS": "0"}, "ACRSYNC_ACR_QPS='0': expected an integer 1..1000"),
        (
            {"ACRSYNC_DINGTALK_WEBHOOK": "http://evil.example/robot"},
            "ACRSYNC_DINGTALK_WEBHOOK: the DingTalk webhook http://evil.example must be https",
        ),
        (
            {"ACRSYNC_DINGTALK_WEBHOOK": "http://127.0.0.1.evil.example/robot/send?access_token=t0k3n"},
            "ACRSYNC_DINGTALK_WEBHOOK: the DingTalk webhook http://127.0.0.1.evil.example must be https",
        ),
        (
            {"ACRSYNC_DINGTALK_WEBHOOK": "https://oapi.dingtalk.com/robot/send"},
            "ACRSYNC_DINGTALK_WEBHOOK: the DingTalk webhook https://oapi.dingtalk.com has no access_token",
        ),
        ({"ACRSYNC_TABLESTORE_ENDPOINT": "ots.example"}, "ACRSYNC_TABLESTORE_ENDPOINT: must start with http"),
        ({"ACRSYNC_STORE": "tablestore://inst"}, "ACRSYNC_TABLESTORE_ENDPOINT: needed (or ACRSYNC_REGION)"),
    ],
)
def test_a_bad_variable_is_named_with_what_is_expected(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(env)
    assert needle in str(err.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({"ACRSYNC_REGION": "X", "ACRSYNC_LOG_LEVEL": "LOUD", "ACRSYNC_ACR_QPS": "many"})
    message = str(err.value)
    assert all(v in message for v in ("ACRSYNC_REGION", "ACRSYNC_LOG_LEVEL", "ACRSYNC_ACR_QPS"))


def test_credentials_come_from_env_first_then_fc_context() -> None:
    context = SimpleNamespace(
        credentials=SimpleNamespace(
            access_key_id="ctx-ak", access_key_secret="ctx-sk", security_token="ctx-st"
        ),
        region="cn-beijing",
        account_id="1234567890123456",
    )
    from_context = load_settings({}, context)
    assert from_context.credentials.access_key_id == "ctx-ak"
    assert from_context.credentials.security_token == "ctx-st"
    assert from_context.region == "cn-beijing"
    assert from_context.allowed_account_ids == frozenset({"1234567890123456"})
    env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "env-ak", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "env-sk"}
    assert load_settings(env, context).credentials.access_key_id == "env-ak"


def test_settings_never_show_secrets_in_repr() -> None:
    settings = load_settings(
        {
            "ACRSYNC_REGION": "cn-hangzhou",
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "sk-planted-0001",
            "ACRSYNC_DINGTALK_SECRET": "SECplanted0002",
        }
    )
    assert "sk-planted-0001" not in repr(settings)
    assert "SECplanted0002" not in repr(settings)


def test_the_readme_documents_every_variable() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [v for v in KNOWN_VARIABLES if v.split("_SECRET")[0].split("_SECURITY")[0] not in readme]
    assert missing == []


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"ACRSYNC_REGION": "cn-hangzhou\n"}, "ACRSYNC_REGION='cn-hangzhou\\n'"),
        ({"ACRSYNC_REGION": "cn-hangzhou", "ACRSYNC_STORE": "tablestore://acrsync\n"}, "tablestore://"),
        (
            {"ACRSYNC_REGION": "cn-hangzhou", "ACRSYNC_ACR_ENDPOINT": "cr.example.com\n"},
            "ACRSYNC_ACR_ENDPOINT",
        ),
    ],
    ids=["region", "tablestore instance", "acr endpoint"],
)
def test_a_variable_with_a_trailing_line_break_is_refused(env: dict[str, str], needle: str) -> None:
    # GIVEN a variable pasted with its line break (a regex ending in "$" let it through)
    # WHEN the configuration is read THEN that variable is named as wrong
    with pytest.raises(ConfigError) as err:
        load_settings(env)
    assert needle in str(err.value)
