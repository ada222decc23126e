"""ACR OpenAPI clients (one per region), the shared ACR call budget, and the submitter that spends it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from acrsync.bootstrap import core
from acrsync.bootstrap.core import clock, settings, stores
from acrsync.errors import ConfigError
from acrsync.ports import RegistryApi
from acrsync.service.gate import CallGate
from acrsync.service.submit import Submitter


def registry(context: Any = None) -> Callable[[str], RegistryApi]:
    """``region -> RegistryApi`` on the real ACR SDK; one client per region, built on first use."""
    if "registry" not in core._cache:
        cfg = settings(context)
        clients: dict[str, RegistryApi] = {}

        def for_region(region: str) -> RegistryApi:
            if region not in clients:
                from acrsync.adapters.acr import AcrRegistry, build_acr_client

                creds = cfg.credentials
                if not creds.present:
                    raise ConfigError(
                        "no credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET "
                        "(FC sets them when the function has a role)"
                    )
                clients[region] = AcrRegistry(
                    build_acr_client(
                        region,
                        endpoint=cfg.acr_endpoint or None,
                        access_key_id=creds.access_key_id,
                        access_key_secret=creds.access_key_secret,
                        security_token=creds.security_token or None,
                    ),
                    region=region,
                )
            return clients[region]

        core._cache["registry"] = for_region
    result: Callable[[str], RegistryApi] = core._cache["registry"]
    return result


def gate(context: Any = None) -> CallGate:
    """The shared ACR API budget."""
    if "gate" not in core._cache:
        core._cache["gate"] = CallGate(stores(context).budget, clock(), qps=settings(context).acr_qps)
    result: CallGate = core._cache["gate"]
    return result


def submitter(context: Any = None) -> Submitter:
    """One Submitter over the ledger, registry and gate."""
    if "submitter" not in core._cache:
        core._cache["submitter"] = Submitter(
            stores(context).ledger, registry(context), gate(context), clock(), links=sync_rules(context)
        )
    result: Submitter = core._cache["submitter"]
    return result


def sync_rules(context: Any) -> Callable[[str], Any]:
    """``region -> SyncRuleApi`` over the same per-region ACR clients (custom-link destinations)."""
    regions = registry(context)

    def for_region(region: str) -> Any:
        from acrsync.adapters.acr_links import AcrSyncRules

        return AcrSyncRules(regions(region))

    return for_region
