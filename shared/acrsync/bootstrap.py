"""The composition root: the only reader of ``os.environ``; builds adapters once per function instance.

Handlers call ``replicator_deps(context)`` / ``watcher_deps(context)`` on every invocation and get the same
objects back after the first (clients are built once per instance, per FC's model). Heavy SDKs are
imported only when the configuration needs them: the SQLite store never imports ``tablestore`` (numpy).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acrsync.config import Settings, load_settings
from acrsync.domain.events import RawDataPolicy
from acrsync.domain.ledger import LedgerEntry
from acrsync.errors import (
    ConfigError,
    InvalidEvent,
    PermanentError,
    RetryableError,
    StoreError,
    StoreNotSetUp,
)
from acrsync.logging import configure, console_owned, get_logger, secrets_in
from acrsync.ports import (
    AlertChannel,
    BudgetStore,
    Clock,
    CopyLauncher,
    Ledger,
    Notifier,
    RegistryApi,
    RuleStore,
    StateStore,
)
from acrsync.service.clock import SystemClock
from acrsync.service.gate import CallGate
from acrsync.service.replicate import ReplicatorDeps
from acrsync.service.rules_cache import CompiledRulesCache
from acrsync.service.submit import Submitter

if TYPE_CHECKING:  # each function instance imports only the use case it runs (cold start)
    from acrsync.service.backfill import BackfillDeps
    from acrsync.service.copy_jobs import CopyDeps
    from acrsync.service.doctor import DoctorDeps
    from acrsync.service.reconcile import ReconcileDeps
    from acrsync.service.watch import WatchDeps

log = get_logger(__name__)

# Seconds kept back from the function timeout to record state and log before FC kills the invocation.
DEADLINE_MARGIN_S = 5.0
DEFAULT_TIMEOUT_S = 60.0
RULES_TTL_S = 30.0

_cache: dict[str, Any] = {}


@dataclass(frozen=True, slots=True)
class Stores:
    """The three stored ports, from one backend."""

    rules: RuleStore
    ledger: Ledger
    budget: BudgetStore


def reset(environ: Mapping[str, str] | None = None) -> None:
    """Forget every built object (tests; the CLI's ``--env`` switches). Optionally pin an environment."""
    close_copy_clients()
    _cache.clear()
    if environ is not None:
        _cache["environ"] = dict(environ)


def _environ() -> Mapping[str, str]:
    pinned: Mapping[str, str] | None = _cache.get("environ")
    return pinned if pinned is not None else os.environ


def settings(context: Any = None) -> Settings:
    """Validated settings, read once per instance."""
    if "settings" not in _cache:
        loaded = load_settings(_environ(), context)
        creds = loaded.credentials
        secrets_in(
            [
                creds.access_key_id,
                creds.access_key_secret,
                creds.security_token,
                loaded.dingtalk_secret,
                loaded.dingtalk_webhook.partition("access_token=")[2],
            ]
        )
        _cache["settings"] = loaded
    result: Settings = _cache["settings"]
    return result


def clock() -> Clock:
    """The clock every service shares (tests pin a ManualClock with ``use``)."""
    return _cache.setdefault("clock", SystemClock())  # type: ignore[no-any-return]


def use(**objects: Any) -> None:
    """Pin prebuilt objects (``clock=``, ``stores=``, ``registry=``, ``notifier=``): the fakes seam."""
    _cache.update(objects)


def stores(context: Any = None) -> Stores:
    """Rule store, ledger and budget store for ``ACRSYNC_STORE``, built once. Building opens nothing and
    creates nothing: a store that was never set up fails on first use with ``StoreNotSetUp``."""
    if "stores" not in _cache:
        built = _build_stores(settings(context), read_only=bool(_cache.get("read_only")))
        if settings(context).event_bus:  # outcome events: every ledger write fills the row's outbox
            from acrsync.service.outcomes import OutboxLedger

            built = Stores(built.rules, OutboxLedger(built.ledger), built.budget)
        _cache["stores"] = built
    result: Stores = _cache["stores"]
    return result


@contextlib.contextmanager
def read_only() -> Iterator[None]:
    """Around a read-only command (``rules list``, ``status``, ``doctor``): the SQLite store is opened with
    ``mode=ro``, so it works on a read-only file and can write nothing. What was built inside is forgotten
    on the way out (one process may run several commands: tests, ``acr-sync invoke``)."""
    saved = dict(_cache)
    _cache["read_only"] = True
    try:
        yield
    finally:
        _cache.clear()
        _cache.update(saved)


def setup_store(context: Any = None) -> str:
    """``tables init`` on SQLite: create the file and every table (idempotent); say which it was."""
    cfg = settings(context)
    from acrsync.adapters.sqlite_db import SqliteDatabase

    created = SqliteDatabase(cfg.store.location).create_schema()
    return "created" if created else "exists"


def _time_left() -> float | None:
    """Seconds the current invocation has left before its deadline; None outside an invocation."""
    until: float | None = _cache.get("deadline")
    return None if until is None else until - clock().monotonic()


def _build_stores(cfg: Settings, *, read_only: bool = False) -> Stores:
    if cfg.store.kind == "sqlite":
        from acrsync.adapters.sqlite_rules import SqliteRuleStore
        from acrsync.adapters.sqlite_store import SqliteBudgetStore, SqliteDatabase, SqliteLedger

        def open_db() -> SqliteDatabase:
            return SqliteDatabase(cfg.store.location, read_only=read_only, time_left=_time_left)

        db = open_db()  # the rule store has its own: its reads are counted apart from the ledger's
        return Stores(SqliteRuleStore(open_db()), SqliteLedger(db), SqliteBudgetStore(db))
    from acrsync.adapters.tablestore_store import (
        TablestoreBudgetStore,
        TablestoreLedger,
        TablestoreRuleStore,
    )

    client = ots_client()
    return Stores(TablestoreRuleStore(client), TablestoreLedger(client), TablestoreBudgetStore(client))


def ots_client(context: Any = None) -> Any:
    """The Tablestore client for ``ACRSYNC_STORE=tablestore://INSTANCE``, built once (imports the SDK)."""
    if "ots" not in _cache:
        from acrsync.adapters.tablestore_client import build_ots_client

        cfg = settings(context)
        if cfg.store.kind != "tablestore":
            raise ConfigError(f"ACRSYNC_STORE is {cfg.store.kind}, not tablestore://INSTANCE")
        creds = cfg.credentials
        _cache["ots"] = build_ots_client(
            cfg.tablestore_endpoint,
            cfg.store.location,
            creds.access_key_id,
            creds.access_key_secret,
            creds.security_token or None,
        )
    return _cache["ots"]


def registry(context: Any = None) -> Callable[[str], RegistryApi]:
    """``region -> RegistryApi`` on the real ACR SDK; one client per region, built on first use."""
    if "registry" not in _cache:
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

        _cache["registry"] = for_region
    result: Callable[[str], RegistryApi] = _cache["registry"]
    return result


def gate(context: Any = None) -> CallGate:
    """The shared ACR API budget."""
    if "gate" not in _cache:
        _cache["gate"] = CallGate(stores(context).budget, clock(), qps=settings(context).acr_qps)
    result: CallGate = _cache["gate"]
    return result


def submitter(context: Any = None) -> Submitter:
    """One Submitter over the ledger, registry and gate."""
    if "submitter" not in _cache:
        _cache["submitter"] = Submitter(
            stores(context).ledger, registry(context), gate(context), clock(), links=_sync_rules(context)
        )
    result: Submitter = _cache["submitter"]
    return result


def rules_cache(context: Any = None) -> CompiledRulesCache:
    """Compiled rules, re-read only when the stored version changes (checked at most every 30 s)."""
    if "rules" not in _cache:
        _cache["rules"] = CompiledRulesCache(
            stores(context).rules,
            ttl_s=RULES_TTL_S,
            monotonic=clock().monotonic,
            location=settings(context).store.url,
        )
    result: CompiledRulesCache = _cache["rules"]
    return result


def replicator_deps(context: Any = None) -> ReplicatorDeps:
    """Everything the replicator needs, built once per instance."""
    if "replicator" not in _cache:
        _require_accounts(settings(context))
        _cache["replicator"] = operator_deps(context)
    result: ReplicatorDeps = _cache["replicator"]
    return result


def notifier(context: Any = None) -> Notifier:
    """DingTalk, with each robot's 20-a-minute limit kept in the shared budget store."""
    if "notifier" not in _cache:
        from acrsync.adapters.dingtalk import DingTalkNotifier

        _cache["notifier"] = DingTalkNotifier(clock=clock(), budget=stores(context).budget)
    result: Notifier = _cache["notifier"]
    return result


def channels(context: Any = None) -> Callable[[str], AlertChannel | None]:
    """Resolve an alert channel by name: the rules file names env vars; values are read here, never stored."""
    cfg = settings(context)
    environ = _environ()

    def resolve(name: str) -> AlertChannel | None:
        if not name:
            if not cfg.dingtalk_webhook:
                return None
            return AlertChannel("default", cfg.dingtalk_webhook, cfg.dingtalk_secret)
        spec = stores(context).rules.read().channels.get(name)
        if spec is None:
            return resolve("")
        ding = spec.get("dingtalk") or {}
        webhook_env, secret_env = (str(ding.get(k) or "") for k in ("webhook_env", "secret_env"))
        if refused := _refused_env_names(webhook_env, secret_env):
            # Stored before rules were limited to ACRSYNC_DINGTALK_*: never read (nor send) such a variable.
            log.error("alert_channel_env_refused", channel=name, variables=refused)
            return resolve("")
        webhook = environ.get(webhook_env, "")
        if not webhook:
            log.warning("alert_channel_unconfigured", channel=name, webhook_env=webhook_env)
            return resolve("")
        secret = environ.get(secret_env, "") if secret_env else ""
        secrets_in([secret, webhook, webhook.partition("access_token=")[2]])
        mobiles = tuple(str(m) for m in spec.get("mention_mobiles") or ())
        return AlertChannel(name, webhook, secret, mobiles)

    return resolve


def _refused_env_names(*names: str) -> list[str]:
    from acrsync.domain.rules_schema import CHANNEL_ENV_RE  # lazily: only alerting needs it

    return [n for n in names if n and not CHANNEL_ENV_RE.match(n)]


def watcher_deps(context: Any = None) -> WatchDeps:
    """Everything the watcher needs, built once per instance."""
    if "watcher" not in _cache:
        from acrsync.service.watch import WatchDeps

        _require_accounts(settings(context))
        _cache["watcher"] = WatchDeps(
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
    result: WatchDeps = _cache["watcher"]
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
        submitter=Submitter(built.ledger, registry(context), run_gate, clock(), links=_sync_rules(context)),
        region=cfg.region,
        copies=copy_deps(context),
    )


def state_store(context: Any = None) -> StateStore:
    """The reconciler's cursor and last pass, in the same backend as the ledger (pin with ``use(state=)``)."""
    if "state" not in _cache:
        cfg = settings(context)
        if cfg.store.kind == "sqlite":
            from acrsync.adapters.sqlite_store import SqliteDatabase
            from acrsync.adapters.state_store import SqliteStateStore

            read_only = bool(_cache.get("read_only"))  # `status` reads the last pass inside read_only()
            db = SqliteDatabase(cfg.store.location, read_only=read_only, time_left=_time_left)
            _cache["state"] = SqliteStateStore(db)
        else:
            from acrsync.adapters.tablestore_state import TablestoreStateStore

            _cache["state"] = TablestoreStateStore(ots_client(context))
    result: StateStore = _cache["state"]
    return result


def role_registry(context: Any = None) -> Callable[[str, str], RegistryApi]:
    """``(region, role_arn) -> RegistryApi`` reading another account's instances through that RAM role
    (``alibabacloud-credentials``' RAM-role provider, which refreshes itself); one client per pair."""
    if "role_registry" not in _cache:
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

        _cache["role_registry"] = for_role
    result: Callable[[str, str], RegistryApi] = _cache["role_registry"]
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


def probe_store(context: Any = None) -> str:
    """``doctor``: open the store and look for its tables; a one-line description, or raise."""
    cfg = settings(context)
    if cfg.store.kind == "sqlite":
        built = stores(context)
        version = built.rules.version()
        built.ledger.list_open(limit=1)
        access = "read-only" if _cache.get("read_only") else "read-write"
        return f"sqlite {cfg.store.location}: opens ({access}); rules version {version}"
    from acrsync.adapters.tablestore_client import call, table_specs

    client = ots_client(context)
    names = [spec.name for spec in table_specs().values()]
    missing = []
    for name in names:
        try:
            call("DescribeTable", client.describe_table, name)
        except StoreNotSetUp:
            missing.append(name)
    if missing:
        raise StoreNotSetUp(
            f"ACRSYNC_STORE=tablestore://{cfg.store.location}: tables missing: {', '.join(missing)}",
            location=cfg.store.location,
            fix="create them: `acr-sync tables init`",
        )
    return f"tablestore {cfg.store.location}: {len(names)} tables present"


def doctor_deps(context: Any = None) -> DoctorDeps:
    """What ``acr-sync doctor`` inspects; nothing is built until a check asks for it."""
    from acrsync.service.doctor import DoctorDeps

    cfg = settings(context)
    return DoctorDeps(
        region=cfg.region,
        credentials_present=cfg.credentials.present,
        rules=lambda: stores(context).rules.read(),  # noqa: PLW0108 - lazy: a broken store fails its check
        registry=registry(context),
        store_probe=lambda: probe_store(context),
        channels=channels(context),
        notifier=lambda: notifier(context),
        registries=_destination_clients(),
        links=_sync_rules(context),
    )


def _require_accounts(cfg: Settings) -> None:
    if not cfg.allowed_account_ids:
        raise ConfigError(
            "ACRSYNC_ALLOWED_ACCOUNT_IDS: not set and the function's own account id is unknown; "
            "set it to the account(s) whose ACR events should be handled"
        )


def deadline(context: Any) -> float:
    """Monotonic time by which the invocation must have finished its work (timeout minus a margin)."""
    timeout = getattr(getattr(context, "function", None), "timeout", None)
    seconds = float(timeout) if isinstance(timeout, (int, float)) and timeout > 0 else DEFAULT_TIMEOUT_S
    return clock().monotonic() + max(1.0, seconds - DEADLINE_MARGIN_S)


@contextlib.contextmanager
def invocation(function: str, context: Any) -> Iterator[None]:
    """Around a handler: configure logging once, and log every escaping error as one structured line.

    Retryable errors and configuration errors are re-raised so FC retries (and, after its attempts, sends
    the event to the failure destination): nothing is dropped. Other permanent errors are already turned
    into results by the services; anything unexpected is logged with its traceback and re-raised. Bad
    input never gets here: the services refuse it (``service.intake``) with a reason and return normally.
    Under the CLI (``acr-sync invoke``) the CLI's logging is kept: lines go to stderr, not stdout.
    """
    if not _cache.get("logging") and not console_owned():
        level = _environ().get("ACRSYNC_LOG_LEVEL", "INFO").upper()
        configure(level=level if level in ("DEBUG", "INFO", "WARNING", "ERROR") else "INFO")
        _cache["logging"] = True
    started = time.monotonic()
    _cache["deadline"] = deadline(context)  # bounds every store wait of this invocation (SQLite busy)
    try:
        yield
    except StoreNotSetUp as exc:
        # Not "no rule matched": nothing was ever set up, so FC must retry (and in the end dead-letter).
        log.error("store_not_set_up", function=function, error=str(exc), fix=exc.fix)
        raise
    except ConfigError as exc:
        fix = exc.fix if isinstance(exc, StoreError) else ""
        log.error("configuration_invalid", function=function, error=str(exc), fix=fix)
        raise
    except RetryableError as exc:
        log.warning("invocation_retryable", function=function, error=str(exc), error_type=type(exc).__name__)
        raise
    except PermanentError as exc:
        log.error("invocation_failed", function=function, error=str(exc), error_type=type(exc).__name__)
        raise
    except Exception as exc:
        log.exception("invocation_crashed", function=function, error_type=type(exc).__name__)
        raise
    finally:
        _cache.pop("deadline", None)
        log.debug(
            "invocation_finished",
            function=function,
            duration_ms=round((time.monotonic() - started) * 1000, 1),
        )


def deployed_doctor_deps(doc: Mapping[str, Any], context: Any = None) -> Any:
    """``doctor --deployed``: SDK clients for FC 3.0, EventBridge and ACR (built here, once), what s.yaml
    (``doc``, already loaded) meant, and the stored rules for the overlap check. Returns ``DeployedDeps``."""
    from acrsync.adapters.acr import build_acr_client
    from acrsync.adapters.acr_sync_rules import AcrSyncRules
    from acrsync.adapters.eventbridge import EventBridgeRules, build_eventbridge_client
    from acrsync.adapters.fc import FcFunctions, build_fc_client
    from acrsync.config import KNOWN_VARIABLES
    from acrsync.domain.deployment import expected_functions, resolve
    from acrsync.domain.rules import compile_rules, validate_document
    from acrsync.service.deployed_doctor import DeployedDeps

    cfg = settings(context)
    creds = cfg.credentials
    if not creds.present:
        raise ConfigError(
            "no credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET"
        )
    keys = {"access_key_id": creds.access_key_id, "access_key_secret": creds.access_key_secret}
    if creds.security_token:
        keys["security_token"] = creds.security_token
    acr = build_acr_client(cfg.region, endpoint=cfg.acr_endpoint or None, **keys)  # type: ignore[arg-type]

    def acr_rules() -> Any:
        stored = stores(context).rules.read()
        valid = validate_document(
            {"version": 1, "channels": dict(stored.channels), "rules": list(stored.rules)}
        )
        return compile_rules(valid.rules, valid.channels).rules

    def alert_refusals() -> list[tuple[str, str]]:
        since = clock().now() - 7 * 86400
        rows = stores(context).ledger.scan(since=since)
        found = [(r.alert_channel, r.extra.get("alert_note", "")) for r in rows]
        return [(channel, note) for channel, note in found if note.startswith("DingTalk refused:")]

    variables = resolve(doc.get("vars") or {}, {})
    return DeployedDeps(
        alert_refusals=alert_refusals,
        expected=expected_functions(doc),
        functions=FcFunctions(build_fc_client(cfg.region, cfg.fc_endpoint, **keys)),
        rules=EventBridgeRules(build_eventbridge_client(cfg.region, cfg.eventbridge_endpoint, **keys)),
        sync_rules=AcrSyncRules(acr),
        known_variables=frozenset(KNOWN_VARIABLES),
        acr_rules=acr_rules,
        source_instances=[str(variables.get("source_instance_id") or "")],
    )


def outcome_publisher(context: Any = None) -> Callable[[float], int] | None:
    """``deadline -> events sent`` over ``ACRSYNC_EVENT_BUS``; None when the variable is unset. The
    EventBridge SDK is imported on the first publish, never by the replicator."""
    cfg = settings(context)
    if not cfg.event_bus:
        return None

    def publish(deadline_at: float) -> int:
        from acrsync.service.outcomes import publish_outcomes

        return publish_outcomes(
            stores(context).ledger, event_bus(context), cfg.event_bus, clock(), deadline=deadline_at
        )

    return publish


def event_bus(context: Any = None) -> Any:
    """The ``EventBus`` adapter on the EventBridge SDK, built once (tests pin a fake with ``use``)."""
    if "event_bus" not in _cache:
        from acrsync.adapters.eventbridge import EventBridgeBus, build_eventbridge_client

        cfg = settings(context)
        creds = cfg.credentials
        keys = {"access_key_id": creds.access_key_id, "access_key_secret": creds.access_key_secret}
        if creds.security_token:
            keys["security_token"] = creds.security_token
        _cache["event_bus"] = EventBridgeBus(
            build_eventbridge_client(cfg.region, cfg.eventbridge_endpoint, **keys)
        )
    return _cache["event_bus"]


def deployed_checks(path: Path) -> list[Any]:
    """``doctor --deployed``: load the s.yaml at ``path`` (a missing or malformed file is a ``ConfigError``
    naming it and what to do) and run every deployed check. Returns ``service.doctor.Check`` items."""
    import yaml

    from acrsync.service.deployed_doctor import run_deployed_checks

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: not found; run from the project directory or pass --s-yaml PATH"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a Serverless Devs document (a mapping with `resources`)")
    try:
        deps = deployed_doctor_deps(doc)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return run_deployed_checks(deps)


