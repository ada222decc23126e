"""The FC 3.0 and EventBridge adapters on their real SDKs against the loopback stand-ins: the wire, the
signature check and the error translation (a wrong key is refused as the gateway would, never echoed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from acrsync.adapters.eventbridge import EventBridgeBus, EventBridgeRules, build_eventbridge_client
from acrsync.adapters.fc import FcFunctions, build_fc_client
from acrsync.errors import UpstreamRejected, UpstreamUnavailable
from acrsync.local.eventbridge_api import EventBridgeState, eventbridge_standin
from acrsync.local.fc_api import FcState, fc_standin
from acrsync.local.openapi_standin import OpenApiStandin

pytestmark = pytest.mark.loopback

WRONG_SECRET = "wrong-secret-planted-77a1"
EVENT = {"id": "e1", "source": "acr-sync", "type": "acrsync:Replication:Verified", "data": {"x": 1}}


@pytest.fixture
def fc() -> Iterator[tuple[FcState, OpenApiStandin]]:
    state = FcState(
        functions={"f": {"functionName": "f", "runtime": "python3.10", "memorySize": 256}},
        triggers={
            "f": {"t": {"triggerName": "t", "triggerType": "timer", "triggerConfig": '{"enable":true}'}}
        },
    )
    with fc_standin(state) as standin:
        yield state, standin


@pytest.fixture
def eventbridge() -> Iterator[tuple[EventBridgeState, OpenApiStandin]]:
    state = EventBridgeState()
    state.add_bus("outcomes")
    with eventbridge_standin(state) as standin:
        yield state, standin


def keys(standin: OpenApiStandin, secret: str = "") -> dict[str, str]:
    return {"access_key_id": standin.access_key_id, "access_key_secret": secret or standin.access_key_secret}


def test_fc_reads_functions_triggers_and_answers_none_for_what_does_not_exist(
    fc: tuple[FcState, OpenApiStandin],
) -> None:
    _, standin = fc
    api = FcFunctions(build_fc_client("cn-hangzhou", standin.url, **keys(standin)))
    function = api.get_function("f")
    assert function is not None
    assert function["memorySize"] == 256
    assert api.get_function("nope") is None
    assert api.get_async_invoke_config("f") is None
    (trigger,) = api.list_triggers("f")
    assert trigger["triggerConfig"] == {"enable": True}  # decoded from the JSON string the API returns
    assert standin.requests[0][:2] == ("GET", "/2023-03-30/functions/f")


def test_a_wrong_secret_is_refused_by_the_signature_check_and_never_echoed(
    fc: tuple[FcState, OpenApiStandin],
) -> None:
    _, standin = fc
    api = FcFunctions(build_fc_client("cn-hangzhou", standin.url, **keys(standin, WRONG_SECRET)))
    with pytest.raises(UpstreamRejected) as info:
        api.get_function("f")
    assert info.value.code == "SignatureDoesNotMatch"
    assert WRONG_SECRET not in str(info.value)


def test_eventbridge_reads_a_rule_and_none_for_a_missing_one(
    eventbridge: tuple[EventBridgeState, OpenApiStandin],
) -> None:
    state, standin = eventbridge
    state.rules["default"]["r"] = {"RuleName": "r", "Status": "ENABLE", "FilterPattern": "{}", "Targets": []}
    rules = EventBridgeRules(build_eventbridge_client("cn-hangzhou", standin.url, **keys(standin)))
    rule = rules.get_rule("default", "r")
    assert rule is not None
    assert rule["Status"] == "ENABLE"
    assert rules.get_rule("default", "missing") is None


def test_put_events_reaches_the_custom_bus_and_is_refused_on_default_or_over_the_batch_limit(
    eventbridge: tuple[EventBridgeState, OpenApiStandin],
) -> None:
    state, standin = eventbridge
    bus = EventBridgeBus(build_eventbridge_client("cn-hangzhou", standin.url, **keys(standin)))
    assert bus.put_events("outcomes", [EVENT]) == {"e1"}
    assert state.received["outcomes"][0]["Data"] == '{"x":1}'
    with pytest.raises(UpstreamRejected):
        bus.put_events("default", [EVENT])  # custom events go to custom buses only
    with pytest.raises(ValueError, match=r"1\.\.16"):
        bus.put_events("outcomes", [EVENT] * 17)


def test_an_outage_is_retryable(eventbridge: tuple[EventBridgeState, OpenApiStandin]) -> None:
    state, standin = eventbridge
    state.fail_rate = 1.0
    bus = EventBridgeBus(build_eventbridge_client("cn-hangzhou", standin.url, **keys(standin)))
    with pytest.raises(UpstreamUnavailable):
        bus.put_events("outcomes", [EVENT])
    assert state.received["outcomes"] == []
