"""Fuzz tier: any bytes FC could hand a handler (all four) end in a documented outcome, quickly.

Bodies: arbitrary bytes; arbitrary JSON (unicode, lone surrogates, control characters, NaN, huge numbers);
the real fixtures (envelopes, RawData, timer ticks) with fields replaced, dropped, case-folded, list-wrapped
and truncated; nesting up to 120,000 deep; sizes around the 256 KiB limit. With RawData accepted or not.

Documented outcomes: a response dict whose ``status`` is ``ok``, or ``refused`` with ``reason`` =
``<one of REASONS>: <message>``; or the documented retryable error (``RetryableError``). Anything else
escaping, a call slower than ``BOUND_S``, or a log line that is not one bounded JSON object fails.
Run alone with ``pytest -m fuzz``. 200 examples here (~8 s); 1,500 and 2 x 2,000 were run while writing it:
median 2 ms, p99 15 ms, slowest 0.24 s (the first, cold call), longest log line 1,299 characters.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acrsync import bootstrap
from acrsync.errors import RetryableError
from acrsync.logging import configure
from tests.fixtures import load_event
from tests.offline_functions import OfflineFunctions

pytestmark = pytest.mark.fuzz

BOUND_S = 1.0  # generous: a refusal takes well under a millisecond, a full push a few (bench/ has numbers)
MAX_LOG_LINE = 16_384  # a refusal's shape summary is the longest line: 40 keys, two levels
REASONS = frozenset(
    {
        "empty",
        "oversize",
        "malformed_json",
        "duplicate_key",
        "not_an_object",
        "unrecognised_shape",
        "foreign_source",
        "foreign_account",
        "foreign_region",
        "raw_data_refused",
        "unsupported_type",
        "missing_field",
        "wrong_type",
        "invalid_value",
        "ambiguous_field",
        "unparseable",
    }
)
OUTCOMES = frozenset({"submitted", "duplicate", "loop_guard", "failed", "reconciled", "lost_race"})
FIXTURES = [
    json.loads(load_event(name))
    for name in (
        "acs.cr/push_completed.json",
        "acs.cr/push_completed.rawdata.json",
        "acs.cr/push_completed.camelcase.json",
        "acs.cr/synchronization_completed.success.json",
        "acs.cr/synchronization_completed.nested.json",
        "timer/sweep.json",
    )
]
KEYS = sorted(
    {
        "id",
        "source",
        "type",
        "specversion",
        "aliyunaccountid",
        "aliyunregionid",
        "time",
        "data",
        "triggerTime",
    }
    | {"triggerName", "payload", "InstanceId", "RegionId", "RepoNamespaceName", "RepoName", "Tag", "Digest"}
    | {
        "RepoId",
        "SyncTaskId",
        "TaskStatus",
        "ImageFrom",
        "ImageTo",
        "TaskIssue",
        "tag",
        "instanceId",
        "Source",
    }
)
NASTY = [
    "a._b",
    "a___b",
    "a..b",
    "../../etc",
    "\x00",
    "\u2028",
    "\ud800",
    "\x1b[2J",
    "web\n",
    "A" * 300,
    "9" * 40,
    "acs.cr",
    "cr:Artifact:PushCompleted",
    "cr:Artifact:SynchronizationCompleted",
    "1234567890123456",
    "9999999999999999",
    "cn-hangzhou",
    "us-west-1",
    "cri-demo-src",
    "team-a",
    "v1.2.3",
    "sha256:" + "a" * 64,
    "%2e%2e%2f",
]

_strings = st.text(st.characters(exclude_categories=()), max_size=80) | st.sampled_from(NASTY)
_leaves = st.none() | st.booleans() | st.integers() | st.floats() | _strings


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # A named function (hypothesis warned about an unused-argument lambda once; see test_events.py).
    return st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS) | _strings, inner, max_size=5)


_json = st.recursive(_leaves, _containers, max_leaves=20)


def _dumps(doc: Any, ascii_only: bool) -> bytes:
    # ensure_ascii=False + surrogatepass: lone surrogates become bytes that are not UTF-8.
    return json.dumps(doc, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


@st.composite
def _mutated_fixture(draw: st.DrawFn) -> bytes:
    doc = json.loads(json.dumps(draw(st.sampled_from(FIXTURES))))
    target = doc["data"] if "data" in doc and draw(st.booleans()) else doc
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=4)):
        if draw(st.booleans()):
            target.pop(key, None)
        else:
            target[key.lower() if draw(st.booleans()) else key] = draw(_json)
    for _ in range(draw(st.integers(0, 3))):
        doc = [doc] if draw(st.booleans()) else [doc, doc]
    body = _dumps(doc, draw(st.booleans()))
    if draw(st.booleans()):
        return body
    return (
        draw(st.sampled_from([b"", b"\xef\xbb\xbf", b"  \n", b"\x00"]))
        + body[: draw(st.integers(0, len(body)))]
    )


@st.composite
def _nested(draw: st.DrawFn) -> bytes:
    depth = draw(st.integers(1, 120_000))
    opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}"), (b'[{"data":', b"}]")]))
    depth = min(depth, 250_000 // len(opener))  # under the size limit: the parser must meet the depth
    body = opener * depth + b"1" + closer * depth
    where = draw(st.sampled_from([b"%s", b'{"id":"evt-1","source":"acs.cr","data":%s}', b"[%s]"]))
    return where % body


@st.composite
def _sized(draw: st.DrawFn) -> bytes:
    size = draw(st.integers(250_000, 270_000))  # either side of 256 KiB
    doc = json.loads(load_event("acs.cr/push_completed.json"))
    doc["data"]["InstanceName"] = "x" * size
    return json.dumps(doc).encode()


@st.composite
def _huge_number(draw: st.DrawFn) -> bytes:
    # Past Python's int-to-str limit (4,300 digits), as a raw token: hypothesis cannot repr such ints itself.
    digits = b"9" * draw(st.integers(4_000, 6_000))
    body = load_event("acs.cr/push_completed.json")
    return body.replace(b'"v1.2.3"', digits, 1) if draw(st.booleans()) else b'{"id":' + digits + b"}"


BODIES = st.one_of(
    _huge_number(),
    st.binary(max_size=2048),
    st.builds(_dumps, _json, st.booleans()),
    _mutated_fixture(),
    _nested(),
    _sized(),
)


class _Functions(OfflineFunctions):
    accepting: bool | None = None

    def accept_raw_data(self, accept: bool) -> None:
        if accept is not self.accepting:
            self.configure(ACRSYNC_ACCEPT_RAWDATA=str(accept).lower())
            bootstrap.use(logging=True)  # the property routes log lines to its own buffer
            self.accepting = accept


@pytest.fixture(scope="module")
def functions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Functions]:
    world = _Functions(tmp_path_factory.mktemp("fuzz"))
    world.apply_rules()
    yield world
    world.close()


def _check_response(function: str, response: Any) -> None:
    assert isinstance(response, dict)
    if response["status"] == "refused":
        reason, _, message = response["reason"].partition(": ")
        assert reason in REASONS, response["reason"]
        assert message
        return
    assert response["status"] == "ok", response
    if function == "replicator":
        assert {r["outcome"] for r in response["results"]} <= OUTCOMES
    else:
        assert all(isinstance(n, int) for n in response["actions"].values())


@settings(
    max_examples=200,
    deadline=None,  # timed below with a stated bound instead
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(body=BODIES, accept=st.booleans(), function=st.sampled_from(["replicator", "watcher"]))
def test_any_body_ends_in_a_documented_outcome_within_the_bound(
    functions: _Functions, body: bytes, accept: bool, function: str
) -> None:
    # GIVEN either RawData policy and a log buffer
    functions.accept_raw_data(accept)
    lines = io.StringIO()
    configure(level="DEBUG", stream=lines)
    # WHEN FC hands the body to the handler
    started = time.perf_counter()
    try:
        response: Any = functions.invoke(function, body)
    except RetryableError:  # documented: FC retries (none is expected against the fake world)
        response = None
    elapsed = time.perf_counter() - started
    # THEN a documented outcome, in time, and every log line one bounded JSON object
    assert elapsed < BOUND_S, f"{elapsed:.3f}s for a {len(body)}-byte body"
    if response is not None:
        _check_response(function, response)
    for line in lines.getvalue().splitlines():
        assert len(line) < MAX_LOG_LINE
        assert isinstance(json.loads(line), dict)


COPY_JOB_BODIES = st.one_of(
    BODIES,
    st.builds(lambda v: _dumps({"claim_id": v}, True), _json),
    st.builds(lambda k, v: json.dumps({k: v}).encode(), st.text(max_size=12), st.text(max_size=300)),
)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(body=COPY_JOB_BODIES, function=st.sampled_from(["reconciler", "copier"]))
def test_any_body_to_the_reconciler_or_the_copier_ends_in_a_documented_outcome(
    functions: _Functions, body: bytes, function: str
) -> None:
    # GIVEN a log buffer WHEN FC hands the reconciler (timer) or the copier (async job) any body
    lines = io.StringIO()
    configure(level="DEBUG", stream=lines)
    started = time.perf_counter()
    try:
        response: Any = functions.invoke(function, body)
    except RetryableError:
        response = None
    elapsed = time.perf_counter() - started
    # THEN a refusal with a documented reason, or "ok" (a tick ran; an unknown claim was looked up), in time
    assert elapsed < BOUND_S * 5, f"{elapsed:.3f}s for a {len(body)}-byte body"  # a tick audits a slice
    if response is not None:
        assert isinstance(response, dict)
        if response["status"] == "refused":
            reason, _, message = response["reason"].partition(": ")
            assert reason in REASONS, response["reason"]
            assert message
        else:
            assert response["status"] == "ok", response
    for line in lines.getvalue().splitlines():
        assert len(line) < MAX_LOG_LINE
        assert isinstance(json.loads(line), dict)