# --- Copy jobs (``registry:`` destinations): the copier, its launcher, registry clients. ---
COPIER_FUNCTION_ENV = "ACRSYNC_COPIER_FUNCTION"  # the copier's FC function name; unset: copy in-process


def copy_deps(context: Any = None) -> CopyDeps:
    """Launcher, source (ACR EE) and destination registry clients; built once, clients on first use."""
    if "copies" not in _cache:
        from acrsync.service.copy_jobs import CopyDeps

        # Adapters are built on first use: a replicator whose rules copy nothing never imports them.
        _cache["copies"] = CopyDeps(
            ledger=stores(context).ledger,
            clock=clock(),
            launcher=_LazyLauncher(lambda: _copy_launcher(context)),
            source=_LazySource(context),
            destination=_destination_clients(),
        )
    result: CopyDeps = _cache["copies"]
    return result


class _LazyLauncher(CopyLauncher):
    def __init__(self, build: Callable[[], CopyLauncher]) -> None:
        self._build = build
        self._real: CopyLauncher | None = None

    def launch(self, claim_id: str) -> None:
        if self._real is None:
            self._real = self._build()
        self._real.launch(claim_id)


class _LazySource:
    """``(instance, region) -> RegistryClient`` for ACR EE sources, built on the first copy."""

    def __init__(self, context: Any) -> None:
        self._context = context
        self._real: Any = None

    def __call__(self, instance_id: str, region: str) -> Any:
        if self._real is None:
            from acrsync.adapters.acr_registry_access import AcrRegistryClients

            self._real = AcrRegistryClients(registry(self._context))
        return self._real(instance_id, region)

    def close(self) -> None:
        if self._real is not None:
            self._real.close()


