"""``acr-sync doctor``: preflight checks, each PASS / WARN / FAIL with what to do about it.

Checks: store reachable, rules valid, credentials present and accepted, every source instance Premium,
every destination region public cloud, destination namespaces present (and auto-create-repository on for
rules whose repository name is a template), literal destination repositories present, custom links
(``link:``) used by acr-sync's manual rules as far as the API shows (``doctor_links``), alert channels
configured (and, on request, a test message sent). Each check catches its own failures: one broken thing
never hides the others. A few read-only ACR calls, no writes (except the optional test alert).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from acrsync.domain.alerts import AlertMessage
from acrsync.domain.regions import cloud_of
from acrsync.domain.rules import CompiledRule, RuleIndex, compile_rules, validate_document
from acrsync.errors import AcrSyncError, RuleConfigError, StoreError
from acrsync.logging import get_logger
from acrsync.ports import AlertChannel, Notifier, RegistryApi, StoredRules, SyncRuleApi
from acrsync.service.doctor_destinations import DestinationChecks
from acrsync.service.doctor_guard import (
    DENIED_PREFIXES,
    FAIL,
    PASS,
    RAM_FIX,
    WARN,
    Check,
    describe,
    failure,
    guarded,
    refused_credentials,
)
from acrsync.webhooks import webhook_problem

__all__ = ["FAIL", "PASS", "WARN", "Check", "DoctorDeps", "failed", "run_checks"]

log = get_logger(__name__)

PREMIUM = "Enterprise_Advanced"  # GetInstance InstanceSpecification of the Premium edition
CONSOLE = "https://cr.console.aliyun.com"
STORE_FIX = "check ACRSYNC_STORE; for Tablestore run `acr-sync tables init` and check the endpoint"


@dataclass(frozen=True)
class DoctorDeps:
    """What the checks look at; the bootstrap builds the real ones, tests hand in fakes."""

    region: str
    credentials_present: bool
    rules: Callable[[], StoredRules]
    registry: Callable[[str], RegistryApi]
    store_probe: Callable[[], str]
    channels: Callable[[str], AlertChannel | None]
    notifier: Callable[[], Notifier] | None = None
    registries: Callable[[str, str], Any] | None = None  # copy destinations' clients (registry, env)
    links: Callable[[str], SyncRuleApi] | None = None  # region -> manual sync rules (``link:`` destinations)


def failed(checks: list[Check]) -> bool:
    """True if any check failed (the CLI then exits non-zero)."""
    return any(c.status == FAIL for c in checks)


def run_checks(deps: DoctorDeps, *, send_test_alert: bool = False) -> list[Check]:
    """Every check, in a fixed order. Each catches its own failures (``guarded``): a denied or failing call
    is that row's FAIL with its fix, and every other row is still there."""
    checks = [_store(deps)]
    rules_check, index = _rules(deps)
    checks.append(rules_check)
    enabled = [r for r in index.rules if r.enabled] if index is not None else []
    sources = sorted({r.instance for r in enabled})
    cred, acr_usable = _credentials(deps, sources)
    checks.append(cred)
    if acr_usable:  # skipped only without credentials or with refused ones: every call would fail alike
        checks.extend(guarded("source edition", "GetInstance", partial(_sources, deps, sources)))
    checks.extend(_regions(enabled))
    if acr_usable:
        checks.extend(DestinationChecks(deps.registry, deps.region).checks(enabled))
    if acr_usable and deps.links is not None:
        from acrsync.service.doctor_links import run_link_checks

        checks.extend(run_link_checks(enabled, deps.region, deps.links, deps.registry))
    if index is not None:
        from acrsync.service.doctor_cross_account import cross_account_checks  # imports this module

        cross = lambda: cross_account_checks(deps.rules().rules)  # noqa: E731 - read inside the guard
        checks.extend(guarded("cross-account destinations", "cannot check them", cross))
    if deps.registries is not None:
        from acrsync.service.doctor_registries import registry_checks

        checks.extend(registry_checks(enabled, deps.registries, Check))
    channels = index.channels if index is not None else {}
    alerts = partial(_alerts, deps, enabled, channels, send_test_alert)
    checks.extend(guarded("alert channels", "cannot check them", alerts))
    log.info("doctor_finished", failed=sum(c.status == FAIL for c in checks), checks=len(checks))
    return checks


def _store(deps: DoctorDeps) -> Check:
    try:
        return Check("store", PASS, deps.store_probe())
    except Exception as exc:  # noqa: BLE001 - any failure to open the store is this check's FAIL
        fix = exc.fix if isinstance(exc, StoreError) and exc.fix else STORE_FIX
        return Check("store", FAIL, describe(exc), fix)


