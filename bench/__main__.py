"""``make bench``: run every ``bench/bench_*.py`` (or those named), then one summary table, then the JSON.

Whatever a benchmark (or the handlers it drives) writes to stdout/stderr — log lines included — is kept
out of the report; it is shown only when that benchmark fails. A benchmark states its targets as a list
``targets`` of ``{"figure", "target", "measured", "met"}`` in its result; the table collects them all.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import sys
import time
from pathlib import Path
from typing import Any


def _run_quietly(name: str) -> tuple[dict[str, Any] | None, str, float]:
    out = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            result: dict[str, Any] = importlib.import_module(f"bench.{name}").run()
        except Exception as exc:  # noqa: BLE001 - report and go on with the other benchmarks
            return None, f"{out.getvalue()[-4000:]}\nFAILED: {type(exc).__name__}: {exc}", 0.0
    return result, "", time.perf_counter() - started


def _table(rows: list[tuple[str, str, str, str]]) -> str:
    head = ("figure", "target", "measured", "met")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    line = "  ".join("{:<%d}" % w for w in widths)  # noqa: UP031 - a format built from widths
    out = [line.format(*head), line.format(*("-" * w for w in widths))]
    out += [line.format(*r) for r in rows]
    return "\n".join(out)


def main(names: list[str]) -> int:
    here = Path(__file__).resolve().parent
    modules = names or sorted(p.stem for p in here.glob("bench_*.py"))
    results: dict[str, Any] = {}
    rows: list[tuple[str, str, str, str]] = []
    failed = 0
    for name in modules:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        result, trouble, seconds = _run_quietly(name)
        if result is None:
            print(f"=== {name} ===\n{trouble}", flush=True)
            failed += 1
            continue
        results[name] = {**result, "seconds": round(seconds, 1)}
        for t in result.get("targets", []):
            met = "met" if t["met"] else "NOT MET"
            rows.append((f"{name}: {t['figure']}", str(t["target"]), str(t["measured"]), met))
    print(_table(rows) if rows else "(no targets reported)")
    print(json.dumps(results, indent=2, sort_keys=True, default=str))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
