"""The composition root's core: the one cache of built objects, the environment and settings, the clock,
the stores, and the frame around every invocation (logging, deadline, errors).

Everything built is kept in ``_cache`` (one dict per process, shared by every ``bootstrap`` module, which
reach it as ``core._cache`` at call time): ``reset`` forgets it all, ``use`` pins fakes into it.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from acrsync.config import Settings, load_settings
from acrsync.errors import ConfigError, PermanentError, RetryableError, StoreError, StoreNotSetUp
from acrsync.logging import configure, console_owned, get_logger, secrets_in
from acrsync.ports import BudgetStore, Clock, Ledger, RuleStore
from acrsync.service.clock import SystemClock
from acrsync.service.rules_cache import CompiledRulesCache

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


def current_environ() -> Mapping[str, str]:
    """The environment pinned by ``reset(environ)``, else ``os.environ``: the one place it is read."""
    pinned: Mapping[str, str] | None = _cache.get("environ")
    return pinned if pinned is not None else os.environ


def settings(context: Any = None) -> Settings:
    """Validated settings, read once per instance."""
    if "settings" not in _cache:
        loaded = load_settings(current_environ(), context)
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


def time_left() -> float | None:
    """Seconds the current invocation has left before its deadline; None outside an invocation."""
    until: float | None = _cache.get("deadline")
    return None if until is None else until - clock().monotonic()


def _build_stores(cfg: Settings, *, read_only: bool = False) -> Stores:
    if cfg.store.kind == "sqlite":
        from acrsync.adapters.sqlite_rules import SqliteRuleStore
        from acrsync.adapters.sqlite_store import SqliteBudgetStore, SqliteDatabase, SqliteLedger

        def open_db() -> SqliteDatabase:
            return SqliteDatabase(cfg.store.location, read_only=read_only, time_left=time_left)

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


def close_copy_clients() -> None:
    """Close the registry clients' idle connections (after each copy job, and on ``reset``)."""
    deps = _cache.get("copies")
    for factory in (deps.source, deps.destination) if deps is not None else ():
        close = getattr(factory, "close", None)
        if close is not None:
            close()


def unset_env(names: Iterable[str]) -> list[str]:
    """Which of these variables are not set here (names only: ``acr-sync canary --schedule`` lists them)."""
    environ = current_environ()
    return [n for n in names if not environ.get(n)]


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
        level = current_environ().get("ACRSYNC_LOG_LEVEL", "INFO").upper()
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
