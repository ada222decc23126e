"""The reconciler's composition: its state store, its share of the ACR budget, the referrer copies, and
the cross-account RAM-role readers (which the watcher uses too).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from acrsync.bootstrap import core
from acrsync.bootstrap.acr_clients import registry
from acrsync.bootstrap.copies import copy_deps
from acrsync.bootstrap.core import clock, ots_client, settings, stores
from acrsync.domain.ledger import LedgerEntry
from acrsync.errors import ConfigError
from acrsync.ports import RegistryApi, StateStore
from acrsync.service.gate import CallGate
from acrsync.service.submit import Submitter

if TYPE_CHECKING:  # each function instance imports only the use case it runs (cold start)
    from acrsync.service.reconcile import ReconcileDeps


def state_store(context: Any = None) -> StateStore:
    """The reconciler's cursor and last pass, in the same backend as the ledger (pin with ``use(state=)``)."""
    if "state" not in core._cache:
        cfg = settings(context)
        if cfg.store.kind == "sqlite":
            from acrsync.adapters.sqlite_store import SqliteDatabase
            from acrsync.adapters.state_store import SqliteStateStore

            read_only = bool(core._cache.get("read_only"))  # `status` reads the last pass inside read_only()
            db = SqliteDatabase(cfg.store.location, read_only=read_only, time_left=core.time_left)
            core._cache["state"] = SqliteStateStore(db)
        else:
            from acrsync.adapters.tablestore_state import TablestoreStateStore

            core._cache["state"] = TablestoreStateStore(ots_client(context))
    result: StateStore = core._cache["state"]
    return result


def role_registry(context: Any = None) -> Callable[[str, str], RegistryApi]:
    """``(region, role_arn) -> RegistryApi`` reading another account's instances through that RAM role
    (``alibabacloud-credentials``' RAM-role provider, which refreshes itself); one client per pair."""
    if "role_registry" not in core._cache:
        cfg = settings(context)
        clients: dict[tuple[str, str], RegistryApi] = {}

        def for_role(region: str, role_arn: str) -> RegistryApi:
            if (region, role_arn) not in clients:
                from acrsync.adapters.acr import AcrRegistry, build_acr_client
                from acrsync.adapters.role_credentials import role_credential

                creds = cfg.credentials
                credential = role_credential(
                    access_key_id=creds.access_key_id,
                    access_key_secret=creds.access_key_secret,
                    security_token=creds.security_token,
                    role_arn=role_arn,
                    region=region,
                    sts_endpoint=cfg.sts_endpoint,
                )
                client = build_acr_client(
                    region,
                    cfg.acr_endpoint or None,
                    access_key_id="",
                    access_key_secret="",
                    credential=credential,
                )
                clients[(region, role_arn)] = AcrRegistry(client, region=region)
            return clients[(region, role_arn)]

        core._cache["role_registry"] = for_role
    result: Callable[[str, str], RegistryApi] = core._cache["role_registry"]
    return result


def cross_account_reader(context: Any = None) -> Callable[[LedgerEntry], RegistryApi | None]:
    """For the watcher: a reader of a cross-account row's destination through its rule's ``role_arn``
    (the stored rules, read when asked), or None when the rule names no role."""
    from acrsync.domain.reconcile import policies

    def reader(row: LedgerEntry) -> RegistryApi | None:
        rules = [r for r in stores(context).rules.read().rules if r.get("name") == row.rule]
        policy = policies(rules).get(row.rule)
        if policy is None:
            return None
        dest = policy.destinations.get((row.dest_instance, row.dest_region))
        if dest is None or not dest.role_arn:
            return None
        return role_registry(context)(row.dest_region, dest.role_arn)

    return reader


def reconciler_gate(context: Any = None) -> CallGate:
    """The reconciler's share of the ACR budget: the same shared key, a lower limit. A take succeeds only
    while all callers together have spent less than the share in the window, so the reconciler never takes
    more than its share and is the first to wait when the functions are busy."""
    cfg = settings(context)
    qps = max(1, cfg.acr_qps * cfg.reconciler_share // 100)
    return CallGate(stores(context).budget, clock(), qps=qps)


def reconciler_deps(context: Any = None, *, rule: str = "") -> ReconcileDeps:
    """A reconciler slice (the function) or an audit (the CLI, ``rule`` narrows it): rules read now."""
    from acrsync.domain.reconcile import policies
    from acrsync.service import backfill as backfill_service
    from acrsync.service.reconcile import ReconcileDeps
    from acrsync.service.referrers import ReferrerDeps

    cfg = settings(context)
    if not cfg.region:
        raise ConfigError("ACRSYNC_REGION: needed to list the source instances' repositories")
    built = stores(context)
    stored = built.rules.read()
    index = backfill_service.index_for(stored.rules, stored.channels, rule)
    chosen = [r for r in stored.rules if r.get("enabled", True) and (not rule or r.get("name") == rule)]
    run_gate = reconciler_gate(context)
    return ReconcileDeps(
        index=index,
        policies=policies(chosen),
        ledger=built.ledger,
        registry=registry(context),
        gate=run_gate,
        clock=clock(),
        submitter=Submitter(built.ledger, registry(context), run_gate, clock()),
        state=state_store(context),
        region=cfg.region,
        role_registry=role_registry(context),
        referrers=ReferrerDeps(copy_deps(context), cfg.referrers_window_h * 3600),
    )
