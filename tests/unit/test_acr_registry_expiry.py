"""ACR EE registry clients: ``GetAuthorizationToken``'s ``ExpireTime`` decides how long a temporary password
is cached — read defensively (the field's unit is unverified), and garbage never crashes the copier."""

from __future__ import annotations

from typing import Any

import pytest

from acrsync.adapters.acr_registry_access import REFRESH_BEFORE_S, AcrRegistryClients

NOW = 1_800_000_000.0


class _Api:
    """The two ACR answers the clients read (shapes of the API reference), counting the token calls."""

    def __init__(self, expire: object) -> None:
        self.expire, self.tokens = expire, 0

    def _call(self, action: str, _params: dict[str, Any]) -> dict[str, Any]:
        if action == "ListInstanceEndpoint":
            domain = {"Domain": "cri-x-registry.cn-hangzhou.cr.aliyuncs.com", "Type": "SYSTEM"}
            return {"Endpoints": [{"EndpointType": "internet", "Enable": True, "Domains": [domain]}]}
        self.tokens += 1
        return {
            "TempUsername": "cr_temp_user",
            "AuthorizationToken": "pw-Planted-x",
            "ExpireTime": self.expire,
        }


def _calls_after(expire: object, later_s: float) -> int:
    api = _Api(expire)
    now = [NOW]
    clients = AcrRegistryClients(lambda _region: api, clock=lambda: now[0])
    clients("cri-x", "cn-hangzhou")
    now[0] += later_s
    clients("cri-x", "cn-hangzhou")
    clients.close()
    return api.tokens


@pytest.mark.parametrize("expire", ["soon", "nan", "inf", None, {"x": 1}, -5])
def test_given_an_unreadable_expire_time_when_a_client_is_built_then_no_crash_and_it_is_cached(
    expire: object,
) -> None:
    assert _calls_after(expire, 60) == 1


def test_given_expire_time_in_milliseconds_or_seconds_then_the_password_is_renewed_before_it() -> None:
    in_an_hour = NOW + 3600
    for expire in (int(in_an_hour * 1000), int(in_an_hour)):
        assert _calls_after(expire, 3600 - REFRESH_BEFORE_S - 1) == 1
        assert _calls_after(expire, 3600 - REFRESH_BEFORE_S + 1) == 2
