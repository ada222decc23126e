"""Outcome events: what they cost.

- Cold start of the replicator with ``ACRSYNC_EVENT_BUS`` set, as a ratio to the same run with it unset
  (target: unchanged, ratio ~1.0): the replicator only fills the outbox; the EventBridge SDK is imported by
  the watcher's publisher alone, and each run checks that the replicator never imported it.
- Events per replication and ``PutEvents`` calls: N replications each reaching one outcome, published over
  the real SDK to the loopback bus (targets: exactly 1 event per outcome, ceil(N/16) calls).

Run: ``make bench`` or ``.venv/bin/python -m bench bench_outcomes``.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from acrsync.adapters.eventbridge import EventBridgeBus, build_eventbridge_client
from acrsync.adapters.memory import MemoryLedger
from acrsync.domain.ledger import LedgerEntry, State
from acrsync.local.stack import EVENT_BUS, LocalCloud, seed_events
from acrsync.service.clock import ManualClock
from acrsync.service.outcomes import OutboxLedger, publish_outcomes
from bench.bench_replicator import HANDLER, ROOT, _apply_rules, _event, _timed

COLD_RUNS = 7
N_REPLICATIONS = 100
HANDLER_EB = HANDLER.replace(
    "'tablestore_loaded': 'tablestore' in sys.modules",
    "'tablestore_loaded': 'tablestore' in sys.modules, "
    "'eventbridge_loaded': 'alibabacloud_eventbridge20200401.client' in sys.modules",
)


def _cold(cloud: LocalCloud, workdir: Path) -> dict[str, Any]:
    event_file = workdir / "event.json"
    times: dict[str, list[float]] = {"unset": [], "set": []}
    for run in range(COLD_RUNS):
        for mode in ("unset", "set"):  # interleaved, so machine noise hits both alike
            tag = f"v1.{30_000 + 2 * run + (mode == 'set')}.0"
            digest = "sha256:" + f"{30_000 + 2 * run + (mode == 'set'):064x}"
            doc = json.loads(_event(0))
            doc["data"].update({"Tag": tag, "Digest": digest})
            event_file.write_text(json.dumps(doc))
            cloud.model.push("cri-demo-src", "team-a", "web", tag, digest)
            env = {
                **cloud.env,
                "ACRSYNC_ACR_QPS": "1000",
                "ACRSYNC_STORE": f"sqlite:///{workdir / f'{mode}-{run}.db'}",
            }
            if mode == "set":
                env["ACRSYNC_EVENT_BUS"] = EVENT_BUS
            _apply_rules(env)
            code_dir = str(ROOT / "functions" / "replicator")
            elapsed, out, _cpu = _timed([sys.executable, "-c", HANDLER_EB, str(event_file), code_dir], env)
            facts = json.loads(out.strip().splitlines()[-1])
            if facts["eventbridge_loaded"]:
                raise RuntimeError("the replicator imported the EventBridge SDK")
            times[mode].append(elapsed)
    unset, with_bus = statistics.median(times["unset"]), statistics.median(times["set"])
    return {
        "cold_replicator_bus_unset_s": round(unset, 3),
        "cold_replicator_bus_set_s": round(with_bus, 3),
        "cold_start_ratio_bus_set_vs_unset": round(with_bus / unset, 2),
        "eventbridge_sdk_imported_by_replicator": False,
    }


def _row(n: int) -> LedgerEntry:
    return LedgerEntry(
        claim_id=f"{n:032x}",
        rule="bench",
        source_instance="cri-src",
        source_region="cn-hangzhou",
        source_namespace="ns",
        source_repo="repo",
        source_tag=f"v{n}",
        digest="sha256:" + "0" * 64,
        dest_instance="cri-dst",
        dest_region="cn-shanghai",
        dest_namespace="ns",
        dest_repo="repo",
        dest_tag=f"v{n}",
    )


def _per_replication(cloud: LocalCloud) -> dict[str, Any]:
    clock = ManualClock(start=time.time())
    ledger = OutboxLedger(MemoryLedger())
    for n in range(N_REPLICATIONS):
        entry = _row(n)
        ledger.claim(entry)
        moved = entry.moved_to(State.SUBMITTED, clock.now())
        ledger.update(moved, expected_revision=entry.revision)
        final = moved.moved_to(State.FAILED if n % 4 == 0 else State.SUCCEEDED, clock.now())
        ledger.update(final, expected_revision=moved.revision)
        if final.state is State.SUCCEEDED:
            done = final.moved_to(State.VERIFIED, clock.now())
            ledger.update(done, expected_revision=final.revision)
    standin = cloud.eventbridge
    bus = EventBridgeBus(
        build_eventbridge_client(
            "cn-hangzhou",
            standin.url,
            access_key_id=standin.access_key_id,
            access_key_secret=standin.access_key_secret,
        )
    )
    before = len(standin.requests)
    started = time.perf_counter()
    sent = publish_outcomes(ledger, bus, EVENT_BUS, clock, deadline=clock.monotonic() + 600)
    elapsed = time.perf_counter() - started
    again = publish_outcomes(ledger, bus, EVENT_BUS, clock, deadline=clock.monotonic() + 600)
    calls = len(standin.requests) - before
    return {
        "replications": N_REPLICATIONS,
        "events_published": sent,
        "events_per_replication": round(sent / N_REPLICATIONS, 2),
        "events_sent_again_on_next_tick": again,
        "put_events_calls": calls,
        "put_events_calls_target": math.ceil(N_REPLICATIONS / 16),
        "publish_ms_per_event": round(elapsed * 1000 / max(sent, 1), 2),
    }


def run() -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="acrsync-bench-") as tmp,
        LocalCloud(Path(tmp) / "cloud") as cloud,
    ):
        seed_events(cloud.model, ROOT / "events")
        return {**_per_replication(cloud), **_cold(cloud, Path(tmp))}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
