"""The rules engine's public face: validate a document, compile it, evaluate/explain an image, diff two sets.

```
parsed YAML ──validate_document──► RulesDocument (one JSON-able dict per rule) ──store──► StoredRules
StoredRules.rules ──compile_rules──► RuleIndex ──evaluate(image)──► [SyncRequest]   (hot path, per event)
                                          └─────explain(image)───► [RuleVerdict]   (every rule, which clause)
```
Pure: no I/O, no clock, no environment. The pieces: ``rules_schema``, ``rules_eval``, ``rules_explain``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from acrsync.domain.rules_eval import CompiledRule, RuleIndex, compile_rules, evaluate
from acrsync.domain.rules_explain import DestinationVerdict, RuleVerdict, explain, requests_of
from acrsync.domain.rules_schema import RulesDocument, validate_document

__all__ = [
    "CompiledRule",
    "DestinationVerdict",
    "RuleIndex",
    "RuleVerdict",
    "RulesDiff",
    "RulesDocument",
    "compile_rules",
    "diff",
    "evaluate",
    "explain",
    "requests_of",
    "validate_document",
]


@dataclass(frozen=True, slots=True)
class RulesDiff:
    """What ``rules apply`` would change, by rule name.

    ``kept`` are stored rules absent from the new document that stay because ``prune`` is off;
    ``reordered`` is true when the surviving rules change order (order decides which rule wins a duplicate).
    """

    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: tuple[str, ...]
    kept: tuple[str, ...] = ()
    reordered: bool = False

    @property
    def has_changes(self) -> bool:
        """True if applying would change any rule or the order."""
        return bool(self.added or self.changed or self.removed or self.reordered)

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": list(self.added),
            "changed": list(self.changed),
            "removed": list(self.removed),
            "unchanged": list(self.unchanged),
            "kept": list(self.kept),
            "reordered": self.reordered,
        }


def diff(
    old_rules: Sequence[Mapping[str, Any]], new_rules: Sequence[Mapping[str, Any]], prune: bool
) -> RulesDiff:
    """Compare stored rules with a new document's, by name. Pure."""
    old = {str(r["name"]): r for r in old_rules}
    new = {str(r["name"]): r for r in new_rules}
    added = tuple(n for n in new if n not in old)
    changed = tuple(n for n in new if n in old and _canon(old[n]) != _canon(new[n]))
    unchanged = tuple(n for n in new if n in old and _canon(old[n]) == _canon(new[n]))
    gone = tuple(n for n in old if n not in new)
    # After a write the store holds the new document's rules first, then any kept ones (see RuleStore.write).
    after = [*new, *(() if prune else gone)]
    before_common = [n for n in old if n in after]
    after_common = [n for n in after if n in old]
    return RulesDiff(
        added=added,
        changed=changed,
        removed=gone if prune else (),
        unchanged=unchanged,
        kept=() if prune else gone,
        reordered=before_common != after_common,
    )


def _canon(value: Any) -> Any:
    """Compare rule dicts structurally (tuples from a store equal lists from YAML)."""
    if isinstance(value, Mapping):
        return {str(k): _canon(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canon(v) for v in value]
    return value
