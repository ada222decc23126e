"""The reconciler's referrer step: what following late OCI referrers costs per pass.

N images replicated to a copy destination (Harbor stand-in) and two ACR destinations (one with companions
on), each then signed with a tagless OCI 1.1 referrer; the reconciler passes twice, over loopback.

- Registry calls per recent image on a pass with nothing missing (target: 1 at the source + 1 per
  destination with companions on = 3), counted in the stand-ins' request logs.
- Requests that write (blob uploads, manifest PUTs) on that repeated pass (target: 0), and ledger rows
  rewritten (target: 0).
- The first pass copies every referrer (target: 2 per image: Harbor and Shanghai, none to Beijing).

Run: ``make bench`` or ``.venv/bin/python -m bench bench_referrers``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from acrsync.local.referrers_world import ReferrersWorld, referrers_world
from acrsync.service.clock import ManualClock

N_IMAGES = 20
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def _pass(world: ReferrersWorld) -> dict[str, Any]:
    marks = {name: len(reg.state.log) for name, reg in world.regs.items()}
    revisions = {r.claim_id: r.revision for r in world.rows()}
    started = time.perf_counter()
    response = world.reconcile()
    seconds = time.perf_counter() - started
    logs = {name: reg.state.log[marks[name] :] for name, reg in world.regs.items()}
    return {
        "seconds": round(seconds, 3),
        "referrers": response["referrers"],
        "requests": sum(len(entries) for entries in logs.values()),
        "requests_by_registry": {name: len(entries) for name, entries in logs.items()},
        "writes": sum(1 for entries in logs.values() for e in entries if e.method in WRITES),
        "rows_rewritten": sum(1 for r in world.rows() if revisions.get(r.claim_id, r.revision) != r.revision),
    }


def run() -> dict[str, Any]:
    """Replicate and sign N images, then two reconciler passes; the figures of both."""
    with tempfile.TemporaryDirectory() as tmp, referrers_world(Path(tmp), ManualClock(time.time())) as world:
        for i in range(N_IMAGES):
            world.sign(world.replicate(f"v4.{i}.0"))
        first, second = _pass(world), _pass(world)
    per_image = second["requests"] / N_IMAGES
    copied = first["referrers"].get("copied", 0)
    return {
        "images": N_IMAGES,
        "first_pass": first,
        "repeated_pass": second,
        "targets": [
            {
                "figure": "referrers copied, first pass",
                "target": 2 * N_IMAGES,
                "measured": copied,
                "met": copied == 2 * N_IMAGES,
            },
            {
                "figure": "registry calls per recent image, repeated pass",
                "target": 3.0,
                "measured": round(per_image, 2),
                "met": per_image <= 3.0,
            },
            {
                "figure": "writes to any registry, repeated pass",
                "target": 0,
                "measured": second["writes"],
                "met": second["writes"] == 0,
            },
            {
                "figure": "ledger rows rewritten, repeated pass",
                "target": 0,
                "measured": second["rows_rewritten"],
                "met": second["rows_rewritten"] == 0,
            },
        ],
    }
