"""``explain``: for EVERY rule, which clause matched or rejected an image, and what became of each target.

Pure, and built on the same clause functions as ``evaluate`` so the two cannot disagree (a property test
checks that the requested destinations here are exactly what ``evaluate`` returns).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from acrsync.domain.images import DestinationImage, SourceImage, SyncRequest
from acrsync.domain.rules_eval import (
    CompiledRule,
    RuleIndex,
    first_match,
    prerelease_note,
    request_for,
    resolve,
)

REQUESTED = "requested"
REFUSED = "refused"
DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class DestinationVerdict:
    """One destination of a matching rule: requested, refused (why), or a duplicate of an earlier rule's."""

    target: str  # the resolved destination ref, or the template when it did not resolve
    status: str
    reason: str = ""
    request: SyncRequest | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"destination": self.target, "status": self.status, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class RuleVerdict:
    """What one rule decided for one image: ``matched`` and the clause that decided, in words."""

    rule: str
    matched: bool
    reason: str
    destinations: tuple[DestinationVerdict, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able form, for ``acr-sync rules explain --json``."""
        return {
            "rule": self.rule,
            "matched": self.matched,
            "reason": self.reason,
            "destinations": [d.as_dict() for d in self.destinations],
        }

    def as_text(self) -> str:
        """``rule: MATCH|skip — reason`` then one indented line per destination."""
        head = f"{self.rule}: {'MATCH' if self.matched else 'skip'} - {self.reason}"
        lines = [head]
        for d in self.destinations:
            tail = f" ({d.reason})" if d.reason else ""
            lines.append(f"    -> {d.target}: {d.status}{tail}")
        return "\n".join(lines)


def _clause(rule: CompiledRule, image: SourceImage) -> tuple[bool, str]:
    """The deciding clause, in the same order ``rule_selects`` checks them."""
    if rule.instance != image.instance_id:
        return False, f"source instance {image.instance_id} does not match (rule is for {rule.instance})"
    if not rule.enabled:
        return False, "rule is disabled (enabled: false)"
    repo = image.repository
    hit = first_match(rule.repositories, repo)
    if hit is None:
        pats = ", ".join(m.describe() for m in rule.repositories)
        return False, f"repository {repo} matches none of source.repositories [{pats}]"
    ex = first_match(rule.exclude_repositories, repo)
    if ex is not None:
        return False, f"repository {repo} is excluded by exclude_repositories {ex.describe()}"
    return _tag_clause(rule, image, f"repository {repo} matches {hit.describe()}")


def _tag_clause(rule: CompiledRule, image: SourceImage, repo_reason: str) -> tuple[bool, str]:
    tex = first_match(rule.exclude, image.tag)
    if tex is not None:
        return False, f"tag {image.tag} is excluded by tags.exclude {tex.describe()}"
    if not rule.include:
        return True, f"{repo_reason}; tags.include is empty (every tag)"
    tin = first_match(rule.include, image.tag)
    if tin is None:
        pats = ", ".join(m.describe() for m in rule.include)
        note = prerelease_note(rule, image.tag)
        return False, f"tag {image.tag} matches none of tags.include [{pats}]{note}"
    return True, f"{repo_reason}; tag {image.tag} matches {tin.describe()}"


def explain(index: RuleIndex, image: SourceImage) -> list[RuleVerdict]:
    """One verdict per rule in the index (every instance), in rule order. Pure."""
    owner: dict[DestinationImage, str] = {}
    verdicts = []
    for rule in index.rules:
        matched, reason = _clause(rule, image)
        dests: list[DestinationVerdict] = []
        if matched:
            for dest in rule.destinations:
                to, why = resolve(dest, image)
                if to is None:
                    template = (
                        f"{dest.instance}@{dest.region}/{dest.namespace.source}/{dest.repository.source}"
                    )
                    dests.append(DestinationVerdict(f"{template}:{dest.tag.source}", REFUSED, why))
                elif to in owner:
                    dests.append(DestinationVerdict(to.ref, DUPLICATE, f"collapsed into rule {owner[to]}"))
                else:
                    owner[to] = rule.name
                    dests.append(
                        DestinationVerdict(to.ref, REQUESTED, "", request_for(rule, dest, image, to))
                    )
        verdicts.append(RuleVerdict(rule.name, matched, reason, tuple(dests)))
    return verdicts


def requests_of(verdicts: list[RuleVerdict]) -> list[SyncRequest]:
    """The requests an explanation implies: exactly what ``evaluate`` returns for the same image."""
    return [d.request for v in verdicts for d in v.destinations if d.request is not None]
