"""Rules engine benchmark: 10,000 rules over 100 namespaces, 100,000 evaluations.

Prints per-event latency (p50/p99) of ``evaluate`` against the compiled index, and the same for a naive
baseline measured in the same run: a linear scan over ALL rules with Python ``re.fullmatch`` (patterns
precompiled, globs translated to Python regexes; semver ranges use the same precompiled matcher as the
engine, so the comparison isolates the index). The baseline runs on a subset of the events (it is slow);
its latency is per event, so the ratio is like for like.

Run: ``.venv/bin/python bench/bench_rules.py``
"""

from __future__ import annotations

import random
import re
import statistics
import time
from typing import Any

from acrsync.domain.images import SourceImage
from acrsync.domain.patterns import Matcher, compile_pattern, split_pattern
from acrsync.domain.rules import compile_rules, evaluate

SRC = "cri-benchsrc"
N_RULES = 10_000
N_NAMESPACES = 100
N_EVENTS = 100_000
N_BASELINE_EVENTS = 300

TAG_INCLUDES = [
    ["semver:^1.2"],
    ["semver:>=2.0.0 <3.0.0", "stable"],
    ["semver:~1.4.0 || ^3"],
    ["regex:release-[0-9]+"],
    ["regex:v[0-9]+\\.[0-9]+\\.[0-9]+(-hotfix)?"],
    ["prod-*", "stable"],
    ["{nightly,weekly}-*"],
    [],
]
TAG_EXCLUDES = [[], ["*-debug"], ["latest", "regex:.*-wip"], ["semver:<1.0.0"]]


def make_rules(rng: random.Random) -> list[dict[str, Any]]:
    """A realistic mix: most rules name their namespace; a few span every namespace."""
    rules = []
    for i in range(N_RULES):
        ns = f"ns-{i % N_NAMESPACES}"
        roll = rng.random()
        if roll < 0.002:
            repos = ["**"]  # ~20 organisation-wide rules
        elif roll < 0.4:
            repos = [f"{ns}/*"]
        elif roll < 0.8:
            repos = [f"{ns}/app-{rng.randrange(50)}"]
        else:
            repos = [f"{ns}/svc-*-api", f"{ns}/{{web,worker}}-{rng.randrange(10)}"]
        rules.append(
            {
                "name": f"rule-{i}",
                "enabled": rng.random() > 0.05,
                "alert": "",
                "source": {
                    "instance": SRC,
                    "repositories": repos,
                    "exclude_repositories": [f"{ns}/sandbox-*"],
                },
                "tags": {
                    "include": rng.choice(TAG_INCLUDES),
                    "exclude": rng.choice(TAG_EXCLUDES),
                    "include_prerelease": rng.random() < 0.1,
                },
                "destinations": [
                    {
                        "instance": f"cri-dst{rng.randrange(3)}",
                        "region": rng.choice(["cn-shanghai", "cn-beijing"]),
                        "namespace": "{namespace}",
                        "repository": "{repo}",
                        "tag": rng.choice(["{tag}", "{tag}", "prod-{tag}"]),
                        "override": False,
                        "priority": 3,
                        "account": "",
                    }
                ],
            }
        )
    return rules


def make_events(rng: random.Random, n: int) -> list[SourceImage]:
    tags = ["1.2.3", "1.4.2", "2.1.0", "3.0.1", "0.9.0", "1.2.5-rc.1", "v1.2.3", "release-42", "stable"]
    tags += ["latest", "nightly-20261128", "prod-7", "1.2.3-debug", "feature-x-wip"]
    events = []
    for _ in range(n):
        ns = f"ns-{rng.randrange(N_NAMESPACES)}"
        repo = rng.choice([f"app-{rng.randrange(50)}", "svc-pay-api", "web-3", "worker-1", "sandbox-1"])
        events.append(SourceImage(SRC, "cn-hangzhou", ns, repo, rng.choice(tags)))
    return events