def _copy_launcher(context: Any) -> Any:
    from acrsync.adapters.copy_launcher import FcCopyLauncher, InProcessCopyLauncher, build_fc_client

    function = _environ().get(COPIER_FUNCTION_ENV, "")
    if not function:  # local runs and tests: the copier's use case, in this process
        return InProcessCopyLauncher(lambda event: copier_handle(event, context))
    cfg = settings(context)
    creds = cfg.credentials
    account = _environ().get("FC_ACCOUNT_ID", "") or next(iter(sorted(cfg.allowed_account_ids)), "")
    return FcCopyLauncher(
        lambda: build_fc_client(
            cfg.region,
            account,
            access_key_id=creds.access_key_id,
            access_key_secret=creds.access_key_secret,
            security_token=creds.security_token,
        ),
        function,
    )


def _destination_clients() -> Callable[[str, str], Any]:
    """``(registry, credentials_env) -> RegistryClient``; the password is read here, never stored."""
    clients: dict[tuple[str, str], Any] = {}

    class Build:
        def __call__(self, target_text: str, credentials_env: str) -> Any:
            return build(target_text, credentials_env)

        def close(self) -> None:
            for client in list(clients.values()):
                client.close()

    def build(target_text: str, credentials_env: str) -> Any:
        from acrsync.adapters.oci_http import RegistryCredentials
        from acrsync.adapters.oci_registry import HttpRegistryClient
        from acrsync.domain.oci import parse_registry_target
        from acrsync.domain.rules_schema import REGISTRY_ENV_PREFIX, REGISTRY_ENV_RE
        from acrsync.errors import UpstreamRejected

        key = (target_text, credentials_env)
        if key not in clients:
            target = parse_registry_target(target_text)
            creds = None
            if credentials_env and not REGISTRY_ENV_RE.fullmatch(credentials_env):
                # Rules stored before the prefix rule: never read (and so never send) another variable.
                raise UpstreamRejected(
                    f"credentials_env {credentials_env[:64]} is not an {REGISTRY_ENV_PREFIX}* variable: "
                    "rename it and re-apply the rules",
                    code="CREDENTIALS_REFUSED",
                )
            if credentials_env:
                value = _environ().get(credentials_env, "")
                if not value:
                    raise UpstreamRejected(
                        f"credentials_env {credentials_env} is not set in the function's environment "
                        f"(USERNAME:PASSWORD for {target.host})",
                        code="CREDENTIALS_MISSING",
                    )
                creds = RegistryCredentials.parse(value, source=credentials_env)
                secrets_in([creds.password, value])  # the whole value too: base64 of it is the Basic header
            clients[key] = HttpRegistryClient(target.base_url, credentials=creds)
        return clients[key]

    return Build()


