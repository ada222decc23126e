"""Which ledger rows are copy jobs (``registry:`` destinations) rather than ACR sync tasks. Pure."""

from __future__ import annotations

from acrsync.domain.images import COPY_REGION
from acrsync.domain.ledger import LedgerEntry


def is_copy(entry: LedgerEntry) -> bool:
    """A row served by the copier (a ``registry:`` destination), not by ``CreateRepoSyncTask``."""
    return entry.extra.get("kind") == "copy" or entry.dest_region == COPY_REGION
