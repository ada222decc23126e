"""``make bench``: run every ``bench/bench_*.py`` (or those named on the command line) and print results."""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path


def main(names: list[str]) -> int:
    here = Path(__file__).resolve().parent
    modules = names or sorted(p.stem for p in here.glob("bench_*.py"))
    failed = 0
    for name in modules:
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        try:
            result = importlib.import_module(f"bench.{name}").run()
        except Exception as exc:  # noqa: BLE001 - report and go on with the other benchmarks
            print(f"FAILED: {type(exc).__name__}: {exc}")
            failed += 1
            continue
        print(json.dumps(result, indent=2, sort_keys=True, default=str))
        print(f"({time.perf_counter() - started:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
