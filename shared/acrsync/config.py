"""Settings: every environment variable acr-sync reads, parsed and validated in one place.

``load_settings(environ, context)`` is called by the bootstrap (the only reader of ``os.environ``). Each
problem is reported as a ``ConfigError`` naming the variable and what it expects; all problems at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from acrsync.errors import ConfigError
from acrsync.webhooks import webhook_problem

DEFAULT_STORE = "sqlite:///.acrsync/acrsync.db"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_REGION_RE = re.compile(r"^[a-z]{2,}-[a-z0-9-]+\Z")
_ACCOUNT_RE = re.compile(r"^\d{6,20}\Z")
_TS_INSTANCE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{2,15}\Z")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
SHOWN_MAX = 120  # a value quoted back in an error is cut here: a garbage variable must not flood the log

# Every variable the product knows, with its meaning: the README's configuration table and the deployment
# tests (every variable s.yaml sets must be one of these) read this mapping.
KNOWN_VARIABLES: Mapping[str, str] = {
    "ACRSYNC_STORE": "sqlite:///PATH (embedded default) or tablestore://INSTANCE",
    "ACRSYNC_TABLESTORE_ENDPOINT": "Tablestore endpoint (http(s)://...), when the store is Tablestore",
    "ACRSYNC_REGION": "region of the source instance(s), e.g. cn-hangzhou",
    "ACRSYNC_ACR_ENDPOINT": "override of the ACR OpenAPI endpoint, e.g. http://127.0.0.1:18080",
    "ACRSYNC_ALLOWED_ACCOUNT_IDS": "comma-separated Alibaba Cloud account ids whose events are accepted",
    "ACRSYNC_DINGTALK_WEBHOOK": "default DingTalk robot webhook URL (secret: never logged)",
    "ACRSYNC_DINGTALK_SECRET": "default DingTalk robot signing secret, SEC... (secret: never logged)",
    "ACRSYNC_LOG_LEVEL": "DEBUG, INFO, WARNING or ERROR",
    "ACRSYNC_ACR_QPS": "ACR OpenAPI calls per second shared by all instances (default 10)",
    "ACRSYNC_ACCEPT_RAWDATA": "true to accept envelope-less (RawData) event bodies; default false (refused)",
    "ACRSYNC_FC_ENDPOINT": "override of the FC 3.0 API endpoint (doctor --deployed), e.g. http://127.0.0.1:18081",
    "ACRSYNC_EVENTBRIDGE_ENDPOINT": "override of the EventBridge API endpoint, e.g. http://127.0.0.1:18082",
    "ACRSYNC_EVENT_BUS": "custom EventBridge bus that receives outcome events (unset: none are published)",
    "ACRSYNC_STS_ENDPOINT": "override of the STS endpoint for role_arn reads, HOST[:PORT] (always HTTPS)",
    "ACRSYNC_RECONCILER_SHARE": "percent of ACRSYNC_ACR_QPS the reconciler may take when free (default 50)",
    "ACRSYNC_COPIER_FUNCTION": "the copier function name (copy destinations); unset: copies run in-process",
    "ACRSYNC_REFERRERS_WINDOW_HOURS": "hours after an image's tag was pushed the reconciler follows new OCI "
    "referrers of it (default 24; 0 disables)",
    "ALIBABA_CLOUD_ACCESS_KEY_ID": "credentials (FC sets them from the function role)",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "credentials (FC sets them from the function role)",
    "ALIBABA_CLOUD_SECURITY_TOKEN": "STS token (FC sets it from the function role)",
}


@dataclass(frozen=True, slots=True)
class StoreUrl:
    """Where rules, ledger and budgets live: ``sqlite`` with a path, or ``tablestore`` with an instance."""

    kind: str
    location: str

    @property
    def url(self) -> str:
        """The value as ACRSYNC_STORE spells it: ``sqlite:///PATH`` or ``tablestore://INSTANCE``."""
        return f"sqlite:///{self.location}" if self.kind == "sqlite" else f"{self.kind}://{self.location}"


@dataclass(frozen=True, slots=True)
class Credentials:
    """AK/SK (+ STS token). ``repr`` never shows the values."""

    access_key_id: str = field(repr=False, default="")
    access_key_secret: str = field(repr=False, default="")
    security_token: str = field(repr=False, default="")

    @property
    def present(self) -> bool:
        """True when an AK/SK pair is set."""
        return bool(self.access_key_id and self.access_key_secret)


@dataclass(frozen=True, slots=True)
class Settings:
    """Validated configuration. Build with ``load_settings``."""

    store: StoreUrl
    region: str
    tablestore_endpoint: str = ""
    acr_endpoint: str = ""
    allowed_account_ids: frozenset[str] = frozenset()
    dingtalk_webhook: str = field(repr=False, default="")
    dingtalk_secret: str = field(repr=False, default="")
    log_level: str = "INFO"
    acr_qps: int = 10
    fc_endpoint: str = ""
    eventbridge_endpoint: str = ""
    event_bus: str = ""
    reconciler_share: int = 50
    sts_endpoint: str = ""
    credentials: Credentials = field(default_factory=Credentials)
    accept_raw_data: bool = False
    referrers_window_h: float = 24.0


