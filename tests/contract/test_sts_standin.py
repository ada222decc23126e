"""The loopback STS answers the real credentials provider as STS would: signature, trust, duration, replay."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest

from acrsync.local.acr_emulator import AcrEmulator
from acrsync.local.acr_model import AcrModel
from acrsync.local.sts_standin import StsError, StsStandIn, sign, string_to_sign

pytestmark = pytest.mark.loopback

AK, SK, HOME, OTHER = "LTAI5tStsContract0001", "sts-contract-secret", "1111111111111111", "2222222222222222"
ROLE = f"acs:ram::{OTHER}:role/reader"


@pytest.fixture
def sts(monkeypatch: pytest.MonkeyPatch) -> Iterator[StsStandIn]:
    emulator = AcrEmulator(AcrModel(account_id=HOME), credentials={AK: SK})
    with emulator, StsStandIn(emulator, callers={AK: (SK, HOME)}) as standin:
        standin.add_role(ROLE, trusts={HOME})
        monkeypatch.setenv("SSL_CERT_FILE", standin.ca_file)
        yield standin


def provider(sts: StsStandIn, secret: str = SK, role: str = ROLE, duration: int = 3600):  # type: ignore[no-untyped-def]
    from alibabacloud_credentials.provider import RamRoleArnCredentialsProvider

    return RamRoleArnCredentialsProvider(
        access_key_id=AK,
        access_key_secret=secret,
        role_arn=role,
        role_session_name="acr-sync",
        duration_seconds=duration,
        sts_endpoint=sts.endpoint,
    )


def query(**overrides: str) -> dict[str, str]:
    q = {
        "Action": "AssumeRole",
        "Format": "JSON",
        "Version": "2015-04-01",
        "DurationSeconds": "3600",
        "RoleArn": ROLE,
        "RoleSessionName": "t",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "Timestamp": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "SignatureNonce": str(uuid.uuid4()),
        "AccessKeyId": AK,
        **overrides,
    }
    q["Signature"] = sign(string_to_sign(q), SK)
    return q


def test_given_the_real_provider_when_it_assumes_a_trusting_role_then_keys_of_that_account_are_issued(
    sts: StsStandIn,
) -> None:
    creds = provider(sts).get_credentials()
    key_id = creds.get_access_key_id()
    assert key_id.startswith("STS.")
    assert sts.emulator.keys.sts[key_id] == (creds.get_access_key_secret(), creds.get_security_token())
    assert sts.emulator.accounts.callers[key_id] == OTHER


def test_given_a_wrong_secret_when_the_provider_signs_then_signature_does_not_match(sts: StsStandIn) -> None:
    from alibabacloud_credentials.exceptions import CredentialException

    with pytest.raises(CredentialException, match="SignatureDoesNotMatch"):
        provider(sts, secret="wrong").get_credentials()
    assert sts.state.issued == []


def test_given_a_role_that_does_not_trust_the_caller_then_no_permission(sts: StsStandIn) -> None:
    from alibabacloud_credentials.exceptions import CredentialException

    sts.add_role(f"acs:ram::{OTHER}:role/private", trusts={"9"})
    with pytest.raises(CredentialException, match="NoPermission"):
        provider(sts, role=f"acs:ram::{OTHER}:role/private").get_credentials()


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"RoleArn": f"acs:ram::{OTHER}:role/nope"}, "EntityNotExist.Role"),
        ({"DurationSeconds": "600"}, "InvalidParameter.DurationSeconds"),
        ({"AccessKeyId": "LTAI5tUnknown"}, "InvalidAccessKeyId.NotFound"),
        ({"Timestamp": "2020-01-01T00:00:00Z"}, "InvalidTimeStamp.Expired"),
    ],
)
def test_given_bad_requests_then_sts_error_codes(
    sts: StsStandIn, overrides: dict[str, str], code: str
) -> None:
    with pytest.raises(StsError) as info:
        sts.assume_role(query(**overrides))
    assert info.value.code == code


def test_given_a_replayed_request_then_the_nonce_is_refused(sts: StsStandIn) -> None:
    q = query()
    sts.assume_role(q)
    with pytest.raises(StsError) as info:
        sts.assume_role(q)
    assert info.value.code == "SignatureNonceUsed"
