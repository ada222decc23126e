"""Compiling validated rules: patterns and templates once, into an index by instance, namespace, repository.

Pure. Each distinct pattern (and each distinct clause list) is compiled once and shared between rules, so
``evaluate`` can decide a shared clause once per event.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from acrsync.domain.patterns import Matcher, PatternError, compile_pattern, split_pattern
from acrsync.errors import RuleConfigError

# `{field}` in destination templates (the schema validates with the same expression).
TEMPLATE_FIELD_RE = re.compile(r"\{([^{}]*)\}")

_WILDCARDS = frozenset("*?[]{}\\")


@dataclass(frozen=True, slots=True)
class Template:
    """A destination name with ``{namespace}`` ``{repo}`` ``{tag}`` fields, split once into parts."""

    source: str
    parts: tuple[tuple[bool, str], ...]  # (is_field, literal text or field name)

    @classmethod
    def parse(cls, text: str) -> Template:
        parts: list[tuple[bool, str]] = []
        pos = 0
        for m in TEMPLATE_FIELD_RE.finditer(text):
            if m.start() > pos:
                parts.append((False, text[pos : m.start()]))
            parts.append((True, m.group(1)))
            pos = m.end()
        if pos < len(text):
            parts.append((False, text[pos:]))
        return cls(text, tuple(parts))

    def render(self, values: Mapping[str, str]) -> str:
        return "".join(values[p] if is_field else p for is_field, p in self.parts)


@dataclass(frozen=True, slots=True)
class CompiledDestination:
    instance: str
    region: str
    namespace: Template
    repository: Template
    tag: Template
    override: bool
    priority: int
    account: str
    registry: str = ""  # a copy destination: ``[http://]HOST[/NAMESPACE]`` instead of an ACR instance
    credentials_env: str = ""
    companions: bool = False
    link: str = ""  # a custom replication link: CreateRepoSyncTaskByRule through a manual sync rule


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """One rule with its patterns and templates compiled; ``order`` is its position in the document."""

    order: int
    name: str
    enabled: bool
    alert: str
    instance: str
    repositories: tuple[Matcher, ...]
    exclude_repositories: tuple[Matcher, ...]
    include: tuple[Matcher, ...]
    exclude: tuple[Matcher, ...]
    include_prerelease: bool
    destinations: tuple[CompiledDestination, ...]
    namespaces: frozenset[str] | None  # literal namespaces of every repository glob, or None for "any"
    literal_repositories: frozenset[str] | None  # when every repository pattern is a plain NAMESPACE/REPO
    # Interned (repositories, exclude_repositories) and (include, exclude): rules that select alike share
    # these tuples, so evaluate decides each combination once per event (keyed by identity).
    repo_selector: tuple[object, ...] = ()
    tag_selector: tuple[object, ...] = ()


@dataclass(frozen=True)
class RuleIndex:
    """Enabled rules by source instance, then namespace (then repository, for rules naming plain ones).

    An event only meets the rules that could match it, so cost does not grow with unrelated rules. Each
    bucket is merged with the wider ones (namespace + any-namespace) at compile time, in rule order.
    """

    rules: tuple[CompiledRule, ...]
    channels: Mapping[str, Mapping[str, Any]]
    by_repository: Mapping[str, Mapping[str, tuple[int, ...]]] = field(default_factory=dict)
    by_namespace: Mapping[str, Mapping[str, tuple[int, ...]]] = field(default_factory=dict)
    any_namespace: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    def candidates(self, instance: str, namespace: str, repository: str = "") -> tuple[int, ...]:
        """Positions of the rules that could match an image there, in rule order."""
        for level, key in ((self.by_repository, repository), (self.by_namespace, namespace)):
            bucket = level.get(instance)
            if bucket is not None:
                hit = bucket.get(key)
                if hit is not None:
                    return hit
        return self.any_namespace.get(instance, ())


def _literal_namespace(pattern: str) -> str | None:
    kind, body = split_pattern(pattern)
    ns, sep, _ = body.partition("/")
    if kind != "glob" or not sep or not ns or _WILDCARDS.intersection(ns):
        return None
    return ns


class _Patterns:
    """Compiles each distinct pattern once: rule sets repeat patterns, and a shared Matcher lets
    ``evaluate`` memoise its result for the event instead of re-matching it rule after rule."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, bool], Matcher] = {}
        self._lists: dict[tuple[tuple[str, ...], bool], tuple[Matcher, ...]] = {}
        self._selectors: dict[tuple[int, ...], tuple[object, ...]] = {}

    def many(self, texts: Sequence[str], include_prerelease: bool = False) -> tuple[Matcher, ...]:
        """One shared tuple per distinct pattern list, so ``evaluate`` can memoise a whole clause."""
        key = (tuple(texts), include_prerelease)
        hit = self._lists.get(key)
        if hit is None:
            hit = self._lists[key] = tuple(self(t, include_prerelease) for t in texts)
        return hit

    def selector(self, *clauses: tuple[Matcher, ...]) -> tuple[object, ...]:
        """One shared tuple per distinct combination of clause tuples (rules that select alike)."""
        key = tuple(id(c) for c in clauses)
        hit = self._selectors.get(key)
        if hit is None:
            hit = self._selectors[key] = tuple(clauses)
        return hit

    def __call__(self, text: str, include_prerelease: bool = False) -> Matcher:
        # The prerelease flag only changes semver matchers; keep one glob/regex matcher for both.
        key = (text, include_prerelease and split_pattern(text)[0] == "semver")
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = compile_pattern(text, include_prerelease=key[1])
        return hit