def parse_store_url(value: str) -> StoreUrl:
    """``sqlite:///PATH`` (relative or absolute) or ``tablestore://INSTANCE``; ``ValueError`` otherwise."""
    if value.startswith("sqlite:///"):
        path = value[len("sqlite:///") :]
        if not path:
            raise ValueError("sqlite:/// needs a file path, e.g. sqlite:///.acrsync/acrsync.db")
        if _CONTROL_RE.search(path):
            raise ValueError("the sqlite path contains control characters (a stray newline or NUL?)")
        if path.endswith("/"):
            raise ValueError("the sqlite path names a directory; add a file name, e.g. acrsync.db")
        return StoreUrl("sqlite", path)
    if value.startswith("tablestore://"):
        instance = value[len("tablestore://") :].strip("/")
        if not _TS_INSTANCE_RE.match(instance):
            raise ValueError(
                f"tablestore://{shown(instance)} is not a valid Tablestore instance name "
                "(3-16 letters, digits and hyphens, starting with a letter)"
            )
        return StoreUrl("tablestore", instance)
    raise ValueError("expected sqlite:///PATH or tablestore://INSTANCE")


def shown(value: str) -> str:
    """``repr(value)`` cut to ``SHOWN_MAX`` characters, for quoting a variable back in an error."""
    text = repr(value)
    return text if len(text) <= SHOWN_MAX else text[: SHOWN_MAX - 1] + "…"


def _context_attr(context: Any, *path: str) -> str:
    for name in path:
        context = getattr(context, name, None)
    return context if isinstance(context, str) else ""


def _credentials(environ: Mapping[str, str], context: Any) -> Credentials:
    """Env vars first (FC 3.0 sets them); python3.10's ``context.credentials`` as the fallback."""
    env = Credentials(
        environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID", ""),
        environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET", ""),
        environ.get("ALIBABA_CLOUD_SECURITY_TOKEN", ""),
    )
    if env.present or context is None:
        return env
    return Credentials(
        _context_attr(context, "credentials", "access_key_id"),
        _context_attr(context, "credentials", "access_key_secret"),
        _context_attr(context, "credentials", "security_token"),
    )


def _accounts(environ: Mapping[str, str], context: Any, problems: list[str]) -> frozenset[str]:
    """The allowed accounts; the function's own account when the variable is unset."""
    raw = environ.get("ACRSYNC_ALLOWED_ACCOUNT_IDS", "")
    accounts = frozenset(a.strip() for a in raw.split(",") if a.strip())
    bad = sorted(a for a in accounts if not _ACCOUNT_RE.match(a))
    if bad:
        problems.append(f"ACRSYNC_ALLOWED_ACCOUNT_IDS: not account ids: {', '.join(bad)} (expected digits)")
    if accounts:
        return accounts
    own = environ.get("FC_ACCOUNT_ID") or _context_attr(context, "account_id")
    return frozenset({own}) if own else frozenset()


def _qps(environ: Mapping[str, str], problems: list[str]) -> int:
    raw = environ.get("ACRSYNC_ACR_QPS", "10")
    if raw.isdigit() and 0 < int(raw) <= 1000:
        return int(raw)
    problems.append(f"ACRSYNC_ACR_QPS={raw!r}: expected an integer 1..1000")
    return 10


_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off", "")


def _accept_raw_data(environ: Mapping[str, str], problems: list[str]) -> bool:
    """``ACRSYNC_ACCEPT_RAWDATA``: off unless said; a typo is an error, not a silent "no"."""
    raw = environ.get("ACRSYNC_ACCEPT_RAWDATA", "").strip().lower()
    if raw in _TRUE + _FALSE:
        return raw in _TRUE
    problems.append(f"ACRSYNC_ACCEPT_RAWDATA={raw[:40]!r}: expected true or false")
    return False


# EventBridge bus names (alibabacloud.com/help/en/eventbridge/latest/limits): up to 127 characters, letters,
# digits and hyphens, starting with a letter or digit.
_BUS_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,126}\Z")
_ENDPOINT_RE = re.compile(r"^(https?://)?[A-Za-z0-9.-]+(:\d+)?/?\Z")


def _endpoints(environ: Mapping[str, str], problems: list[str]) -> dict[str, str]:
    """The FC and EventBridge endpoint overrides (empty: the region's public endpoint, per each SDK)."""
    found = {}
    for name in ("ACRSYNC_FC_ENDPOINT", "ACRSYNC_EVENTBRIDGE_ENDPOINT"):
        value = environ.get(name, "")
        if value and not _ENDPOINT_RE.match(value):
            problems.append(f"{name}: expected HOST[:PORT] or http(s)://HOST[:PORT]")
        found[name] = value
    return found


