"""Domain values tests build by hand: one place for the fields no test cares about."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from acrsync.domain.ledger import LedgerEntry


def ledger_entry(
    claim_id: str = "c0ffee", *, tag: str = "v1.2.3", at: float = 0.0, **changes: Any
) -> LedgerEntry:
    """A ledger row copying ``team-a/web:<tag>`` from ``cri-src`` (cn-hangzhou) to ``cri-dst`` (cn-shanghai),
    created, updated and due at ``at``; ``changes`` set any other field (``state=``, ``dest_region=`` ...)."""
    entry = LedgerEntry(
        claim_id=claim_id,
        rule="releases",
        source_instance="cri-src",
        source_region="cn-hangzhou",
        source_namespace="team-a",
        source_repo="web",
        source_tag=tag,
        digest="sha256:" + "a" * 64,
        dest_instance="cri-dst",
        dest_region="cn-shanghai",
        dest_namespace="team-a",
        dest_repo="web",
        dest_tag=tag,
        created_at=at,
        updated_at=at,
        next_check_at=at,
    )
    return replace(entry, **changes)
