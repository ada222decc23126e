"""FcCopyLauncher: the real FC 3.0 SDK -> the loopback InvokeFunction stand-in (signature checked)."""

from __future__ import annotations

import json

import pytest

from acrsync.adapters.copy_launcher import FcCopyLauncher, build_fc_client
from acrsync.errors import UpstreamRejected
from acrsync.local.fc_invoke_standin import FcInvokeStandin

pytestmark = pytest.mark.loopback
AK, SK = "LTAI5tFcStandinKey000001", "fc-standin-secret-Planted-5"


def test_given_a_claim_when_launched_then_the_copier_is_invoked_async_with_the_claim_id() -> None:
    ran: list[tuple[str, bytes]] = []
    with FcInvokeStandin({AK: SK}, run=lambda name, body: ran.append((name, body))) as fc:
        client = build_fc_client(
            "cn-hangzhou",
            "1234567890123456",
            access_key_id=AK,
            access_key_secret=SK,
            endpoint=f"http://{fc.endpoint}",
        )
        FcCopyLauncher(client, "acr-sync-copier").launch("claim-0123")
    (call,) = fc.invocations
    assert (call.function, call.invocation_type, call.qualifier) == ("acr-sync-copier", "Async", "LATEST")
    assert json.loads(call.body) == {"claim_id": "claim-0123"}
    assert ran == [("acr-sync-copier", call.body)]


def test_given_wrong_keys_when_launched_then_rejected_without_the_secret_in_the_message() -> None:
    with FcInvokeStandin({AK: SK}) as fc:
        client = build_fc_client(
            "cn-hangzhou",
            "1234567890123456",
            access_key_id=AK,
            access_key_secret="wrong-Planted-9",
            endpoint=f"http://{fc.endpoint}",
        )
        with pytest.raises(UpstreamRejected) as err:
            FcCopyLauncher(client, "acr-sync-copier").launch("claim-0123")
    assert "wrong-Planted-9" not in str(err.value)
    assert fc.invocations == []


def test_given_a_client_factory_when_launched_then_the_client_is_built_on_first_use_only() -> None:
    built: list[int] = []
    with FcInvokeStandin({AK: SK}) as fc:

        def factory() -> object:
            built.append(1)
            return build_fc_client(
                "cn-hangzhou",
                "1234567890123456",
                access_key_id=AK,
                access_key_secret=SK,
                endpoint=f"http://{fc.endpoint}",
            )

        launcher = FcCopyLauncher(factory, "acr-sync-copier")
        assert built == []
        launcher.launch("a")
        launcher.launch("b")
    assert built == [1]
    assert [json.loads(i.body)["claim_id"] for i in fc.invocations] == ["a", "b"]
