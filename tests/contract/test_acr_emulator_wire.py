"""The emulator speaks ACR's wire format to the real SDK: signatures, STS, methods, error shapes, faults."""

from __future__ import annotations

from typing import Any

import pytest
from alibabacloud_cr20181201 import models as cr
from alibabacloud_cr20181201.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException, ThrottlingException
from alibabacloud_tea_openapi.utils_models import OpenApiRequest, Params
from darabonba.exceptions import UnretryableException

from acrsync.adapters.acr import AcrRegistry, build_acr_client
from acrsync.domain.registry import TaskStatus
from acrsync.errors import UpstreamRejected, UpstreamUnavailable
from acrsync.local.acr_emulator import AcrEmulator
from acrsync.local.acr_faults import DROP, THROTTLE, THROTTLE_RETRY_AFTER, UNAVAILABLE
from acrsync.local.acr_model import AcrModel
from tests.contract.conftest import ACR_AK, ACR_SK, ACR_STS_AK, ACR_STS_SK, ACR_STS_TOKEN
from tests.contract.registry_contract import SRC, SRC_REGION, World, seed_world, spec

pytestmark = pytest.mark.loopback


def _client(emulator: AcrEmulator, ak: str = ACR_AK, sk: str = ACR_SK, token: str | None = None) -> Client:
    client: Client = build_acr_client(
        SRC_REGION, emulator.url, access_key_id=ak, access_key_secret=sk, security_token=token
    )
    return client


@pytest.fixture
def world(acr_model: AcrModel) -> World:
    return seed_world(acr_model)


@pytest.fixture
def client(acr_emulator: AcrEmulator) -> Client:
    return _client(acr_emulator)


def test_wrong_secret_is_rejected_as_signature_mismatch_without_leaking_it(
    acr_emulator: AcrEmulator, world: World
) -> None:
    # GIVEN a client holding the right AccessKey id but a wrong secret
    registry = AcrRegistry(_client(acr_emulator, sk="not-the-secret-9d8c7b6a"))
    # WHEN it calls the API
    with pytest.raises(UpstreamRejected) as caught:
        registry.get_repository(SRC, "team-a", "web")
    # THEN the gateway code surfaces, and no secret appears in the message
    assert caught.value.code == "SignatureDoesNotMatch"
    assert "not-the-secret-9d8c7b6a" not in str(caught.value)
    assert ACR_SK not in str(caught.value)


def test_unknown_access_key_is_rejected(acr_emulator: AcrEmulator, world: World) -> None:
    registry = AcrRegistry(_client(acr_emulator, ak="LTAI5tUnknownKey", sk=ACR_SK))
    with pytest.raises(UpstreamRejected) as caught:
        registry.get_instance(SRC)
    assert caught.value.code == "InvalidAccessKeyId.NotFound"


def test_sts_credentials_with_their_token_are_accepted(acr_emulator: AcrEmulator, world: World) -> None:
    registry = AcrRegistry(_client(acr_emulator, ACR_STS_AK, ACR_STS_SK, ACR_STS_TOKEN))
    assert registry.get_repository(SRC, "team-a", "web") is not None


def test_sts_credentials_with_a_wrong_token_are_rejected(acr_emulator: AcrEmulator, world: World) -> None:
    registry = AcrRegistry(_client(acr_emulator, ACR_STS_AK, ACR_STS_SK, "CAIS-stale-token-000000"))
    with pytest.raises(UpstreamRejected) as caught:
        registry.get_instance(SRC)
    assert caught.value.code == "InvalidSecurityToken.Mismatch"
    assert "CAIS-stale-token-000000" not in str(caught.value)


def test_get_repo_tag_is_a_get_and_everything_else_a_post(
    client: Client, acr_model: AcrModel, world: World
) -> None:
    registry = AcrRegistry(client)
    registry.get_repo_tag(SRC, world.repo_id, "v1")
    registry.get_repository(SRC, "team-a", "web")
    assert [(r.action, r.method) for r in acr_model.requests] == [
        ("GetRepoTag", "GET"),
        ("GetRepository", "POST"),
    ]


def test_total_count_arrives_as_a_string(client: Client, world: World) -> None:
    tasks = client.list_repo_sync_task(cr.ListRepoSyncTaskRequest(instance_id=SRC, page_no=1, page_size=10))
    repos = client.list_repository(cr.ListRepositoryRequest(instance_id=SRC, page_no=1, page_size=10))
    assert (tasks.body.total_count, repos.body.total_count) == ("0", "1")


def test_missing_repository_is_http_200_with_is_success_false(client: Client, world: World) -> None:
    response = client.get_repository(
        cr.GetRepositoryRequest(instance_id=SRC, repo_namespace_name="team-a", repo_name="nope")
    )
    assert (response.status_code, response.body.is_success, response.body.code) == (
        200,
        False,
        "REPO_NOT_EXIST",
    )


