"""An ACR EE instance's registry as a ``RegistryClient``: host from ``ListInstanceEndpoint``, credentials
from ``GetAuthorizationToken`` (temporary; a client is rebuilt shortly before they expire).

Both calls go through the same ``WireRegistry._call`` as every other ACR action (the real SDK in the cloud,
the emulator offline), so the emulator can point both at a loopback OCI stand-in.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

from acrsync.adapters.oci_http import RegistryCredentials
from acrsync.adapters.oci_registry import HttpRegistryClient
from acrsync.domain.oci import is_loopback
from acrsync.errors import UpstreamRejected
from acrsync.logging import secrets_in
from acrsync.ports import RegistryClient

REFRESH_BEFORE_S = 300.0  # rebuild a client this long before its temporary password expires


def registry_host(body: dict[str, Any], *, prefer: str = "internet") -> str:
    """The SYSTEM domain of the enabled endpoint of type ``prefer`` (``internet`` or ``vpc``), else any."""
    endpoints = [e for e in body.get("Endpoints") or [] if e.get("Enable") in (True, "true")]
    endpoints.sort(key=lambda e: e.get("EndpointType") != prefer)
    for endpoint in endpoints:
        domains = endpoint.get("Domains") or []
        domains = sorted(domains, key=lambda d: d.get("Type") != "SYSTEM")
        if domains and domains[0].get("Domain"):
            return str(domains[0]["Domain"])
    raise UpstreamRejected("ListInstanceEndpoint lists no enabled registry endpoint", code="NO_ENDPOINT")


def _expiry_s(raw: object, now: float) -> float:
    """``ExpireTime`` (epoch milliseconds per the API reference) in seconds. Defensive, as the field is
    unverified: seconds are accepted too, and an unreadable value means "an hour from now" (the token then
    lives as ACR decides; a refused one fails the copy with the registry's reason), never a crash."""
    try:
        value = float(str(raw))
    except ValueError:
        return now + 3600
    if not math.isfinite(value) or value <= 0:
        return now + 3600
    return value / 1000 if value > 1e11 else value  # 1e11 s is the year 5138; 1e11 ms is 1973


class AcrRegistryClients:
    """``(instance_id, region) -> RegistryClient`` for ACR EE sources, cached per instance until expiry."""

    def __init__(
        self, api: Callable[[str], Any], *, prefer: str = "internet", clock: Callable[[], float] = time.time
    ) -> None:
        self._api = api  # region -> WireRegistry (it has ``_call``)
        self._prefer = prefer
        self._clock = clock
        self._clients: dict[str, tuple[HttpRegistryClient, float]] = {}
        self._lock = threading.Lock()

    def __call__(self, instance_id: str, region: str) -> RegistryClient:
        with self._lock:
            hit = self._clients.get(instance_id)
            if hit is not None and hit[1] > self._clock():
                return hit[0]
        client, until = self._build(instance_id, region)
        with self._lock:
            old = self._clients.get(instance_id)
            self._clients[instance_id] = (client, until)
        if old is not None:
            old[0].close()
        return client

    def _build(self, instance_id: str, region: str) -> tuple[HttpRegistryClient, float]:
        api = self._api(region)
        host = registry_host(
            api._call("ListInstanceEndpoint", {"InstanceId": instance_id}), prefer=self._prefer
        )
        token = api._call("GetAuthorizationToken", {"InstanceId": instance_id})
        password = str(token.get("AuthorizationToken") or "")
        secrets_in([password])
        creds = RegistryCredentials(str(token.get("TempUsername") or ""), password)
        expires = _expiry_s(token.get("ExpireTime"), self._clock())
        scheme = "http" if is_loopback(host) else "https"
        return HttpRegistryClient(f"{scheme}://{host}", credentials=creds), expires - REFRESH_BEFORE_S

    def close(self) -> None:
        """Close idle connections (clients and their temporary credentials stay cached)."""
        with self._lock:
            clients = [c for c, _ in self._clients.values()]
        for client in clients:
            client.close()
