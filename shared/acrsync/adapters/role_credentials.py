"""Credentials for reading another account's ACR instance: ``alibabacloud-credentials``'
``RamRoleArnCredentialsProvider`` assumes the destination's ``role_arn`` with the function's own credentials
(STS ``AssumeRole``) and refreshes the temporary keys before they expire (15 minutes of margin, the
provider's own rule). No STS call is written by hand here.

``sts_endpoint``: ``ACRSYNC_STS_ENDPOINT`` when set (``127.0.0.1:PORT`` for the loopback stand-in; the
provider always uses HTTPS), else the region's ``sts.<region>.aliyuncs.com``.
"""

from __future__ import annotations

from typing import Any

from acrsync.logging import secrets_in

SESSION_NAME = "acr-sync"
DURATION_S = 3600


def role_credential(
    *,
    access_key_id: str,
    access_key_secret: str,
    security_token: str,
    role_arn: str,
    region: str,
    sts_endpoint: str = "",
) -> Any:
    """An ``alibabacloud_credentials`` client for ``role_arn``, for ``build_acr_client(credential=)``."""
    from alibabacloud_credentials.client import Client
    from alibabacloud_credentials.provider import RamRoleArnCredentialsProvider

    secrets_in([access_key_secret, security_token])
    provider = RamRoleArnCredentialsProvider(
        access_key_id=access_key_id,
        access_key_secret=access_key_secret,
        security_token=security_token or None,
        role_arn=role_arn,
        role_session_name=SESSION_NAME,
        duration_seconds=DURATION_S,
        sts_region_id=region,
        sts_endpoint=sts_endpoint or None,
    )
    return Client(provider=provider)