def _rules(deps: DoctorDeps) -> tuple[Check, RuleIndex | None]:
    try:
        stored = deps.rules()
        doc = validate_document(
            {"version": 1, "channels": dict(stored.channels), "rules": list(stored.rules)}
        )
        index = compile_rules(doc.rules, doc.channels)
    except RuleConfigError as exc:
        fix = "fix the rules file and run `acr-sync rules apply FILE`"
        return Check("rules", FAIL, "; ".join(exc.errors[:5]), fix), None
    except Exception as exc:  # noqa: BLE001 - a broken store or rule row is this check's FAIL
        return Check("rules", FAIL, f"cannot read rules: {describe(exc)}", "see the store check"), None
    enabled = sum(r.enabled for r in index.rules)
    if not enabled:
        fix = "apply a rules file: `acr-sync rules apply examples/rules.yaml`"
        return Check("rules", WARN, f"{len(index.rules)} rule(s), none enabled", fix), index
    return Check("rules", PASS, f"version {stored.version}: {enabled} enabled rule(s) compile"), index


def _credentials(deps: DoctorDeps, sources: list[str]) -> tuple[Check, bool]:
    """The credentials row, and whether the ACR checks can run (not without credentials, or refused ones)."""
    if not deps.credentials_present:
        fix = (
            "set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (FC sets them from the role)"
        )
        return Check("credentials", FAIL, "no AccessKey pair configured", fix), False
    if not sources:
        detail = "present, not verified: no enabled rule names a source instance"
        return Check("credentials", WARN, detail), True
    try:
        deps.registry(deps.region).get_instance(sources[0])
    except Exception as exc:  # noqa: BLE001 - every failure is this row's FAIL; the other checks still run
        code = str(getattr(exc, "code", "") or "")
        if refused_credentials(exc):
            return Check("credentials", FAIL, f"ACR refused them ({code})", "check the AK/SK"), False
        if code.startswith(DENIED_PREFIXES):
            return Check("credentials", FAIL, f"accepted but denied ({code})", RAM_FIX), True
        return failure("credentials", "", exc), True
    return Check("credentials", PASS, f"accepted by ACR in {deps.region} (GetInstance {sources[0]})"), True


def _sources(deps: DoctorDeps, sources: list[str]) -> Iterator[Check]:
    api = deps.registry(deps.region)
    for instance in sources:
        name = f"source edition {instance}"
        try:
            found = api.get_instance(instance)
        except Exception as exc:  # noqa: BLE001 - this instance's FAIL; the next instance is still checked
            yield failure(name, "", exc)
            continue
        if found is None:
            fix = "check source.instance in the rules and ACRSYNC_REGION (the source instances' region)"
            yield Check(name, FAIL, f"no such instance in {deps.region}", fix)
        elif found.specification != PREMIUM:
            fix = f"upgrade {instance} to the Premium edition ({CONSOLE} → Instances → Upgrade)"
            detail = f"{found.specification}: ACR replication needs the Premium edition ({PREMIUM})"
            yield Check(name, FAIL, detail, fix)
        else:
            yield Check(name, PASS, f"{found.specification} (Premium), {found.status}")


def _regions(enabled: list[CompiledRule]) -> Iterator[Check]:
    for region in sorted({d.region for r in enabled for d in r.destinations if not d.registry}):
        cloud = cloud_of(region)
        if cloud == "public":
            yield Check(f"destination region {region}", PASS, "public cloud")
        else:
            fix = "replicate only between public-cloud regions; change the rule's destination region"
            yield Check(f"destination region {region}", FAIL, f"a {cloud} cloud region", fix)


def _alerts(
    deps: DoctorDeps,
    enabled: list[CompiledRule],
    specs: Mapping[str, Mapping[str, Any]],
    send_test_alert: bool,
) -> Iterator[Check]:
    names = sorted({r.alert for r in enabled}) or [""]
    tested: set[str] = set()  # one test message per robot, however many channel names lead to it
    for name in names:
        label = f"alert channel {name or 'default'}"
        channel = deps.channels(name)
        if channel is None:
            fix = (
                "set ACRSYNC_DINGTALK_WEBHOOK and ACRSYNC_DINGTALK_SECRET (or the channel's *_env variables)"
            )
            yield Check(label, WARN, "not configured: failures will only be logged", fix)
            continue
        if name and channel.name != name:
            env = str((specs.get(name) or {}).get("dingtalk", {}).get("webhook_env") or "its webhook_env")
            yield Check(label, WARN, f"{env} is not set: falls back to the default channel", f"set {env}")
        elif (refused := webhook_problem(channel.webhook)) is not None:  # the notifier's own rule
            yield Check(label, FAIL, refused.reason, "set the robot's https://oapi.dingtalk.com webhook")
            continue
        else:
            yield Check(label, PASS, "configured" + (", signed" if channel.secret else ", unsigned"))
        if send_test_alert and channel.webhook not in tested:
            tested.add(channel.webhook)
            yield _send_test(deps, channel, label)


def _send_test(deps: DoctorDeps, channel: AlertChannel, label: str) -> Check:
    if deps.notifier is None:
        return Check(f"test alert {label}", FAIL, "no notifier configured")
    message = AlertMessage(
        title="acr-sync test alert",
        markdown=(
            "### acr-sync test alert\n\nSent by `acr-sync doctor --send-test-alert`: alerts reach this group."
        ),
    )
    try:
        deps.notifier().send(channel, message)
    except AcrSyncError as exc:
        fix = "check the webhook access_token, the signing secret (SEC...) and the robot's security settings"
        return Check(f"test alert {label}", FAIL, str(exc), fix)
    return Check(f"test alert {label}", PASS, "sent")
