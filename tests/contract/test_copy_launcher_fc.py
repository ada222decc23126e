"""FcCopyLauncher: the real FC 3.0 SDK -> the FC 3.0 API stand-in's InvokeFunction (signature checked)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from acrsync.adapters.copy_launcher import FcCopyLauncher, build_fc_client
from acrsync.errors import UpstreamRejected
from acrsync.local.fc_api import FcState, fc_standin
from acrsync.local.openapi_standin import OpenApiStandin

pytestmark = pytest.mark.loopback
AK, SK = "LTAI5tFcStandinKey000001", "fc-standin-secret-Planted-5"
COPIER = "acr-sync-copier"


def copier_fc(run: Callable[[str, bytes], Any] | None = None) -> tuple[FcState, OpenApiStandin]:
    """FC holding the copier function, answering to ``AK``/``SK`` only."""
    state = FcState(functions={COPIER: {"functionName": COPIER}}, run=run)
    return state, fc_standin(state, credentials={AK: SK})


def test_given_a_claim_when_launched_then_the_copier_is_invoked_async_with_the_claim_id() -> None:
    ran: list[tuple[str, bytes]] = []
    state, standin = copier_fc(run=lambda name, body: ran.append((name, body)))
    with standin as fc:
        client = build_fc_client(
            "cn-hangzhou",
            "1234567890123456",
            access_key_id=AK,
            access_key_secret=SK,
            endpoint=fc.url,
        )
        FcCopyLauncher(client, COPIER).launch("claim-0123")
    (call,) = state.invocations
    assert (call.function, call.invocation_type, call.qualifier) == (COPIER, "Async", "LATEST")
    assert json.loads(call.body) == {"claim_id": "claim-0123"}
    assert ran == [(COPIER, call.body)]


def test_given_wrong_keys_when_launched_then_rejected_without_the_secret_in_the_message() -> None:
    state, standin = copier_fc()
    with standin as fc:
        client = build_fc_client(
            "cn-hangzhou",
            "1234567890123456",
            access_key_id=AK,
            access_key_secret="wrong-Planted-9",
            endpoint=fc.url,
        )
        with pytest.raises(UpstreamRejected) as err:
            FcCopyLauncher(client, COPIER).launch("claim-0123")
    assert "wrong-Planted-9" not in str(err.value)
    assert state.invocations == []


def test_given_a_client_factory_when_launched_then_the_client_is_built_on_first_use_only() -> None:
    built: list[int] = []
    state, standin = copier_fc()
    with standin as fc:

        def factory() -> object:
            built.append(1)
            return build_fc_client(
                "cn-hangzhou",
                "1234567890123456",
                access_key_id=AK,
                access_key_secret=SK,
                endpoint=fc.url,
            )

        launcher = FcCopyLauncher(factory, COPIER)
        assert built == []
        launcher.launch("a")
        launcher.launch("b")
    assert built == [1]
    assert [json.loads(i.body)["claim_id"] for i in state.invocations] == ["a", "b"]


def test_given_no_such_function_when_launched_then_rejected_as_function_not_found() -> None:
    state, standin = copier_fc()
    with standin as fc:
        client = build_fc_client(
            "cn-hangzhou", "1234567890123456", access_key_id=AK, access_key_secret=SK, endpoint=fc.url
        )
        with pytest.raises(UpstreamRejected) as err:
            FcCopyLauncher(client, "no-such-copier").launch("claim-0123")
    assert err.value.code == "FunctionNotFound"
    assert state.invocations == []


def test_given_a_sync_invocation_when_called_then_the_function_result_is_the_body() -> None:
    from alibabacloud_fc20230330 import models
    from darabonba.runtime import RuntimeOptions

    state, standin = copier_fc(run=lambda name, body: {"echo": json.loads(body), "by": name})
    with standin as fc:
        client = build_fc_client(
            "cn-hangzhou", "1234567890123456", access_key_id=AK, access_key_secret=SK, endpoint=fc.url
        )
        response = client.invoke_function_with_options(
            COPIER,
            models.InvokeFunctionRequest(body=b'{"claim_id": "s"}'),
            models.InvokeFunctionHeaders(x_fc_invocation_type="Sync"),
            RuntimeOptions(),
        )
        body = response.body.read()
    assert response.status_code == 200
    assert json.loads(body) == {"echo": {"claim_id": "s"}, "by": COPIER}
    assert [(i.invocation_type, i.qualifier) for i in state.invocations] == [("Sync", "")]
