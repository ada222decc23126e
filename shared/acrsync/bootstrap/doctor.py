"""What ``acr-sync doctor`` inspects: the store probe and the local checks' ports, and ``--deployed``'s SDK
clients for FC 3.0, EventBridge and ACR.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acrsync.bootstrap import core
from acrsync.bootstrap.acr_clients import registry, sync_rules
from acrsync.bootstrap.alerts import channels, notifier
from acrsync.bootstrap.copies import destination_clients
from acrsync.bootstrap.core import clock, ots_client, settings, stores
from acrsync.errors import ConfigError, StoreNotSetUp

if TYPE_CHECKING:  # each function instance imports only the use case it runs (cold start)
    from acrsync.service.doctor import DoctorDeps


def probe_store(context: Any = None) -> str:
    """``doctor``: open the store and look for its tables; a one-line description, or raise."""
    cfg = settings(context)
    if cfg.store.kind == "sqlite":
        built = stores(context)
        version = built.rules.version()
        built.ledger.list_open(limit=1)
        access = "read-only" if core._cache.get("read_only") else "read-write"
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
        registries=destination_clients(),
        links=sync_rules(context),
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