def _glob_to_re(glob: str) -> str:
    """Naive glob translation for the baseline: ``**`` any, ``*`` no ``/``, ``?``, ``{a,b}``."""
    out, i = [], 0
    while i < len(glob):
        c = glob[i]
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        out.append({"*": "[^/]*", "?": "[^/]", "{": "(?:", "}": ")", ",": "|"}.get(c, re.escape(c)))
        i += 1
    return "".join(out)


def _baseline_matcher(text: str, include_prerelease: bool) -> Any:
    kind, body = split_pattern(text)
    if kind == "semver":
        return compile_pattern(text, include_prerelease=include_prerelease)
    return re.compile(body if kind == "regex" else _glob_to_re(body))


def _hit(matchers: list[Any], text: str) -> bool:
    return any(m.matches(text) if isinstance(m, Matcher) else m.fullmatch(text) is not None for m in matchers)


def compile_baseline(
    rules: list[dict[str, Any]],
) -> list[tuple[dict[str, Any], list[Any], list[Any], list[Any], list[Any]]]:
    out = []
    for r in rules:
        pre = r["tags"]["include_prerelease"]
        out.append(
            (
                r,
                [_baseline_matcher(p, False) for p in r["source"]["repositories"]],
                [_baseline_matcher(p, False) for p in r["source"]["exclude_repositories"]],
                [_baseline_matcher(p, pre) for p in r["tags"]["include"]],
                [_baseline_matcher(p, True) for p in r["tags"]["exclude"]],
            )
        )
    return out


def baseline_evaluate(compiled: list[Any], image: SourceImage) -> list[tuple[str, str]]:
    """Linear scan over every rule; returns (rule, destination-ish) pairs, first rule wins."""
    seen: dict[tuple[str, ...], str] = {}
    repo = image.repository
    for r, repos, ex_repos, inc, exc in compiled:
        if not r["enabled"] or r["source"]["instance"] != image.instance_id:
            continue
        if not _hit(repos, repo) or _hit(ex_repos, repo) or _hit(exc, image.tag):
            continue
        if inc and not _hit(inc, image.tag):
            continue
        for d in r["destinations"]:
            key = (
                d["instance"],
                d["region"],
                image.namespace,
                image.repo,
                d["tag"].replace("{tag}", image.tag),
            )
            seen.setdefault(key, r["name"])
    return list(seen.items())  # type: ignore[arg-type]


def _percentiles(samples: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(samples, n=100)
    return q[49], q[98]


def run() -> dict[str, float]:
    """Build, compile, measure; return the numbers (milliseconds per event, ratio, counts)."""
    rng = random.Random(20261128)
    rules = make_rules(rng)
    events = make_events(rng, N_EVENTS)
    t0 = time.perf_counter()
    index = compile_rules(rules, {})
    compile_s = time.perf_counter() - t0

    fast: list[float] = []
    matched = 0
    clock = time.perf_counter
    for img in events:
        start = clock()
        matched += len(evaluate(index, img))
        fast.append(clock() - start)

    baseline = compile_baseline(rules)
    slow: list[float] = []
    for img in events[:N_BASELINE_EVENTS]:
        start = clock()
        baseline_evaluate(baseline, img)
        slow.append(clock() - start)

    p50, p99 = _percentiles(fast)
    b50, b99 = _percentiles(slow)
    return {
        "rules": N_RULES,
        "namespaces": N_NAMESPACES,
        "events": N_EVENTS,
        "baseline_events": N_BASELINE_EVENTS,
        "compile_s": round(compile_s, 3),
        "evaluate_p50_ms": round(p50 * 1e3, 4),
        "evaluate_p99_ms": round(p99 * 1e3, 4),
        "evaluate_mean_ms": round(statistics.fmean(fast) * 1e3, 4),
        "baseline_p50_ms": round(b50 * 1e3, 3),
        "baseline_p99_ms": round(b99 * 1e3, 3),
        "speedup_p50": round(b50 / p50, 1),
        "requests_per_event": round(matched / N_EVENTS, 2),
    }


if __name__ == "__main__":
    started = time.perf_counter()
    results = run()
    for key, value in results.items():
        print(f"{key:>20}: {value}")
    print(f"{'total_runtime_s':>20}: {time.perf_counter() - started:.1f}")
