"""ACR SDK failures become acr-sync errors at the boundary; constructed SDK exceptions, no sockets."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException, ThrottlingException
from darabonba.exceptions import RetryError, UnretryableException
from darabonba.policy.retry import RetryPolicyContext

from acrsync.adapters.acr import AcrRegistry, build_acr_client, check_body, translate_error
from acrsync.domain.registry import SyncTaskSpec
from acrsync.errors import ConfigError, UpstreamRejected, UpstreamUnavailable
from acrsync.logging import register_secret

SECRET = "unit-test-secret-b41c9e77"


def _client_error(code: str, status: int = 400, message: str = "boom") -> ClientException:
    data = {"Code": code, "Message": message, "RequestId": "REQ-1"}
    return ClientException(
        status_code=status,
        code=code,
        message=f"code: {status}, {message} request id: REQ-1",
        data=data,
        request_id="REQ-1",
    )


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (_client_error("Throttling.User"), "Throttling.User"),
        (_client_error("Throttling"), "Throttling"),
        (
            ServerException(status_code=503, code="ServiceUnavailable", message="down", data={}),
            "ServiceUnavailable",
        ),
        (
            ServerException(status_code=500, code="SystemError", message="Unknown error.", data={}),
            "SystemError",
        ),
    ],
)
def test_throttling_and_server_errors_are_retryable(exc: Exception, code: str) -> None:
    err = translate_error(exc, "CreateRepoSyncTask")
    assert isinstance(err, UpstreamUnavailable)
    assert err.code == code


def test_throttling_exception_carries_retry_after_in_seconds() -> None:
    # GIVEN the SDK's ThrottlingException (retry_after in ms: darabonba sleeps that many ms)
    exc = ThrottlingException(
        status_code=400, code="Throttling.User", message="slow down", retry_after=2500, data={}
    )
    # WHEN translated
    err = translate_error(exc, "GetRepoSyncTask")
    # THEN retryable with the wait in seconds
    assert isinstance(err, UpstreamUnavailable)
    assert err.retry_after == 2.5


def test_network_failure_is_retryable() -> None:
    exc = UnretryableException(
        RetryPolicyContext(retries_attempted=1, exception=RetryError("Connection aborted."))
    )
    err = translate_error(exc, "GetRepoTag")
    assert isinstance(err, UpstreamUnavailable)
    assert err.code == "NetworkError"
    assert "Connection aborted." in str(err)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("NoPrivilege", 403),
        ("Forbidden.RAM", 403),
        ("SignatureDoesNotMatch", 400),
        ("InvalidAccessKeyId.NotFound", 404),
        ("MissingTargetNamespace", 400),
        ("InvalidCredentials", None),
    ],
)
def test_permission_and_parameter_errors_are_permanent(code: str, status: int | None) -> None:
    exc = ClientException(status_code=status, code=code, message="no", data={"Code": code})
    err = translate_error(exc, "CreateRepoSyncTask")
    assert isinstance(err, UpstreamRejected)
    assert err.code == code


def test_translated_message_names_the_action_code_and_request_but_no_secret() -> None:
    # GIVEN a registered secret that a (misbehaving) server echoed into its message
    register_secret(SECRET)
    exc = _client_error("NoPrivilege", 403, f"Access denied for this user. key={SECRET}")
    # WHEN translated
    text = str(translate_error(exc, "CreateRepoSyncTask"))
    # THEN useful context, and the secret is masked
    assert "CreateRepoSyncTask" in text
    assert "NoPrivilege" in text
    assert "REQ-1" in text
    assert SECRET not in text


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("REPO_NOT_EXIST", UpstreamRejected),
        ("SYSTEM_ERROR", UpstreamUnavailable),
        ("Throttling.User", UpstreamUnavailable),
    ],
)
def test_http_200_with_is_success_false_is_judged_by_its_code(code: str, expected: type[Exception]) -> None:
    with pytest.raises(expected):
        check_body("GetRepository", {"Code": code, "IsSuccess": False, "RequestId": "R"})


def test_http_200_success_body_passes() -> None:
    # check_body returns None for a success body and raises otherwise: the call itself is the check
    assert check_body("GetRepository", {"Code": "success", "IsSuccess": True, "RepoId": "crr-1"}) is None


class _Body:
    def __init__(self, doc: dict[str, Any]) -> None:
        self._doc = doc

    def to_map(self) -> dict[str, Any]:
        return dict(self._doc)


class FakeSdkClient:
    """Stands in for ``alibabacloud_cr20181201.client.Client``: records requests, replays bodies or raises."""

    _region_id = "cn-hangzhou"

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        def call(request: Any) -> Any:
            self.requests.append((name, request.to_map()))
            answer = self.answers[name]
            if isinstance(answer, Exception):
                raise answer
            return SimpleNamespace(status_code=200, headers={}, body=_Body(answer))

        return call


def test_adapter_sends_override_as_lowercase_true_and_priority_as_text() -> None:
    client = FakeSdkClient({"create_repo_sync_task": {"IsSuccess": True, "SyncTaskId": "rst-1"}})
    spec = SyncTaskSpec("cri-a", "crr-1", "v1", "cri-b", "cn-shanghai", "team-a", "web", "v1", override=True)
    assert AcrRegistry(client).create_repo_sync_task(spec) == "rst-1"
    sent = client.requests[0][1]
    assert (sent["Override"], sent["Priority"], sent["TargetNamespace"]) == ("true", "3", "team-a")
    assert "TargetNamespaceName" not in sent


def test_adapter_maps_documented_not_found_to_none_and_caches_hits() -> None:
    repo = {"IsSuccess": True, "RepoId": "crr-1", "RepoNamespaceName": "team-a", "RepoName": "web"}
    client = FakeSdkClient(
        {"get_repository": repo, "get_repo_tag": {"IsSuccess": False, "Code": "TAG_NOT_EXIST"}}
    )
    registry = AcrRegistry(client)
    assert registry.get_repository("cri-a", "team-a", "web") == registry.get_repository(
        "cri-a", "team-a", "web"
    )
    assert registry.get_repo_tag("cri-a", "crr-1", "nope") is None
    assert [name for name, _ in client.requests] == ["get_repository", "get_repo_tag"]


def test_adapter_raises_translated_errors_from_the_sdk() -> None:
    client = FakeSdkClient(
        {"get_repo_sync_task": _client_error("NoPrivilege", 403, "Access denied for this user.")}
    )
    with pytest.raises(UpstreamRejected) as caught:
        AcrRegistry(client).get_repo_sync_task("cri-a", "rst-1")
    assert caught.value.code == "NoPrivilege"


def test_client_factory_points_the_sdk_at_an_http_endpoint_override() -> None:
    client = build_acr_client(
        "cn-hangzhou", "http://127.0.0.1:18080", access_key_id="ak", access_key_secret=SECRET
    )
    assert (client._endpoint, client._protocol, client._region_id) == (
        "127.0.0.1:18080",
        "http",
        "cn-hangzhou",
    )


def test_client_factory_defaults_to_the_regional_https_endpoint() -> None:
    client = build_acr_client("cn-shanghai", None, access_key_id="ak", access_key_secret=SECRET)
    assert client._endpoint == "cr.cn-shanghai.aliyuncs.com"


@pytest.mark.parametrize("endpoint", ["ftp://host", "http://"])
def test_client_factory_rejects_a_malformed_endpoint(endpoint: str) -> None:
    with pytest.raises(ConfigError):
        build_acr_client("cn-hangzhou", endpoint, access_key_id="ak", access_key_secret=SECRET)


def test_client_factory_requires_credentials() -> None:
    with pytest.raises(ConfigError):
        build_acr_client("cn-hangzhou", None, access_key_id="", access_key_secret="")
