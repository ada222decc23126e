"""Timer tick -> one slice of the reconciler's pass (desired vs actual state; repair, report, prune).

FC 3.0 calls ``handler(event: bytes, context)``; configured in s.yaml as ``handler.handler``.
"""

from __future__ import annotations

from typing import Any

from acrsync import bootstrap
from acrsync.logging import inject_fc_context
from acrsync.service.reconcile import handle_tick


@inject_fc_context
def handler(event: bytes, context: Any) -> dict[str, Any]:
    """Audit repositories from the cursor on until the pass completes or the deadline nears."""
    with bootstrap.invocation("reconciler", context):
        deps = bootstrap.reconciler_deps(context)
        return handle_tick(event, deps, deadline=bootstrap.deadline(context))
