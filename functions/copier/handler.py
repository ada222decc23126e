"""One copy job ``{"claim_id": ...}`` -> copy the ledger row's image to its registry, verify, record.

Invoked asynchronously by the replicator (and the watcher's re-launches) through FC ``InvokeFunction``;
long timeout in s.yaml. A failed copy is recorded on the row (``retrying``/``failed``) and returns
normally: the watcher, not FC's async retry, owns retries, so attempts stay bounded and alerted.
"""

from __future__ import annotations

from typing import Any

from acrsync import bootstrap
from acrsync.logging import inject_fc_context


@inject_fc_context
def handler(event: bytes, context: Any) -> dict[str, Any]:
    """Run one copy job."""
    with bootstrap.invocation("copier", context):
        return bootstrap.copier_handle(event, context)
