"""Pattern cost benchmark: glob translation and rules validation against pattern length, and peak memory.

- Translation (``domain.glob.translate``) of 1k, 5k, 10k and 20k characters of ``[``, ``{``, ``*`` and a
  mix, each timed against the baseline measured in the same run: a glob of plain letters of the same length.
  Linear means the time per character stays flat as the length grows (``growth`` = time per char at 20k ÷
  at 1k, ~1; the quadratic translator this replaced gave ~20 and spent 47 s on 25,000 characters).
- Validation (``rules validate`` = parse + validate + compile) of a one-pattern file, 128 to 1,024
  characters (the cap), per kind, and per character.
- The largest accepted files, each in a fresh process: 1 MiB of ordinary rules, a file that spends the whole
  pattern budget, and one with as many distinct patterns as allowed: validation time, peak RSS growth
  (which counts RE2's C++ heap), peak Python memory (tracemalloc, a second run), and what compiling the
  validated rules costs a function at cold start.

Run: ``.venv/bin/python -m bench bench_patterns``
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from acrsync.domain.glob import translate
from acrsync.domain.patterns import MAX_PATTERN_CHARS
from acrsync.domain.rules import compile_rules
from acrsync.domain.rules_limits import MAX_DISTINCT_PATTERNS, MAX_PATTERN_WEIGHT
from acrsync.service.rules_admin import load_document
from acrsync.service.rules_yaml import MAX_FILE_BYTES

LENGTHS = (1_000, 5_000, 10_000, 20_000)
SHAPES: dict[str, Callable[[int], str]] = {
    "[": lambda n: "[" * n,
    "{": lambda n: "{" * n,
    "*": lambda n: "*" * n,
    "mixed": lambda n: ("[{*a?/]!}x" * n)[:n],  # classes, literal braces, stars, segments
}
VALIDATE_LENGTHS = (128, 256, 512, 1_024)
KINDS: dict[str, Callable[[int], str]] = {
    "glob [": lambda n: "[" * n,
    "glob {": lambda n: "{" * n,
    "glob mixed": lambda n: ("[{*a?/]!}x" * n)[:n],
    "regex": lambda n: "regex:" + ("a|" * n)[: n - 7] + "b",
    "semver": lambda n: "semver:" + (">=1.2.3 " * n)[: n - 8].strip(),
}
RULE = """  - name: rule-{i}
    alert: ops
    source:
      instance: cri-demo-src
      repositories: ["team-{i}/*", "platform/api-**"]
    tags:
      include: ["semver:>=1.0.0 <2.0.0", "regex:release-[0-9]+", "stable"]
      exclude: ["*-debug"]
    destinations:
      - instance: cri-demo-sh
        region: cn-shanghai
        priority: 2
"""
HEAD = "version: 1\nchannels:\n  ops:\n    dingtalk: {webhook_env: ACRSYNC_DINGTALK_WEBHOOK}\nrules:\n"


def best(fn: Callable[[], object], repeat: int = 5) -> float:
    """The fastest of ``repeat`` runs, in seconds (a busy machine only ever adds time)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def translation() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, make in SHAPES.items():
        per_char, vs_letters = [], []
        for n in LENGTHS:
            pattern, letters = make(n), "a" * n
            t = best(lambda p=pattern: translate(p))  # type: ignore[misc]
            base = best(lambda p=letters: translate(p))  # type: ignore[misc]
            per_char.append(round(t / n * 1e6, 2))
            vs_letters.append(round(t / base, 2))
        out[name] = {
            "us_per_char": dict(zip(map(str, LENGTHS), per_char, strict=True)),
            "vs_plain_letters": dict(zip(map(str, LENGTHS), vs_letters, strict=True)),
            "growth_per_char_20k_vs_1k": round(per_char[-1] / per_char[0], 2),
        }
    return out


