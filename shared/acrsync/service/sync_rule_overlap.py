"""The doctor's ACR check: built-in automatic sync rules that replicate what an acr-sync rule replicates.

ACR's own instance replication (``ListRepoSyncRule``) with ``SyncTrigger`` PASSIVE creates a task on every
push it covers; if an acr-sync rule sends the same repository to the same instance, every push makes two
tasks, possibly with different ``Override``. Scopes: REPO (one repository), NAMESPACE (a namespace, filtered
by ``RepoNameFilter``), INSTANCE (everything): the last two are reported conservatively (filters aside).

Also the instance's event-notification rules (``ListEventCenterRuleName``): whether ACR needs one with the
EventBridge channel for push events to reach EventBridge is not documented (deploy/README.md §3b), and the
list call shows names only, so having none is a WARN with the console path, not a FAIL.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from acrsync.domain.deployment import UNRESOLVED
from acrsync.domain.rules_compile import CompiledRule
from acrsync.domain.rules_eval import first_match
from acrsync.errors import AcrSyncError, RetryableError
from acrsync.service.doctor import PASS, WARN, Check
from acrsync.service.doctor_guard import DENIED_PREFIXES

if TYPE_CHECKING:
    from acrsync.service.deployed_doctor import DeployedDeps


def overlaps(deps: DeployedDeps) -> Iterator[Check]:
    rules = [r for r in deps.acr_rules() if r.enabled]
    instances = source_instances(deps, rules)
    for instance in instances:
        name = f"built-in sync rules {instance}"
        try:
            builtin = deps.sync_rules.list_repo_sync_rules(instance)
        except AcrSyncError as exc:
            yield Check(name, WARN, str(exc), unchecked_fix(exc, "cr:ListSyncRule"))
            continue
        clashes = sorted(
            {c for b in builtin for c in _clashes(b, [r for r in rules if r.instance == instance])}
        )
        if clashes:
            fix = "delete or narrow the built-in rule (ACR console → Instance → Repository Sync) or the rule"
            yield Check(name, WARN, "every push would create two tasks: " + "; ".join(clashes), fix)
        else:
            passive = sum(b.get("SyncTrigger") == "PASSIVE" for b in builtin)
            yield Check(name, PASS, f"{len(builtin)} rule(s), {passive} automatic; none overlaps acr-sync's")
    yield from event_notifications(deps, instances)


def unchecked_fix(exc: AcrSyncError, action: str) -> str:
    """What to do when an instance could not be read: by the error's code, not one guess for every error."""
    code = str(getattr(exc, "code", "") or "")
    if code.startswith(DENIED_PREFIXES):
        return f"not checked: grant {action} on the instance to check it"
    if code == "INSTANCE_NOT_EXIST":
        return (
            "not checked: no such instance in this region — check the instance id (s.yaml vars, the rules' "
            "source.instance) and ACRSYNC_REGION"
        )
    if isinstance(exc, RetryableError):
        return "not checked (transient): run `acr-sync doctor --deployed` again"
    return "not checked: see the detail"


def _clashes(builtin: Mapping[str, Any], rules: Sequence[CompiledRule]) -> Iterator[str]:
    """acr-sync rules that replicate what an automatic built-in rule replicates to the same instance."""
    if builtin.get("SyncTrigger") != "PASSIVE" or builtin.get("SyncDirection", "FROM") != "FROM":
        return
    scope = builtin.get("SyncScope")
    ns, repo = str(builtin.get("LocalNamespaceName") or ""), str(builtin.get("LocalRepoName") or "")
    target = (builtin.get("TargetInstanceId"), builtin.get("TargetRegionId"))
    for rule in rules:
        if not any((d.instance, d.region) == target for d in rule.destinations):
            continue
        if scope == "REPO":
            path = f"{ns}/{repo}"
            covered = bool(first_match(rule.repositories, path)) and not first_match(
                rule.exclude_repositories, path
            )
        elif scope == "NAMESPACE":
            covered = rule.namespaces is None or ns in rule.namespaces
        else:
            covered = True  # INSTANCE scope: every repository (filters aside) may be covered
        if covered:
            where = f"{ns}/{repo}" if scope == "REPO" else (ns or "the whole instance")
            yield f"{builtin.get('SyncRuleId')} ({scope} {where} → {target[0]}) and rule {rule.name}"


def event_notifications(deps: DeployedDeps, instances: Sequence[str]) -> Iterator[Check]:
    """One check per source instance: its ACR event-notification rules, by name."""
    for instance in instances:
        name = f"event notification {instance}"
        try:
            rules = deps.sync_rules.list_event_center_rules(instance)
        except AcrSyncError as exc:
            yield Check(name, WARN, str(exc), unchecked_fix(exc, "cr:ListEventCenterRuleName"))
            continue
        if rules:
            yield Check(name, PASS, f"{len(rules)} rule(s): {', '.join(rules[:5])}")
        else:
            fix = (
                "if pushes do not show in EventBridge's event query, add one: ACR console → Instance → "
                "Event Notification → Create Rule, channel EventBridge"
            )
            yield Check(name, WARN, "no event-notification rule on this instance", fix)


def source_instances(deps: DeployedDeps, rules: Sequence[CompiledRule]) -> list[str]:
    """The instances whose pushes acr-sync handles: s.yaml's and the enabled rules'."""
    return sorted({*deps.source_instances, *(r.instance for r in rules)} - {"", UNRESOLVED})
