"""``acr-sync doctor``: preflight checks, each PASS / WARN / FAIL with what to do about it.

Checks: store reachable, rules valid, credentials present and accepted, every source instance Premium,
every destination region public cloud, destination namespaces present (and auto-create-repository on for
rules whose repository name is a template), literal destination repositories present, alert channels
configured (and, on request, a test message sent). Each check catches its own failures: one broken thing
never hides the others. A few read-only ACR calls, no writes (except the optional test alert).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from acrsync.domain.alerts import AlertMessage
from acrsync.domain.regions import cloud_of
from acrsync.domain.registry import Namespace
from acrsync.domain.rules import CompiledRule, RuleIndex, compile_rules, validate_document
from acrsync.domain.rules_eval import CompiledDestination, Template, first_match
from acrsync.errors import AcrSyncError, RuleConfigError
from acrsync.logging import get_logger
from acrsync.ports import AlertChannel, Notifier, RegistryApi, StoredRules

log = get_logger(__name__)

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
PREMIUM = "Enterprise_Advanced"  # GetInstance InstanceSpecification of the Premium edition
# Gateway codes meaning "these credentials are not accepted" (reference §2.2).
BAD_CREDENTIAL_PREFIXES = ("SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidSecurityToken")
DENIED_PREFIXES = ("NoPrivilege", "Forbidden")
CONSOLE = "https://cr.console.aliyun.com"
NAMESPACE_FIX = f"{CONSOLE} → Instances → {{instance}} → Repository → Namespace → Create Namespace '{{ns}}'"
AUTOCREATE_FIX = (
    f"{CONSOLE} → Instances → {{instance}} → Repository → Namespace → '{{ns}}' → Edit → "
    "turn on 'Automatically Create Repository' (or create each destination repository)"
)
MAX_SOURCE_REPOS = 5000  # namespaces of "**" rules are read from at most this many source repositories


@dataclass(frozen=True, slots=True)
class Check:
    """One result: ``status`` PASS, WARN or FAIL; ``fix`` says what to do when it is not PASS."""

    name: str
    status: str
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        """JSON-able form."""
        return {"name": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}


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


def failed(checks: list[Check]) -> bool:
    """True if any check failed (the CLI then exits non-zero)."""
    return any(c.status == FAIL for c in checks)


def run_checks(deps: DoctorDeps, *, send_test_alert: bool = False) -> list[Check]:
    """Every check, in a fixed order."""
    checks = [_store(deps)]
    rules_check, index = _rules(deps)
    checks.append(rules_check)
    enabled = [r for r in index.rules if r.enabled] if index is not None else []
    cred = _credentials(deps, sorted({r.instance for r in enabled}))
    checks.append(cred)
    if cred.status == PASS:
        checks.extend(_sources(deps, sorted({r.instance for r in enabled})))
    checks.extend(_regions(enabled))
    if cred.status == PASS:
        checks.extend(_Destinations(deps).checks(enabled))
    if deps.registries is not None:
        from acrsync.service.doctor_registries import registry_checks

        checks.extend(registry_checks(enabled, deps.registries, Check))
    channels = index.channels if index is not None else {}
    checks.extend(_alerts(deps, enabled, channels, send_test_alert))
    log.info("doctor_finished", failed=sum(c.status == FAIL for c in checks), checks=len(checks))
    return checks


def _store(deps: DoctorDeps) -> Check:
    try:
        return Check("store", PASS, deps.store_probe())
    except Exception as exc:  # noqa: BLE001 - any failure to open the store is this check's FAIL
        return Check(
            "store",
            FAIL,
            f"{type(exc).__name__}: {exc}",
            "check ACRSYNC_STORE; for Tablestore run `acr-sync tables init` and check the endpoint",
        )


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
    except AcrSyncError as exc:
        return Check("rules", FAIL, f"cannot read rules: {exc}", "see the store check"), None
    enabled = sum(r.enabled for r in index.rules)
    if not enabled:
        fix = "apply a rules file: `acr-sync rules apply examples/rules.yaml`"
        return Check("rules", WARN, f"{len(index.rules)} rule(s), none enabled", fix), index
    return Check("rules", PASS, f"version {stored.version}: {enabled} enabled rule(s) compile"), index


def _credentials(deps: DoctorDeps, sources: list[str]) -> Check:
    if not deps.credentials_present:
        fix = (
            "set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (FC sets them from the role)"
        )
        return Check("credentials", FAIL, "no AccessKey pair configured", fix)
    if not sources:
        return Check("credentials", WARN, "present, not verified: no enabled rule names a source instance")
    try:
        deps.registry(deps.region).get_instance(sources[0])
    except AcrSyncError as exc:
        code = getattr(exc, "code", "")
        if code.startswith(BAD_CREDENTIAL_PREFIXES):
            return Check("credentials", FAIL, f"ACR refused them ({code})", "check the AK/SK")
        if code.startswith(DENIED_PREFIXES):
            fix = (
                "grant the RAM policy cr:GetInstance, cr:ListRepository, cr:*RepositorySync on the instances"
            )
            return Check("credentials", FAIL, f"accepted but denied ({code})", fix)
        fix = "check ACRSYNC_REGION / ACRSYNC_ACR_ENDPOINT and the network"
        return Check("credentials", FAIL, f"GetInstance failed: {exc}", fix)
    return Check("credentials", PASS, f"accepted by ACR in {deps.region} (GetInstance {sources[0]})")


def _sources(deps: DoctorDeps, sources: list[str]) -> Iterator[Check]:
    api = deps.registry(deps.region)
    for instance in sources:
        name = f"source edition {instance}"
        try:
            found = api.get_instance(instance)
        except AcrSyncError as exc:
            yield Check(name, FAIL, f"GetInstance failed: {exc}")
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


def _fields(template: Template) -> set[str]:
    return {part for is_field, part in template.parts if is_field}


class _Destinations:
    """Namespace / auto-create / repository checks; each (instance, namespace[, repo]) is reported once."""

    def __init__(self, deps: DoctorDeps) -> None:
        self.deps = deps
        self.seen: set[tuple[str, ...]] = set()
        self.namespaces: dict[tuple[str, str], Namespace | None] = {}
        self.source_repos: dict[str, list[str]] = {}

    def checks(self, enabled: list[CompiledRule]) -> Iterator[Check]:
        for rule in enabled:
            for dest in rule.destinations:
                if dest.registry:  # a copy destination: no ACR namespace to check (see README, not yet)
                    continue
                namespaces = self._dest_namespaces(rule, dest)
                if namespaces is None:
                    detail = f"rule {rule.name}: namespace {dest.namespace.source!r} depends on repo/tag"
                    yield Check(f"destination namespace {dest.instance}", WARN, detail + "; not checked")
                    continue
                for ns in namespaces:
                    yield from self._namespace(rule, dest, ns)

    def _dest_namespaces(self, rule: CompiledRule, dest: CompiledDestination) -> list[str] | None:
        used = _fields(dest.namespace)
        if not used:
            return [dest.namespace.source]
        if used != {"namespace"}:
            return None
        return sorted({dest.namespace.render({"namespace": ns}) for ns in self._source_namespaces(rule)})

    def _source_namespaces(self, rule: CompiledRule) -> set[str]:
        """Literal namespaces of the rule's globs, else those of the source repositories it matches."""
        if rule.namespaces is not None:
            return set(rule.namespaces)
        if rule.instance not in self.source_repos:
            repos = self.deps.registry(self.deps.region).list_repositories(rule.instance)
            self.source_repos[rule.instance] = [
                f"{r.namespace}/{r.name}" for r in itertools.islice(repos, MAX_SOURCE_REPOS)
            ]
        return {
            path.split("/", 1)[0]
            for path in self.source_repos[rule.instance]
            if first_match(rule.repositories, path) and not first_match(rule.exclude_repositories, path)
        }

    def _lookup(self, dest: CompiledDestination, ns: str) -> Namespace | None:
        key = (dest.instance, ns)
        if key not in self.namespaces:
            self.namespaces[key] = self.deps.registry(dest.region).get_namespace(dest.instance, ns)
        return self.namespaces[key]

    def _once(self, *key: str) -> bool:
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    def _namespace(self, rule: CompiledRule, dest: CompiledDestination, ns: str) -> Iterator[Check]:
        name = f"destination namespace {dest.instance}/{ns}"
        try:
            found = self._lookup(dest, ns)
        except AcrSyncError as exc:
            if self._once("ns", dest.instance, ns):
                yield Check(name, WARN, f"cannot read it ({exc}): cross-account destination?")
            return
        if found is None:
            if self._once("ns", dest.instance, ns):
                fix = NAMESPACE_FIX.format(instance=dest.instance, ns=ns)
                yield Check(name, FAIL, f"missing (rule {rule.name}): its tasks would fail", fix)
            return
        if self._once("ns", dest.instance, ns):
            auto = ", auto-create repository on" if found.auto_create_repo else ""
            yield Check(name, PASS, "exists" + auto)
        if _fields(dest.repository):
            yield from self._autocreate(rule, dest, ns, found.auto_create_repo)
        else:
            yield from self._repository(rule, dest, ns, found.auto_create_repo)

    def _autocreate(
        self, rule: CompiledRule, dest: CompiledDestination, ns: str, on: bool
    ) -> Iterator[Check]:
        if not self._once("auto", dest.instance, ns):
            return
        name = f"auto-create repository {dest.instance}/{ns}"
        if on:
            yield Check(name, PASS, "on")
            return
        detail = (
            f"off, and rule {rule.name} names repositories by template {dest.repository.source!r}: "
            "tasks to repositories that do not exist yet will fail"
        )
        yield Check(name, WARN, detail, AUTOCREATE_FIX.format(instance=dest.instance, ns=ns))

    def _repository(
        self, rule: CompiledRule, dest: CompiledDestination, ns: str, auto: bool
    ) -> Iterator[Check]:
        repo = dest.repository.source
        if not self._once("repo", dest.instance, ns, repo):
            return
        name = f"destination repository {dest.instance}/{ns}/{repo}"
        try:
            found = self.deps.registry(dest.region).get_repository(dest.instance, ns, repo)
        except AcrSyncError as exc:
            yield Check(name, WARN, f"cannot read it: {exc}")
            return
        if found is not None:
            yield Check(name, PASS, f"exists ({found.repo_id})")
        elif auto:
            yield Check(name, PASS, "missing; the namespace auto-creates it on the first sync")
        else:
            fix = f"{CONSOLE} → Instances → {dest.instance} → Repository → Create Repository '{ns}/{repo}'"
            yield Check(name, FAIL, f"missing (rule {rule.name}) and auto-create is off", fix)


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
