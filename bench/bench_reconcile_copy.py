"""The reconciler at a copy destination (``registry:``, a Harbor stand-in): what a pass costs when in sync.

N images pushed at the source with their events lost; one pass repairs them (copied to Harbor); two days
later (older than the referrer window), ``RECHECK_SHARES`` quiet passes run, counted in Harbor's request log.

- Registry requests per quiet pass for the destination repository (target: ⌈N/100⌉ tag-list pages + about
  N/``RECHECK_SHARES`` ``HEAD``s, against ⌈N/100⌉ + N if every tag were read each pass: ratio ≤ 0.2).
- Writes at Harbor on the quiet passes (target: 0).
- Coverage: distinct tags read (``HEAD``) over ``RECHECK_SHARES`` consecutive passes (target: all N), so a
  tag overwritten behind acr-sync's back is found within that many passes.

Run: ``make bench`` or ``.venv/bin/python -m bench bench_reconcile_copy``.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path
from typing import Any

from acrsync.local.oci_images import put_index
from acrsync.local.referrers_world import REPO, referrers_world
from acrsync.local.stack import SOURCE
from acrsync.service.clock import ManualClock
from acrsync.service.reconcile_copy import RECHECK_SHARES

N_TAGS = 200
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def run() -> dict[str, Any]:
    """Repair N lost pushes, then ``RECHECK_SHARES`` quiet passes; their Harbor requests."""
    with tempfile.TemporaryDirectory() as tmp, referrers_world(Path(tmp), ManualClock(time.time())) as world:
        for n in range(N_TAGS):
            index = put_index(world.regs["source"].state, REPO, f"v9.{n}.0", layer_sizes=(500 + n,))
            world.cloud.model.push(SOURCE[0], "team-a", "web", f"v9.{n}.0", index.digest)
        started = time.perf_counter()
        repair = world.reconcile()
        repair_s = time.perf_counter() - started
        world.clock.advance(2 * 86400)
        log = world.regs["harbor"].state.log
        requests: list[int] = []
        writes, heads = 0, set[str]()
        for _ in range(RECHECK_SHARES):
            mark = len(log)
            world.reconcile()
            asked = log[mark:]
            requests.append(len(asked))
            writes += sum(1 for e in asked if e.method in WRITES)
            heads.update(e.path for e in asked if e.method == "HEAD")
    pages = math.ceil(N_TAGS / 100)
    mean = sum(requests) / len(requests)
    ratio = mean / (pages + N_TAGS)
    return {
        "tags": N_TAGS,
        "repair_pass": {"seconds": round(repair_s, 2), "copy_destinations": repair["copy_destinations"]},
        "quiet_pass_requests": requests,
        "targets": [
            {
                "figure": f"Harbor requests per quiet pass, {N_TAGS} tags (÷ {pages + N_TAGS}, HEAD per tag)",
                "target": "<= 0.2",
                "measured": f"{mean:.1f} ({ratio:.3f})",
                "met": ratio <= 0.2,
            },
            {"figure": "writes at Harbor, quiet passes", "target": 0, "measured": writes, "met": writes == 0},
            {
                "figure": f"distinct tags read over {RECHECK_SHARES} passes",
                "target": N_TAGS,
                "measured": len(heads),
                "met": len(heads) == N_TAGS,
            },
        ],
    }
