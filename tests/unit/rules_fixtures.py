"""Builders for rule documents and images used by the rules tests."""

from __future__ import annotations

import copy
from typing import Any

from acrsync.domain.images import SourceImage
from acrsync.domain.rules import RuleIndex, compile_rules, validate_document

SRC = "cri-src1"


def rule(name: str = "r1", **overrides: Any) -> dict[str, Any]:
    """A valid rule dict (before validation); ``overrides`` replace whole top-level keys."""
    base: dict[str, Any] = {
        "name": name,
        "source": {"instance": SRC, "repositories": ["team-a/*"]},
        "tags": {"include": [], "exclude": []},
        "destinations": [{"instance": "cri-dst1", "region": "cn-shanghai"}],
    }
    base.update(copy.deepcopy(overrides))
    return base


def document(*rules: dict[str, Any], channels: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"version": 1, "channels": channels or {}, "rules": list(rules)}


def index(*rules: dict[str, Any]) -> RuleIndex:
    doc = validate_document(document(*rules))
    return compile_rules(doc.rules, doc.channels)


def image(repository: str = "team-a/web", tag: str = "1.2.3", instance: str = SRC) -> SourceImage:
    ns, repo = repository.split("/", 1)
    return SourceImage(instance, "cn-hangzhou", ns, repo, tag, digest="sha256:" + "a" * 64)