def test_missing_required_parameter_is_a_400(client: Client, world: World) -> None:
    with pytest.raises(ClientException) as caught:
        client.create_repo_sync_task(
            cr.CreateRepoSyncTaskRequest(instance_id=SRC, repo_id=world.repo_id, tag="v1")
        )
    assert (caught.value.status_code, caught.value.code) == (400, "MissingTargetInstanceId")


def test_unknown_action_is_a_404(client: Client, world: World) -> None:
    params = Params(
        action="DescribeNothing",
        version="2018-12-01",
        protocol="HTTPS",
        pathname="/",
        method="POST",
        auth_type="AK",
        style="RPC",
        req_body_type="formData",
        body_type="json",
    )
    with pytest.raises(ClientException) as caught:
        client.call_api(params, OpenApiRequest(query={"InstanceId": SRC}), _runtime())
    assert (caught.value.status_code, caught.value.code) == (404, "InvalidAction.NotFound")


def _runtime() -> Any:
    from darabonba.runtime import RuntimeOptions

    return RuntimeOptions()


def test_throttling_without_retry_after_is_a_client_exception(
    client: Client, acr_model: AcrModel, world: World
) -> None:
    acr_model.faults.script(THROTTLE)
    with pytest.raises(ClientException) as caught:
        client.get_instance(cr.GetInstanceRequest(instance_id=SRC))
    assert not isinstance(caught.value, ThrottlingException)
    assert (caught.value.status_code, caught.value.code) == (400, "Throttling.User")
    assert "Request was denied due to user flow control." in caught.value.message


def test_throttling_with_retry_after_is_a_throttling_exception(
    client: Client, acr_model: AcrModel, world: World
) -> None:
    acr_model.faults.retry_after_ms = 2000
    acr_model.faults.script(THROTTLE_RETRY_AFTER)
    with pytest.raises(ThrottlingException) as caught:
        client.get_instance(cr.GetInstanceRequest(instance_id=SRC))
    assert (caught.value.code, caught.value.retry_after) == ("Throttling.User", 2000)


def test_service_unavailable_is_a_server_exception(client: Client, acr_model: AcrModel, world: World) -> None:
    acr_model.faults.script(UNAVAILABLE)
    with pytest.raises(ServerException) as caught:
        client.get_instance(cr.GetInstanceRequest(instance_id=SRC))
    assert (caught.value.status_code, caught.value.code) == (503, "ServiceUnavailable")


def test_dropped_connection_is_a_network_failure_then_recovers(
    client: Client, acr_model: AcrModel, world: World
) -> None:
    # GIVEN the server closes the connection without answering, once
    acr_model.faults.script(DROP)
    # WHEN / THEN the SDK reports a network failure, and the adapter calls it unavailable
    with pytest.raises(UnretryableException):
        client.get_instance(cr.GetInstanceRequest(instance_id=SRC))
    acr_model.faults.script(DROP)
    with pytest.raises(UpstreamUnavailable) as caught:
        AcrRegistry(client).get_instance(SRC)
    assert caught.value.code == "NetworkError"
    # AND the next call succeeds on a fresh connection
    assert AcrRegistry(client).get_instance(SRC) is not None


def test_seeded_fault_rates_fail_some_calls_and_not_others(
    client: Client, acr_model: AcrModel, world: World
) -> None:
    acr_model.faults.throttle_rate = 0.5
    outcomes = []
    registry = AcrRegistry(client)
    for _ in range(40):
        try:
            registry.get_instance(SRC)
            outcomes.append("ok")
        except UpstreamUnavailable:
            outcomes.append("throttled")
    assert 5 < outcomes.count("throttled") < 35


def test_completed_task_publishes_a_cloud_event_with_pascal_case_data(
    client: Client, acr_model: AcrModel, world: World
) -> None:
    # GIVEN a subscriber and a task created over the wire
    events: list[dict[str, Any]] = []
    acr_model.on_sync_completed(events.append)
    task_id = AcrRegistry(client).create_repo_sync_task(spec(world, target_namespace="ghost"))
    # WHEN the task ends (in ERROR: the namespace does not exist)
    acr_model.run_pending()
    # THEN one CloudEvent with the reference §1.2 envelope and the task's outcome
    (event,) = events
    assert (event["source"], event["specversion"], event["aliyuneventbusname"]) == (
        "acs.cr",
        "1.0",
        "default",
    )
    assert event["data"]["SyncTaskId"] == task_id
    assert (event["data"]["TaskStatus"], event["data"]["TargetNamespace"]) == (
        TaskStatus.ERROR.value,
        "ghost",
    )
    assert event["data"]["TaskIssue"] == "namespace not exist"


def test_added_latency_slows_every_call(client: Client, acr_model: AcrModel, world: World) -> None:
    import time

    acr_model.faults.latency_s = 0.05
    started = time.perf_counter()
    AcrRegistry(client).get_instance(SRC)
    assert time.perf_counter() - started >= 0.05


