"""``doctor``'s destination rows: namespaces, auto-create-repository, literal repositories.

Each (instance, namespace[, repository]) is reported once however many rules lead to it; a failing call is
that destination's FAIL row (``guarded``), the other destinations are still checked.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from functools import partial

from acrsync.domain.registry import Namespace
from acrsync.domain.rules import CompiledRule
from acrsync.domain.rules_eval import CompiledDestination, Template, first_match
from acrsync.errors import AcrSyncError
from acrsync.ports import RegistryApi
from acrsync.service.doctor_guard import FAIL, PASS, WARN, Check, describe, failure, guarded

CONSOLE = "https://cr.console.aliyun.com"
NAMESPACE_FIX = f"{CONSOLE} → Instances → {{instance}} → Repository → Namespace → Create Namespace '{{ns}}'"
AUTOCREATE_FIX = (
    f"{CONSOLE} → Instances → {{instance}} → Repository → Namespace → '{{ns}}' → Edit → "
    "turn on 'Automatically Create Repository' (or create each destination repository)"
)
MAX_SOURCE_REPOS = 5000  # namespaces of "**" rules are read from at most this many source repositories


def _fields(template: Template) -> set[str]:
    return {part for is_field, part in template.parts if is_field}


class DestinationChecks:
    """Namespace / auto-create / repository checks; each (instance, namespace[, repo]) is reported once."""

    def __init__(self, registry: Callable[[str], RegistryApi], region: str) -> None:
        self.registry = registry
        self.region = region
        self.seen: set[tuple[str, ...]] = set()
        self.namespaces: dict[tuple[str, str], Namespace | None] = {}
        self.source_repos: dict[str, list[str]] = {}

    def checks(self, enabled: list[CompiledRule]) -> Iterator[Check]:
        """Every destination's rows; a failing call is that destination's FAIL row, the others go on."""
        for rule in enabled:
            for dest in rule.destinations:
                if dest.registry:  # a copy destination: no ACR namespace (doctor_registries checks it)
                    continue
                name = f"destination namespace {dest.instance}"
                yield from guarded(name, f"rule {rule.name}", partial(self._destination, rule, dest))

    def _destination(self, rule: CompiledRule, dest: CompiledDestination) -> Iterator[Check]:
        namespaces = self._dest_namespaces(rule, dest)
        if namespaces is None:
            detail = f"rule {rule.name}: namespace {dest.namespace.source!r} depends on repo/tag"
            yield Check(f"destination namespace {dest.instance}", WARN, detail + "; not checked")
            return
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
            repos = self.registry(self.region).list_repositories(rule.instance)
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
            self.namespaces[key] = self.registry(dest.region).get_namespace(dest.instance, ns)
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
                yield _unreadable(name, dest, exc)
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
            found = self.registry(dest.region).get_repository(dest.instance, ns, repo)
        except AcrSyncError as exc:
            yield _unreadable(name, dest, exc)
            return
        if found is not None:
            yield Check(name, PASS, f"exists ({found.repo_id})")
        elif auto:
            yield Check(name, PASS, "missing; the namespace auto-creates it on the first sync")
        else:
            fix = f"{CONSOLE} → Instances → {dest.instance} → Repository → Create Repository '{ns}/{repo}'"
            yield Check(name, FAIL, f"missing (rule {rule.name}) and auto-create is off", fix)


def _unreadable(name: str, dest: CompiledDestination, exc: AcrSyncError) -> Check:
    """Another account's registry is not readable with ours (WARN); our own must be (FAIL, with the fix)."""
    if dest.account:
        return Check(name, WARN, f"cross-account destination ({dest.account}), not readable: {describe(exc)}")
    return failure(name, "", exc)
