"""The Tablestore SDK seam: lazy import, client factory, one error mapping, table creation.

``tablestore`` pulls in numpy, aiohttp and protobuf (reference §5.1), so nothing here imports it at module
import time: FC cold starts of functions that never touch Tablestore stay cheap.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

from acrsync.errors import StoreNotSetUp, UpstreamRejected, UpstreamUnavailable
from acrsync.logging import get_logger, register_secret

log = get_logger(__name__)

T = TypeVar("T")

# Codes the SDK's DefaultRetryPolicy already retries (tablestore/retry.py::RetryUtil); if they still reach
# us the retries ran out, so the caller should back off and come again (reference §5.1, §5.3).
RETRYABLE_CODES = frozenset(
    {
        "OTSRowOperationConflict",
        "OTSNotEnoughCapacityUnit",
        "OTSTableNotReady",
        "OTSPartitionUnavailable",
        "OTSServerBusy",
        "OTSOperationConflict",
        "OTSOperationThrottled",
        "OTSQuotaExhausted",
        "OTSTimeout",
        "OTSInternalServerError",
        "OTSServerUnavailable",
        "OTSRequestTimeout",
    }
)
CONDITION_FAILED = "OTSConditionCheckFail"
# A table that does not exist (reference §5.3): the store was never set up, not a bad request.
NOT_EXIST = "OTSObjectNotExist"

SDK_LOGGER = "acrsync.tablestore_sdk"

_sdk: ModuleType | None = None


def import_tablestore() -> ModuleType:
    """Import ``tablestore`` once, quietly.

    The 6.4.8 wheel ships a native codec built for CPython 3.12 only; on 3.10/3.11 its import emits an
    ``ImportWarning`` and logs warnings before falling back to the pure-Python codec. The fallback is what
    we want (same wire bytes), so the noise is silenced here rather than in every caller.
    """
    global _sdk  # noqa: PLW0603 - a process-wide import cache is exactly what a lazy import is
    if _sdk is None:
        for name in ("tablestore.encoder", "tablestore.decoder"):
            logging.getLogger(name).setLevel(logging.ERROR)
        # The SDK logs every failed request at ERROR, expected condition failures (duplicate claims)
        # included; we translate and log what matters ourselves, with structure.
        sdk_logger = logging.getLogger(SDK_LOGGER)
        sdk_logger.addHandler(logging.NullHandler())
        sdk_logger.propagate = False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ImportWarning)
            import tablestore

        _sdk = tablestore
    return _sdk


def build_ots_client(
    endpoint: str,
    instance: str,
    access_key_id: str,
    access_key_secret: str,
    sts_token: str | None = None,
    *,
    retry_policy: Any = None,
    socket_timeout: float = 10.0,
    max_connection: int = 50,
) -> Any:
    """Build an ``OTSClient`` (SignV2, pure-Python codec); the adapters take it as their constructor arg.

    ``retry_policy`` defaults to the SDK's ``DefaultRetryPolicy`` (20 retries, ≤3 s apart, throttling codes
    for every API and 5xx for reads only).
    """
    sdk = import_tablestore()
    register_secret(access_key_secret)
    register_secret(sts_token)
    kwargs: dict[str, Any] = {
        "socket_timeout": socket_timeout,
        "max_connection": max_connection,
        "logger_name": SDK_LOGGER,
    }
    if sts_token:
        kwargs["sts_token"] = sts_token
    if retry_policy is not None:
        kwargs["retry_policy"] = retry_policy
    try:
        return sdk.OTSClient(endpoint, access_key_id, access_key_secret, instance, **kwargs)
    except sdk.OTSClientError as exc:
        raise UpstreamRejected(f"tablestore client config: {exc.get_error_message()}") from None


def error_code(exc: BaseException) -> str:
    """The service error code of an SDK exception, or ``""``."""
    sdk = import_tablestore()
    return str(exc.get_error_code()) if isinstance(exc, sdk.OTSServiceError) else ""


def missing_table(table: str, op: str) -> StoreNotSetUp:
    """A table acr-sync needs does not exist: name it and the command that creates it."""
    which = f"table {table}" if table else "a table acr-sync needs"
    return StoreNotSetUp(
        f"ACRSYNC_STORE (Tablestore): {which} does not exist ({op}: {NOT_EXIST})",
        location=table,
        fix="create the tables: `acr-sync tables init` with the same ACRSYNC_STORE and endpoint",
        code=NOT_EXIST,
    )


def translate(exc: BaseException, op: str, table: str = "") -> Exception:
    """Map an SDK or transport failure to the acr-sync error tree (never echoes credentials)."""
    sdk = import_tablestore()
    if isinstance(exc, sdk.OTSServiceError):
        code, status = str(exc.get_error_code()), exc.get_http_status() or 0
        if code == NOT_EXIST:
            return missing_table(table, op)
        msg = f"tablestore {op}: {code} {exc.get_error_message()} (request {exc.get_request_id()})"
        if code in RETRYABLE_CODES or status >= 500:
            return UpstreamUnavailable(msg, code=code)
        return UpstreamRejected(msg, code=code)
    if isinstance(exc, sdk.OTSClientError):
        status = exc.get_http_status() or 0
        msg = f"tablestore {op}: {exc.get_error_message()}"
        return UpstreamUnavailable(msg, code="OTSClientError") if status >= 500 else UpstreamRejected(msg)
    # urllib3/socket failures surface raw from ConnectionPool.send_receive (tablestore/connection.py).
    return UpstreamUnavailable(f"tablestore {op}: {type(exc).__name__}", code="NetworkError")


def call(op: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one SDK call (its retry policy runs inside); translate whatever escapes it."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the SDK raises OTSError and raw urllib3/socket errors alike
        # Every single-table API takes the table name first; batch calls carry it inside their request.
        table = args[0] if args and isinstance(args[0], str) else ""
        raise translate(exc, op, table) from None


@dataclass(frozen=True, slots=True)
class TableSpec:
    """One table: primary key schema and TTL in seconds (-1 keeps rows forever)."""

    name: str
    primary_key: tuple[tuple[str, str], ...]
    ttl_s: int = -1


DAY = 86400
LEDGER_TTL_S = 90 * DAY


def table_specs(prefix: str = "acrsync_") -> dict[str, TableSpec]:
    """Every table acr-sync uses, keyed by role (see docs/tables.md for the design)."""
    return {
        "rules": TableSpec(f"{prefix}rules", (("rule_key", "STRING"),)),
        "ledger": TableSpec(f"{prefix}ledger", (("claim_id", "STRING"),), LEDGER_TTL_S),
        "open": TableSpec(
            f"{prefix}open_tasks",
            (("bucket", "INTEGER"), ("next_check_ms", "INTEGER"), ("claim_id", "STRING")),
            LEDGER_TTL_S,
        ),
        "tasks": TableSpec(f"{prefix}task_index", (("task_id", "STRING"),), LEDGER_TTL_S),
        "budget": TableSpec(f"{prefix}budget", (("budget_key", "STRING"),), 7 * DAY),
        # The reconciler's cursor and last pass (a handful of rows, rewritten every pass: no TTL needed).
        "reconcile": TableSpec(f"{prefix}reconcile", (("state_key", "STRING"),)),
    }


def create_tables(
    client: Any, wait: bool = True, *, prefix: str = "acrsync_", timeout_s: float = 120.0
) -> list[str]:
    """Create every table that is missing (idempotent); return ``"created: NAME"``/``"exists: NAME"`` lines.

    With ``wait``, poll ``DescribeTable`` until each table answers (partitions load ~1 min after creation on
    the real service, reference §5.2).
    """
    sdk = import_tablestore()
    existing = set(call("ListTable", client.list_table))
    report: list[str] = []
    for spec in table_specs(prefix).values():
        if spec.name in existing:
            report.append(f"exists: {spec.name}")
            continue
        meta = sdk.TableMeta(spec.name, list(spec.primary_key))
        options = sdk.TableOptions(time_to_live=spec.ttl_s, max_version=1, max_time_deviation=DAY)
        throughput = sdk.ReservedThroughput(sdk.CapacityUnit(0, 0))
        try:
            client.create_table(meta, options, throughput)
            report.append(f"created: {spec.name}")
        except Exception as exc:  # noqa: BLE001 - translated (or accepted as "exists") right below
            # Another `tables init` may have won the race: that is "exists", not a failure.
            if error_code(exc) != "OTSObjectAlreadyExist":
                raise translate(exc, "CreateTable") from None
            report.append(f"exists: {spec.name}")
        log.info("tablestore_table_ready", table=spec.name, outcome=report[-1].split(":")[0])
    if wait:
        for spec in table_specs(prefix).values():
            _wait_until_described(client, spec.name, timeout_s)
    return report


def _wait_until_described(client: Any, name: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            client.describe_table(name)
            return
        except Exception as exc:  # noqa: BLE001 - translated right below
            err = translate(exc, "DescribeTable", name)
            if not isinstance(err, UpstreamUnavailable) and error_code(exc) != NOT_EXIST:
                raise err from None
            if time.monotonic() > deadline:
                raise err from None
        time.sleep(1.0)
