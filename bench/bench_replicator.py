"""Replicator benchmark: per-event time through the handler, calls per event, cold start, peak RSS.

- Per event: ``handler(bytes, context)`` against the ACR emulator (real SDK, loopback) and SQLite, over
  events that each match D destinations; counts ACR calls and store round trips per event.
  Targets: exactly D ``CreateRepoSyncTask``; at most 2D+1 store round trips; rule reads <= 0.05 per event.
- Cold start: a fresh process that imports the handler and handles one event, as a ratio to a fresh
  process that only imports the SDK modules this configuration needs (target <= 1.3x). Both in this run.
- Peak RSS of the handler process (target: within FC's 128 MB).

Run: ``make bench`` or ``.venv/bin/python -m bench bench_replicator``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from acrsync import bootstrap
from acrsync.adapters.sqlite_store import SqliteLedger
from acrsync.local import fc
from acrsync.local.stack import LocalCloud, seed_events
from acrsync.service import rules_admin

ROOT = Path(__file__).resolve().parent.parent
N_EVENTS = 200
COLD_RUNS = 5

BASELINE = "import alibabacloud_cr20181201.client, alibabacloud_tea_openapi.utils_models, sqlite3, json"
# The function packages ship without the CLI's typer/click/rich (see `make build`); hide them here too,
# or structlog would import rich for its console renderer and the figure would not be FC's.
HANDLER = """
import sys
for cli_only in ('rich', 'typer', 'click'):
    sys.modules[cli_only] = None
import json, os, resource, types
sys.path.insert(0, sys.argv[2])  # as FC: the code directory holds handler.py
import handler
function = types.SimpleNamespace(name='acr-sync-replicator', timeout=60)
context = types.SimpleNamespace(request_id='cold', function=function, region='', account_id='')
response = handler.handler(open(sys.argv[1], 'rb').read(), context)
assert response['status'] == 'ok', response
print(json.dumps({'rss_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  'sdk_loaded': 'alibabacloud_cr20181201.client' in sys.modules,
                  'tablestore_loaded': 'tablestore' in sys.modules}))
"""


def _event(i: int) -> bytes:
    doc = json.loads((ROOT / "events" / "acs.cr" / "push_completed.json").read_text())
    doc["id"] = f"bench-{i}"
    doc["data"].update({"Tag": f"v1.{i}.0", "Digest": "sha256:" + f"{i:064x}"})
    return json.dumps(doc).encode()


def _per_event(cloud: LocalCloud, env: dict[str, str]) -> dict[str, Any]:
    for i in range(N_EVENTS):
        cloud.model.push("cri-demo-src", "team-a", "web", f"v1.{i}.0", "sha256:" + f"{i:064x}")
    stores = bootstrap.stores()
    ledger = stores.ledger
    assert isinstance(ledger, SqliteLedger)
    cloud.model.push("cri-demo-src", "team-a", "web", "v1.10000.0", "sha256:" + f"{10_000:064x}")
    fc.invoke("replicator", _event(10_000), env)  # warm: clients built, rules compiled
    calls_before = len(cloud.model.requests)
    db_before = ledger.db.calls
    rules = bootstrap.rules_cache()
    reads_before = rules.version_reads + rules.full_reads
    times = []
    for i in range(N_EVENTS):
        event = _event(i)
        t0 = time.perf_counter()
        response = fc.invoke("replicator", event, env)
        times.append(time.perf_counter() - t0)
        assert response["status"] == "ok"
    new = cloud.model.requests[calls_before:]
    creates = sum(1 for r in new if r.action == "CreateRepoSyncTask" and r.outcome == "ok")
    destinations = 2  # team-a-releases: Shanghai + Beijing
    store_trips = (ledger.db.calls - db_before) / N_EVENTS
    rule_reads = (rules.version_reads + rules.full_reads - reads_before) / N_EVENTS
    return {
        "events": N_EVENTS,
        "destinations_per_event": destinations,
        "handler_ms_p50": round(statistics.median(times) * 1000, 2),
        "handler_ms_p99": round(sorted(times)[int(len(times) * 0.99) - 1] * 1000, 2),
        "create_repo_sync_task_per_event": creates / N_EVENTS,
        "other_acr_calls_per_event": (len(new) - creates) / N_EVENTS,
        "store_round_trips_per_event": store_trips,
        "store_round_trips_target": 2 * destinations + 1,
        "rule_reads_per_event": rule_reads,
        "targets_met": creates == destinations * N_EVENTS
        and store_trips <= 2 * destinations + 1
        and rule_reads <= 0.05,
    }


def _timed(args: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run(
        args, capture_output=True, text=True, check=False, env={**os.environ, **(env or {})}
    )
    if done.returncode:
        raise RuntimeError(f"{args[:2]} failed: {done.stderr[-2000:]}")
    return time.perf_counter() - t0, done.stdout


def _apply_rules(env: dict[str, str]) -> None:
    bootstrap.reset(env)
    doc = rules_admin.validate_file(ROOT / "examples" / "rules.yaml")
    rules_admin.apply(bootstrap.stores().rules, doc, prune=True, dry_run=False, now=time.time())
    bootstrap.reset()


def _cold_start(cloud_env: dict[str, str], cloud: LocalCloud, workdir: Path) -> dict[str, Any]:
    event_file = workdir / "event.json"
    event_file.write_bytes(_event(20_000))
    cloud.model.push("cri-demo-src", "team-a", "web", "v1.20000.0", "sha256:" + f"{20_000:064x}")
    baseline, handler, rss = [], [], []
    for run in range(COLD_RUNS):
        env = {**cloud_env, "ACRSYNC_STORE": f"sqlite:///{workdir / f'cold-{run}.db'}"}
        _apply_rules(env)  # rules applied, no claims: every run submits for real
        baseline.append(_timed([sys.executable, "-c", BASELINE])[0])
        code_dir = str(ROOT / "functions" / "replicator")
        elapsed, out = _timed([sys.executable, "-c", HANDLER, str(event_file), code_dir], env)
        handler.append(elapsed)
        facts = json.loads(out.strip().splitlines()[-1])
        if not facts["sdk_loaded"] or facts["tablestore_loaded"]:
            raise RuntimeError(f"cold-start run did not exercise the configured path: {facts}")
        rss.append(facts["rss_kb"] / 1024)
    b, h = statistics.median(baseline), statistics.median(handler)
    return {
        "cold_baseline_sdk_import_s": round(b, 3),
        "cold_handler_one_event_s": round(h, 3),
        "cold_start_ratio": round(h / b, 2),
        "cold_start_target": 1.3,
        "peak_rss_mb": round(max(rss), 1),
        "peak_rss_target_mb": 128,
    }


def run() -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="acrsync-bench-") as tmp,
        LocalCloud(Path(tmp) / "cloud") as cloud,
    ):
        seed_events(cloud.model, ROOT / "events")
        # A high API budget: this measures the handler's own cost (the budget is exercised by the tests).
        cloud_env = {**cloud.env, "ACRSYNC_ACR_QPS": "1000"}
        cold = _cold_start(cloud_env, cloud, Path(tmp))
        _apply_rules(cloud_env)
        bootstrap.reset(cloud_env)
        result = _per_event(cloud, cloud_env)
        bootstrap.reset()
    return {**result, **cold}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