def _literal_repositories(patterns: Sequence[str]) -> frozenset[str] | None:
    """``{"team-a/web"}`` when every pattern is a plain ``NAMESPACE/REPO`` glob (prefix stripped), or None."""
    bodies = []
    for p in patterns:
        kind, body = split_pattern(p)
        if kind != "glob" or _literal_namespace(p) is None or _WILDCARDS.intersection(body):
            return None
        bodies.append(body)
    return frozenset(bodies)


def _compile_destination(d: Mapping[str, Any]) -> CompiledDestination:
    return CompiledDestination(
        instance=str(d.get("instance") or ""),
        region=str(d.get("region") or ""),
        namespace=Template.parse(d.get("namespace", "{namespace}")),
        repository=Template.parse(d.get("repository", "{repo}")),
        tag=Template.parse(d.get("tag", "{tag}")),
        override=bool(d.get("override", False)),
        priority=int(d.get("priority", 3)),
        account=str(d.get("account") or ""),
        registry=str(d.get("registry") or ""),
        credentials_env=str(d.get("credentials_env") or ""),
        companions=bool(d.get("companions", bool(d.get("registry")))),
        link=str(d.get("link") or ""),
    )


def _compile_rule(order: int, rule: Mapping[str, Any], compile_pattern: _Patterns) -> CompiledRule:
    src, tags = rule["source"], rule["tags"]
    pre = bool(tags.get("include_prerelease", False))
    literal = [_literal_namespace(p) for p in src["repositories"]]
    repositories = compile_pattern.many(src["repositories"])
    exclude_repositories = compile_pattern.many(src.get("exclude_repositories", []))
    include = compile_pattern.many(tags.get("include", []), pre)
    # An exclude is a safety net, so a semver exclude also catches prereleases inside its range.
    exclude = compile_pattern.many(tags.get("exclude", []), True)
    return CompiledRule(
        order=order,
        name=str(rule["name"]),
        enabled=bool(rule.get("enabled", True)),
        alert=str(rule.get("alert") or ""),
        instance=str(src["instance"]),
        repositories=repositories,
        exclude_repositories=exclude_repositories,
        include=include,
        exclude=exclude,
        repo_selector=compile_pattern.selector(repositories, exclude_repositories),
        tag_selector=compile_pattern.selector(include, exclude),
        include_prerelease=pre,
        destinations=tuple(_compile_destination(d) for d in rule["destinations"]),
        namespaces=None if None in literal else frozenset(n for n in literal if n is not None),
        literal_repositories=_literal_repositories(src["repositories"]),
    )


def compile_rules(rules: Sequence[Mapping[str, Any]], channels: Mapping[str, Mapping[str, Any]]) -> RuleIndex:
    """Compile validated rule dicts (as stored) into a ``RuleIndex``; ``RuleConfigError`` if one cannot."""
    compiled: list[CompiledRule] = []
    errors: list[str] = []
    patterns = _Patterns()
    for i, rule in enumerate(rules):
        try:
            compiled.append(_compile_rule(i, rule, patterns))
        except (PatternError, KeyError, TypeError, ValueError) as exc:
            errors.append(f"rules[{i}]: cannot compile: {exc}")
    if errors:
        raise RuleConfigError(errors)
    return _build_index(tuple(compiled), channels)


def _build_index(compiled: tuple[CompiledRule, ...], channels: Mapping[str, Mapping[str, Any]]) -> RuleIndex:
    any_ns: dict[str, list[int]] = {}
    by_ns: dict[str, dict[str, list[int]]] = {}
    by_repo: dict[str, dict[str, list[int]]] = {}
    for cr in compiled:
        if not cr.enabled:
            continue  # never a candidate; explain still walks every rule
        if cr.literal_repositories is not None:
            for repo in cr.literal_repositories:
                by_repo.setdefault(cr.instance, {}).setdefault(repo, []).append(cr.order)
        elif cr.namespaces is None:
            any_ns.setdefault(cr.instance, []).append(cr.order)
        else:
            for ns in cr.namespaces:
                by_ns.setdefault(cr.instance, {}).setdefault(ns, []).append(cr.order)
    # Merge every bucket with the wider ones once here, not per event.
    merged_ns = {
        inst: {ns: tuple(sorted({*orders, *any_ns.get(inst, [])})) for ns, orders in ns_map.items()}
        for inst, ns_map in by_ns.items()
    }
    merged_repo = {
        inst: {
            repo: tuple(
                sorted({*orders, *by_ns.get(inst, {}).get(repo.split("/", 1)[0], []), *any_ns.get(inst, [])})
            )
            for repo, orders in repo_map.items()
        }
        for inst, repo_map in by_repo.items()
    }
    return RuleIndex(
        rules=compiled,
        channels=channels,
        by_repository=merged_repo,
        by_namespace=merged_ns,
        any_namespace={inst: tuple(orders) for inst, orders in any_ns.items()},
    )