def _share(environ: Mapping[str, str], problems: list[str]) -> int:
    raw = environ.get("ACRSYNC_RECONCILER_SHARE", "50").strip().rstrip("%")
    if raw.isascii() and raw.isdigit() and 0 < int(raw) <= 100:
        return int(raw)
    problems.append(f"ACRSYNC_RECONCILER_SHARE={raw!r}: expected a percentage 1..100 (e.g. 50)")
    return 50


def _referrers_window(environ: Mapping[str, str], problems: list[str]) -> float:
    raw = environ.get("ACRSYNC_REFERRERS_WINDOW_HOURS", "24").strip()
    try:
        hours = float(raw)
    except ValueError:
        hours = -1.0
    if 0 <= hours <= 24 * 90:  # the ledger keeps 90 days: a longer window would find nothing more
        return hours
    problems.append(
        f"ACRSYNC_REFERRERS_WINDOW_HOURS={shown(raw)}: expected hours 0..2160 (e.g. 24; 0 disables)"
    )
    return 24.0


def load_settings(environ: Mapping[str, str], context: Any = None) -> Settings:
    """Read and validate every variable; raise one ``ConfigError`` listing each problem."""
    problems: list[str] = []

    raw_store = environ.get("ACRSYNC_STORE") or DEFAULT_STORE
    try:
        store = parse_store_url(raw_store)
    except ValueError as exc:
        problems.append(f"ACRSYNC_STORE={shown(raw_store)}: {exc}")
        store = StoreUrl("sqlite", ".acrsync/acrsync.db")

    region = (
        environ.get("ACRSYNC_REGION")
        or environ.get("FC_REGION")
        or environ.get("ALIBABA_CLOUD_REGION_ID")
        or _context_attr(context, "region")
    )
    if region and not _REGION_RE.match(region):
        problems.append(f"ACRSYNC_REGION={region!r}: expected a region id such as cn-hangzhou")

    ts_endpoint = environ.get("ACRSYNC_TABLESTORE_ENDPOINT", "")
    if ts_endpoint and not ts_endpoint.startswith(("http://", "https://")):
        problems.append("ACRSYNC_TABLESTORE_ENDPOINT: must start with http:// or https://")
    if store.kind == "tablestore" and not ts_endpoint:
        if region:
            ts_endpoint = f"https://{store.location}.{region}.ots.aliyuncs.com"
        else:
            problems.append(
                "ACRSYNC_TABLESTORE_ENDPOINT: needed (or ACRSYNC_REGION) when ACRSYNC_STORE is tablestore"
            )

    acr_endpoint = environ.get("ACRSYNC_ACR_ENDPOINT", "")
    if acr_endpoint and not re.match(r"^(https?://)?[A-Za-z0-9.-]+(:\d+)?/?\Z", acr_endpoint):
        problems.append("ACRSYNC_ACR_ENDPOINT: expected HOST[:PORT] or http(s)://HOST[:PORT]")

    accounts = _accounts(environ, context, problems)

    webhook = environ.get("ACRSYNC_DINGTALK_WEBHOOK", "")
    webhook_refused = webhook_problem(webhook) if webhook else None  # the notifier's rule, not a prefix
    if webhook_refused is not None:
        problems.append(f"ACRSYNC_DINGTALK_WEBHOOK: {webhook_refused.reason}")

    level = environ.get("ACRSYNC_LOG_LEVEL", "INFO").upper()
    if level not in LOG_LEVELS:
        problems.append(f"ACRSYNC_LOG_LEVEL={level!r}: expected one of {', '.join(LOG_LEVELS)}")
        level = "INFO"

    qps = _qps(environ, problems)
    accept_raw_data = _accept_raw_data(environ, problems)
    endpoints = _endpoints(environ, problems)
    event_bus = environ.get("ACRSYNC_EVENT_BUS", "")
    if event_bus and (not _BUS_RE.match(event_bus) or event_bus == "default"):
        problems.append(
            f"ACRSYNC_EVENT_BUS={event_bus!r}: expected a custom bus name (letters, digits, hyphens; "
            "up to 127; not 'default', which takes only Alibaba Cloud service events)"
        )
    share = _share(environ, problems)
    referrers_window_h = _referrers_window(environ, problems)

    if problems:
        raise ConfigError("invalid configuration: " + "; ".join(problems))
    return Settings(
        store=store,
        region=region,
        tablestore_endpoint=ts_endpoint,
        acr_endpoint=acr_endpoint,
        allowed_account_ids=accounts,
        dingtalk_webhook=webhook,
        dingtalk_secret=environ.get("ACRSYNC_DINGTALK_SECRET", ""),
        log_level=level,
        acr_qps=qps,
        fc_endpoint=endpoints["ACRSYNC_FC_ENDPOINT"],
        eventbridge_endpoint=endpoints["ACRSYNC_EVENTBRIDGE_ENDPOINT"],
        event_bus=event_bus,
        reconciler_share=share,
        sts_endpoint=environ.get("ACRSYNC_STS_ENDPOINT", "").removeprefix("https://").rstrip("/"),
        credentials=_credentials(environ, context),
        accept_raw_data=accept_raw_data,
        referrers_window_h=referrers_window_h,
    )