def copier_handle(event: bytes, context: Any = None) -> dict[str, Any]:
    """The copier's work for one event ``{"claim_id": ...}``: what ``functions/copier/handler.py`` runs."""
    from acrsync.domain.copies import parse_copy_event
    from acrsync.service.copy_jobs import run

    try:
        claim_id = parse_copy_event(event)
    except InvalidEvent as exc:  # the same bytes fail every retry: refuse, never raise into FC's retries
        reason = f"{exc.reason}: {exc}"
        log.warning("copy_event_refused", reason=exc.reason, error=str(exc))
        return {"status": "refused", "reason": reason}
    deps = copy_deps(context)
    try:
        outcome = run(claim_id, deps)
    finally:
        close_copy_clients()
    log.info("copy_handled", claim_id=claim_id, outcome=outcome)  # the copier's one summary per invocation
    return {"status": "ok", "claim_id": claim_id, "outcome": outcome}


def close_copy_clients() -> None:
    """Close the registry clients' idle connections (after each copy job, and on ``reset``)."""
    deps = _cache.get("copies")
    for factory in (deps.source, deps.destination) if deps is not None else ():
        close = getattr(factory, "close", None)
        if close is not None:
            close()


def _sync_rules(context: Any) -> Callable[[str], Any]:
    """``region -> SyncRuleApi`` over the same per-region ACR clients (custom-link destinations)."""
    regions = registry(context)

    def for_region(region: str) -> Any:
        from acrsync.adapters.acr_links import AcrSyncRules

        return AcrSyncRules(regions(region))

    return for_region


def canary_deps(context: Any = None) -> Any:
    """What ``acr-sync canary`` needs: the ledger, the rules, and registry clients to push and clean up."""
    from acrsync.service.canary import CanaryDeps

    copies = copy_deps(context)
    return CanaryDeps(
        ledger=stores(context).ledger,
        clock=clock(),
        rules=rules_cache(context).index,
        acr=copies.source,
        registry=copies.destination,
    )


def unset_env(names: Iterable[str]) -> list[str]:
    """Which of these variables are not set here (names only: ``acr-sync canary --schedule`` lists them)."""
    environ = _environ()
    return [n for n in names if not environ.get(n)]
