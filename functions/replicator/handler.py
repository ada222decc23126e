"""acs.cr PushCompleted -> evaluate rules -> one CreateRepoSyncTask per matched destination.

FC 3.0 calls ``handler(event: bytes, context)``; configured in s.yaml as ``handler.handler``.
"""

from __future__ import annotations

from typing import Any

from acrsync import bootstrap
from acrsync.logging import inject_fc_context
from acrsync.service.replicate import handle_push


@inject_fc_context
def handler(event: bytes, context: Any) -> dict[str, Any]:
    """Handle one EventBridge delivery; raise only what FC should retry."""
    with bootstrap.invocation("replicator", context):
        deps = bootstrap.replicator_deps(context)
        return handle_push(event, deps, deadline=bootstrap.deadline(context)).as_response()