def test_concurrent_submissions_get_distinct_task_ids(
    acr_emulator: AcrEmulator, acr_model: AcrModel, world: World
) -> None:
    # GIVEN four threads, each with its own client, submitting ten tasks each
    from concurrent.futures import ThreadPoolExecutor

    def submit(n: int) -> list[str]:
        registry = AcrRegistry(_client(acr_emulator))
        return [registry.create_repo_sync_task(spec(world, target_tag=f"t{n}-{i}")) for i in range(10)]

    # WHEN they run at once
    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = [task_id for batch in pool.map(submit, range(4)) for task_id in batch]
    # THEN forty distinct tasks exist
    assert len(set(ids)) == 40
    assert len(acr_model.tasks) == 40


class _SignedRequest:
    """What tea-openapi's ``Utils.get_authorization`` reads from a request."""

    def __init__(self, query: dict[str, str], headers: dict[str, str]) -> None:
        self.method, self.pathname, self.query, self.headers = "POST", "/", query, headers


def _signed_by_the_sdk(secret: str, nonce: str, *, date: str | None = None) -> tuple[dict[str, str], Any]:
    import hashlib
    from email.message import Message

    from alibabacloud_tea_openapi.utils import Utils

    query = {"InstanceId": SRC, "Tag": "v 1+ü"}  # spaces, plus and non-ASCII exercise the encoding rules
    headers = {
        "host": "127.0.0.1:1",
        "x-acs-action": "GetInstance",
        "x-acs-version": "2018-12-01",
        "x-acs-date": date or Utils.get_timestamp(),
        "x-acs-signature-nonce": nonce,
        "x-acs-content-sha256": hashlib.sha256(b"").hexdigest(),
    }
    request = _SignedRequest(query, headers)
    headers["Authorization"] = Utils.get_authorization(
        request, "ACS3-HMAC-SHA256", headers["x-acs-content-sha256"], ACR_AK, secret
    )
    message = Message()
    for name, value in headers.items():
        message[name] = value
    return query, message


def test_signature_port_accepts_what_the_sdk_signs_and_refuses_replays_and_stale_dates() -> None:
    from acrsync.local.acr_model import AcrApiError
    from acrsync.local.acr_signing import KeyStore, verify_request

    keys = KeyStore({ACR_AK: ACR_SK})

    def verify(query: dict[str, str], headers: Any) -> str:
        return verify_request(keys, method="POST", path="/", params=query, headers=headers, body=b"")

    # GIVEN a request signed by tea-openapi's own code
    query, headers = _signed_by_the_sdk(ACR_SK, "nonce-1")
    # THEN it verifies once, and a replay of the same nonce is refused
    assert verify(query, headers) == ACR_AK
    with pytest.raises(AcrApiError, match="SignatureNonceUsed"):
        verify(query, headers)
    # AND a tampered parameter, a wrong secret and a stale date are refused
    with pytest.raises(AcrApiError, match="SignatureDoesNotMatch"):
        verify({**query, "Tag": "v2"}, _signed_by_the_sdk(ACR_SK, "nonce-2")[1])
    with pytest.raises(AcrApiError, match="SignatureDoesNotMatch"):
        verify(*_signed_by_the_sdk("wrong-secret", "nonce-3"))
    with pytest.raises(AcrApiError, match=r"InvalidTimeStamp\.Expired"):
        verify(*_signed_by_the_sdk(ACR_SK, "nonce-4", date="2020-01-01T00:00:00Z"))


def test_a_request_that_leaves_a_header_unsigned_or_has_no_nonce_is_refused() -> None:
    import re

    from acrsync.local.acr_model import AcrApiError
    from acrsync.local.acr_signing import KeyStore, sign, string_to_sign, verify_request

    keys = KeyStore({ACR_AK: ACR_SK})
    query, headers = _signed_by_the_sdk(ACR_SK, "nonce-unsigned")
    # GIVEN the same request re-signed over host alone (x-acs-action and friends left unsigned)
    to_sign = string_to_sign(
        method="POST",
        path="/",
        params=query,
        headers=headers,
        signed=["host"],
        payload_hash=headers["x-acs-content-sha256"],
    )
    headers.replace_header(
        "Authorization",
        re.sub(
            r"SignedHeaders=[^,]*,Signature=\w+",
            f"SignedHeaders=host,Signature={sign(ACR_SK, to_sign)}",
            headers["Authorization"],
        ),
    )
    # THEN the signature is correct for what it covers, and still refused as incomplete
    with pytest.raises(AcrApiError, match="IncompleteSignature"):
        verify_request(keys, method="POST", path="/", params=query, headers=headers, body=b"")
    # AND a request without a nonce is refused the same way
    _, no_nonce = _signed_by_the_sdk(ACR_SK, "")
    with pytest.raises(AcrApiError, match="IncompleteSignature"):
        verify_request(keys, method="POST", path="/", params=query, headers=no_nonce, body=b"")
