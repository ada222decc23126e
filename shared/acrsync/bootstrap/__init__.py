"""The composition root: the only reader of ``os.environ``; builds adapters once per function instance.

Handlers call ``replicator_deps(context)`` / ``watcher_deps(context)`` on every invocation and get the same
objects back after the first (clients are built once per instance, per FC's model). Heavy SDKs are
imported only when the configuration needs them: the SQLite store never imports ``tablestore`` (numpy).

One package, one cache: every module keeps what it builds in ``core._cache``, so ``reset`` forgets it all.

============================  ===============================================================
``core``                      environment, settings, clock, ``use``/``reset``/``read_only``, stores,
                              the invocation frame and its deadline
``acr_clients``               ACR clients per region, the shared call gate, the submitter
``alerts``                    DingTalk notifier and channels, outcome events on EventBridge
``replication``               replicator, watcher and operator (``replicate``, ``backfill``)
``reconciliation``            reconciler, its state and budget share, cross-account role readers
``copies``                    copy jobs: the copier, its launcher, registry clients, the canary
``doctor``                    ``doctor`` and ``doctor --deployed``
============================  ===============================================================

Callers use ``acrsync.bootstrap.NAME``; the names below are the public surface.
"""

from __future__ import annotations

from acrsync.bootstrap.acr_clients import gate, registry, submitter
from acrsync.bootstrap.alerts import channels, event_bus, notifier, outcome_publisher
from acrsync.bootstrap.copies import COPIER_FUNCTION_ENV, canary_deps, copier_handle, copy_deps
from acrsync.bootstrap.core import (
    DEADLINE_MARGIN_S,
    DEFAULT_TIMEOUT_S,
    RULES_TTL_S,
    Stores,
    clock,
    close_copy_clients,
    deadline,
    invocation,
    ots_client,
    read_only,
    reset,
    rules_cache,
    settings,
    setup_store,
    stores,
    unset_env,
    use,
)
from acrsync.bootstrap.doctor import deployed_checks, deployed_doctor_deps, doctor_deps, probe_store
from acrsync.bootstrap.reconciliation import (
    cross_account_reader,
    reconciler_deps,
    reconciler_gate,
    role_registry,
    state_store,
)
from acrsync.bootstrap.replication import (
    backfill_deps,
    operator_deps,
    raw_data_policy,
    replicator_deps,
    watcher_deps,
)

__all__ = [
    "COPIER_FUNCTION_ENV",
    "DEADLINE_MARGIN_S",
    "DEFAULT_TIMEOUT_S",
    "RULES_TTL_S",
    "Stores",
    "backfill_deps",
    "canary_deps",
    "channels",
    "clock",
    "close_copy_clients",
    "copier_handle",
    "copy_deps",
    "cross_account_reader",
    "deadline",
    "deployed_checks",
    "deployed_doctor_deps",
    "doctor_deps",
    "event_bus",
    "gate",
    "invocation",
    "notifier",
    "operator_deps",
    "ots_client",
    "outcome_publisher",
    "probe_store",
    "raw_data_policy",
    "read_only",
    "reconciler_deps",
    "reconciler_gate",
    "registry",
    "replicator_deps",
    "reset",
    "role_registry",
    "rules_cache",
    "settings",
    "setup_store",
    "state_store",
    "stores",
    "submitter",
    "unset_env",
    "use",
    "watcher_deps",
]