def one_pattern_file(pattern: str) -> str:
    """One rule whose only tag pattern is ``pattern``."""
    rule = RULE.format(i=0).split("    tags:")[0]
    tags = f"    tags:\n      include: [{json.dumps(pattern)}]\n"
    return HEAD + rule + tags + "    destinations: [{instance: cri-demo-sh, region: cn-shanghai}]\n"


def validation() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind, make in KINDS.items():
        times = {}
        for n in VALIDATE_LENGTHS:
            text = one_pattern_file(make(n))
            load_document(text)  # valid (or this raises, and the benchmark says so)
            times[str(n)] = round(best(lambda t=text: load_document(t)) * 1e3, 2)  # type: ignore[misc]
        per_char = [times[str(n)] / n for n in VALIDATE_LENGTHS]
        out[kind] = {"ms": times, "growth_per_char_1024_vs_128": round(per_char[-1] / per_char[0], 2)}
    return out


def largest_ordinary() -> str:
    parts, size, i = [HEAD], len(HEAD), 0
    while size + len(rule := RULE.format(i=i)) <= MAX_FILE_BYTES:
        parts.append(rule)
        size += len(rule)
        i += 1
    return "".join(parts)


def largest_patterns() -> str:
    """Distinct 1,000-character globs with a brace group (~2,000 compiled characters each) to the budget."""
    count = MAX_PATTERN_WEIGHT // 2_100
    tags = ", ".join(json.dumps(f"x{{a,b}}{'y' * 980}{i:05d}") for i in range(count))
    return HEAD + RULE.format(i=0).replace('exclude: ["*-debug"]', f"exclude: [{tags}]")


def largest_count() -> str:
    """As many distinct wildcard patterns as one file may hold (``MAX_DISTINCT_PATTERNS``)."""
    globs = ", ".join(json.dumps(f"rc{i}-*") for i in range(MAX_DISTINCT_PATTERNS - 10))
    return HEAD + RULE.format(i=0).replace('exclude: ["*-debug"]', f"exclude: [{globs}]")


def child(kind: str, rules_out: str) -> dict[str, Any]:
    """Validate the largest file of ``kind`` in this (fresh) process: time and RSS, then Python's peak."""
    import resource

    text = {"ordinary": largest_ordinary, "patterns": largest_patterns, "count": largest_count}[kind]()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    doc = load_document(text)
    elapsed = time.perf_counter() - started
    rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    with open(rules_out, "w") as f:
        json.dump({"rules": list(doc.rules), "channels": dict(doc.channels)}, f)
    tracemalloc.start()
    load_document(text)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "file_bytes": len(text.encode()),
        "rules": len(doc.rules),
        "validate_s": round(elapsed, 2),
        "peak_python_mb": round(peak / 1e6, 1),
        "peak_rss_growth_mb": round(rss_growth / 1024, 1),
    }


def compile_child(rules_in: str) -> dict[str, Any]:
    """What a function does with the stored rules at cold start, alone in a fresh process."""
    import resource

    with open(rules_in) as f:
        stored = json.load(f)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    compile_rules(stored["rules"], stored["channels"])
    return {
        "function_compile_s": round(time.perf_counter() - started, 2),
        "function_compile_rss_growth_mb": round(
            (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024, 1
        ),
    }


def _fresh(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench_patterns", *args], capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def largest() -> dict[str, Any]:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("ordinary", "patterns", "count"):
            rules = os.path.join(tmp, f"{kind}.json")
            out[kind] = {**_fresh("--child", kind, rules), **_fresh("--compile", rules)}
    return out


def run() -> dict[str, Any]:
    """Translation and validation time against pattern length; memory of the largest accepted files."""
    return {
        "pattern_cap_chars": MAX_PATTERN_CHARS,
        "translate": translation(),
        "validate_one_pattern": validation(),
        "largest_accepted_file": largest(),
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(child(sys.argv[2], sys.argv[3])))
    elif sys.argv[1:2] == ["--compile"]:
        print(json.dumps(compile_child(sys.argv[2])))
    else:
        print(json.dumps(run(), indent=2))
