"""acs.cr SynchronizationCompleted + timer sweep -> verify, retry, alert.

FC 3.0 calls ``handler(event: bytes, context)``; configured in s.yaml as ``handler.handler``.
"""

from __future__ import annotations

from typing import Any

from acrsync import bootstrap
from acrsync.logging import inject_fc_context
from acrsync.service.watch import handle_watch


@inject_fc_context
def handler(event: bytes, context: Any) -> dict[str, Any]:
    """Handle a completion event or a timer tick; raise only what FC should retry."""
    with bootstrap.invocation("watcher", context):
        deps = bootstrap.watcher_deps(context)
        return handle_watch(event, deps, deadline=bootstrap.deadline(context)).as_response()
