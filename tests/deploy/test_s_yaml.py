"""s.yaml against the code: handlers, timeouts, environment, triggers, async config, secrets."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from acrsync.config import KNOWN_VARIABLES, load_settings
from acrsync.deploy_checks import expressions_in, resolve_expressions, timer_expression_problem
from acrsync.domain.events import TimerTick, parse_event
from acrsync.local.fc import FUNCTION_NAMES, TIMEOUTS_S

REPO = Path(__file__).resolve().parents[2]
REQUIRED_VARIABLES = ("ACRSYNC_STORE", "ACRSYNC_REGION", "ACRSYNC_ALLOWED_ACCOUNT_IDS")
SECRET_VARIABLES = ("ACRSYNC_DINGTALK_WEBHOOK", "ACRSYNC_DINGTALK_SECRET")
FAKE_ENV = {
    "ACRSYNC_DINGTALK_WEBHOOK": "https://oapi.dingtalk.com/robot/send?access_token=fake-token",
    "ACRSYNC_DINGTALK_SECRET": "SECfake",
}


def load_raw() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((REPO / "s.yaml").read_text(encoding="utf-8"))
    return doc


def load_resolved() -> dict[str, Any]:
    """s.yaml with its own ``vars`` and fake deployer variables substituted, as Serverless Devs would."""
    raw = load_raw()
    resolved: dict[str, Any] = resolve_expressions(raw, raw["vars"], FAKE_ENV)
    return resolved


def functions() -> dict[str, dict[str, Any]]:
    """Resolved props per function short name (``acr-sync-replicator`` -> ``replicator``)."""
    props = [r["props"] for r in load_resolved()["resources"].values()]
    return {p["functionName"].removeprefix("acr-sync-"): p for p in props}


def raw_props(name: str) -> dict[str, Any]:
    for resource in load_raw()["resources"].values():
        if resource["props"]["functionName"] == f"acr-sync-{name}":
            props: dict[str, Any] = resource["props"]
            return props
    raise AssertionError(f"no acr-sync-{name} in s.yaml")


def test_s_yaml_is_an_fc3_project_with_one_resource_per_function() -> None:
    # GIVEN s.yaml WHEN it is parsed
    doc = load_raw()
    # THEN it is edition 3.0.0 with fc3 resources for exactly the functions the repo has
    assert doc["edition"] == "3.0.0"
    assert doc["access"] == "default"
    assert {r["component"] for r in doc["resources"].values()} == {"fc3"}
    assert sorted(functions()) == sorted(FUNCTION_NAMES)


def test_every_expression_resolves_to_a_var_or_a_deployer_variable() -> None:
    # GIVEN every ${...} in s.yaml WHEN resolved against vars and the environment THEN none is unknown
    raw = load_raw()
    assert expressions_in(raw["resources"])
    resolve_expressions(raw, raw["vars"], FAKE_ENV)  # raises KeyError on a typo
    assert not expressions_in(raw["vars"]), "vars must be literals (nested expressions are unverified)"


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_handler_resolves_to_a_handler_function_in_the_repo(name: str) -> None:
    # GIVEN the function's props
    props = functions()[name]
    module, _, attribute = props["handler"].partition(".")
    # WHEN the handler path is looked up in functions/<name>/
    source = REPO / "functions" / name / f"{module}.py"
    defined = {
        n.name for n in ast.parse(source.read_text(encoding="utf-8")).body if isinstance(n, ast.FunctionDef)
    }
    # THEN the file defines it, and the code package is the build output for that function, on python3.10
    assert attribute in defined
    assert props["code"] == f"./build/{name}"
    assert props["runtime"] == "python3.10"


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_function_timeout_equals_what_the_code_assumes(name: str) -> None:
    # GIVEN the local FC runner's timeouts WHEN compared with s.yaml THEN they agree, as integers
    props = functions()[name]
    assert props["timeout"] == TIMEOUTS_S[name]
    assert isinstance(props["memorySize"], int)
    assert 128 <= props["memorySize"] <= 3072


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_environment_is_known_complete_and_valid(name: str) -> None:
    # GIVEN the function's environment map
    env = functions()[name]["environmentVariables"]
    # THEN every variable is one the product reads, the required ones are set...
    assert set(env) <= set(KNOWN_VARIABLES), set(env) - set(KNOWN_VARIABLES)
    assert all(env.get(v) for v in REQUIRED_VARIABLES)
    # ...and the values pass the product's own validation
    settings = load_settings({k: str(v) for k, v in env.items()})
    assert settings.store.kind == "tablestore"
    assert settings.tablestore_endpoint.startswith("https://")


def test_both_functions_get_the_same_environment() -> None:
    # GIVEN the inlined maps (no YAML anchors) WHEN compared THEN they are identical
    envs = [raw_props(name)["environmentVariables"] for name in FUNCTION_NAMES]
    assert all(env == envs[0] for env in envs)


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_secrets_come_from_the_deployers_environment(name: str) -> None:
    # GIVEN the raw (unresolved) environment
    env = raw_props(name)["environmentVariables"]
    # THEN the DingTalk webhook and secret are ${env('SAME_NAME')} expressions, never values
    for variable in SECRET_VARIABLES:
        assert env[variable] == f"${{env('{variable}')}}"


def test_no_secret_looks_inline_anywhere_in_s_yaml() -> None:
    text = (REPO / "s.yaml").read_text(encoding="utf-8")
    assert not re.search(r"access_token=[A-Za-z0-9]", text)
    assert not re.search(r"\bSEC[0-9a-f]{16,}", text)
    assert not re.search(r"\bLTAI[0-9A-Za-z]{8,}", text)  # an AccessKey id


def test_replicator_retries_async_failures_and_routes_them_to_a_destination() -> None:
    config = functions()["replicator"]["asyncInvokeConfig"]
    assert config["maxAsyncRetryAttempts"] == 3
    assert 60 <= config["maxAsyncEventAgeInSeconds"] <= 86400
    assert config["destinationConfig"]["onFailure"]["destination"].startswith("acs:")


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_pre_deploy_action_builds_the_code_package(name: str) -> None:
    resource = next(r for r in load_raw()["resources"].values() if r["props"]["code"] == f"./build/{name}")
    steps = resource["actions"]["pre-deploy"]
    assert {"run": "make build", "path": "./"} in steps


def eventbridge_triggers(name: str) -> list[dict[str, Any]]:
    return [t for t in functions()[name]["triggers"] if t["triggerType"] == "eventbridge"]


@pytest.mark.parametrize("name", ["replicator", "watcher"])  # the reconciler: a timer; the copier: invoked
def test_eventbridge_triggers_take_acr_events_from_the_default_bus_as_cloudevents(name: str) -> None:
    triggers = eventbridge_triggers(name)
    assert len(triggers) == 1
    config = triggers[0]["triggerConfig"]
    assert config["eventSourceConfig"]["eventSourceType"] == "Default"
    assert config["eventSinkConfig"]["deliveryOption"]["eventSchema"] == "CloudEvents"
    assert isinstance(config["asyncInvocationType"], bool)
    assert json.loads(config["eventRuleFilterPattern"])["source"] == ["acs.cr"]


def test_watcher_timer_is_valid_and_its_event_parses_as_a_sweep_tick() -> None:
    # GIVEN the watcher's timer trigger
    (timer,) = [t for t in functions()["watcher"]["triggers"] if t["triggerType"] == "timer"]
    config = timer["triggerConfig"]
    # WHEN FC fires it (reference §3.3: {"triggerTime", "triggerName", "payload"})
    body = json.dumps(
        {
            "triggerTime": "2026-11-28T02:15:00Z",
            "triggerName": timer["triggerName"],
            "payload": config["payload"],
        }
    ).encode()
    event = parse_event(body, allowed_accounts=frozenset())
    # THEN the expression is valid, the trigger is on and the watcher reads a timer tick with the payload
    assert timer_expression_problem(config["cronExpression"]) == ""
    assert config["cronExpression"] == "@every 1m"
    assert config["enable"] is True
    assert isinstance(event, TimerTick)
    assert json.loads(event.payload) == {"mode": "sweep"}


def test_no_trigger_follows_an_eventbridge_trigger() -> None:
    # GIVEN fc3's trigger deploy loop, which returns at the first unchanged EventBridge trigger
    # (devsapp/fc3 src/subCommands/deploy/impl/trigger.ts, Trigger.run)
    for name, props in functions().items():
        types = [t["triggerType"] for t in props["triggers"]]
        # THEN every EventBridge trigger comes last, so no trigger after one can be silently skipped
        first_eb = types.index("eventbridge") if "eventbridge" in types else len(types)
        assert all(t == "eventbridge" for t in types[first_eb:]), name
        assert types.count("eventbridge") <= 1, name


def test_outcome_events_go_to_a_custom_bus_named_in_vars() -> None:
    raw = load_raw()
    assert raw["vars"]["event_bus"] not in ("", "default")
    for props in functions().values():
        assert props["environmentVariables"]["ACRSYNC_EVENT_BUS"] == raw["vars"]["event_bus"]
