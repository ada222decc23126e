"""The replicator's, the watcher's and the operator's composition (``replicate``, ``backfill``): each
handler's ports, built once per instance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from acrsync.bootstrap import core
from acrsync.bootstrap.acr_clients import gate, registry, submitter, sync_rules
from acrsync.bootstrap.alerts import channels, notifier, outcome_publisher
from acrsync.bootstrap.copies import copy_deps
from acrsync.bootstrap.core import clock, rules_cache, settings, stores
from acrsync.bootstrap.reconciliation import cross_account_reader
from acrsync.config import Settings
from acrsync.domain.events import RawDataPolicy
from acrsync.errors import ConfigError
from acrsync.service.gate import CallGate
from acrsync.service.replicate import ReplicatorDeps
from acrsync.service.submit import Submitter

if TYPE_CHECKING:  # each function instance imports only the use case it runs (cold start)
    from acrsync.service.backfill import BackfillDeps
    from acrsync.service.watch import WatchDeps


def replicator_deps(context: Any = None) -> ReplicatorDeps:
    """Everything the replicator needs, built once per instance."""
    if "replicator" not in core._cache:
        _require_accounts(settings(context))
        core._cache["replicator"] = operator_deps(context)
    result: ReplicatorDeps = core._cache["replicator"]
    return result


def watcher_deps(context: Any = None) -> WatchDeps:
    """Everything the watcher needs, built once per instance."""
    if "watcher" not in core._cache:
        from acrsync.service.watch import WatchDeps

        _require_accounts(settings(context))
        core._cache["watcher"] = WatchDeps(
            ledger=stores(context).ledger,
            registry=registry(context),
            gate=gate(context),
            clock=clock(),
            submitter=submitter(context),
            notifier=notifier(context),
            channels=channels(context),
            allowed_accounts=settings(context).allowed_account_ids,
            raw_data=raw_data_policy(settings(context)),
            publish=outcome_publisher(context),
            cross_account=cross_account_reader(context),
            copies=copy_deps(context),
        )
    result: WatchDeps = core._cache["watcher"]
    return result


def operator_deps(context: Any = None) -> ReplicatorDeps:
    """The replicator's ports; `acr-sync replicate` uses them as they are (no events: no account check)."""
    cfg = settings(context)
    return ReplicatorDeps(
        rules=rules_cache(context).index,
        ledger=stores(context).ledger,
        registry=registry(context),
        gate=gate(context),
        clock=clock(),
        allowed_accounts=cfg.allowed_account_ids,
        submitter=submitter(context),
        raw_data=raw_data_policy(cfg),
        copies=copy_deps(context),
    )


def raw_data_policy(cfg: Settings) -> RawDataPolicy:
    """Envelope-less bodies: refused unless ``ACRSYNC_ACCEPT_RAWDATA``; then held to this region."""
    return RawDataPolicy(accept=cfg.accept_raw_data, region=cfg.region)


def backfill_deps(*, rule: str = "", max_qps: int = 0, context: Any = None) -> BackfillDeps:
    """A backfill run: its own gate at ``max_qps`` (default ``ACRSYNC_ACR_QPS``) on the shared budget key,
    so the run and the functions together stay under the account's limit."""
    from acrsync.service import backfill as backfill_service
    from acrsync.service.backfill import BackfillDeps

    cfg = settings(context)
    if not cfg.region:
        raise ConfigError("ACRSYNC_REGION: needed to list the source instances' repositories")
    built = stores(context)
    stored = built.rules.read()
    run_gate = CallGate(built.budget, clock(), qps=max_qps or cfg.acr_qps)
    return BackfillDeps(
        index=backfill_service.index_for(stored.rules, stored.channels, rule),
        ledger=built.ledger,
        registry=registry(context),
        gate=run_gate,
        clock=clock(),
        submitter=Submitter(built.ledger, registry(context), run_gate, clock(), links=sync_rules(context)),
        region=cfg.region,
        copies=copy_deps(context),
    )


def _require_accounts(cfg: Settings) -> None:
    if not cfg.allowed_account_ids:
        raise ConfigError(
            "ACRSYNC_ALLOWED_ACCOUNT_IDS: not set and the function's own account id is unknown; "
            "set it to the account(s) whose ACR events should be handled"
        )
