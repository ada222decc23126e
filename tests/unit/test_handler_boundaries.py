"""Both handlers, fed hostile bytes exactly as FC would: a refusal with a reason and one structured line,
never a traceback, never an FC retry; log lines stay short; envelope-less bodies only when configured."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from acrsync.config import load_settings
from acrsync.errors import ConfigError
from acrsync.local import fc
from acrsync.local.stack import ACCOUNT_ID
from acrsync.service import intake
from tests.fixtures import load_event
from tests.harness import push_event
from tests.offline_functions import OfflineFunctions, log_lines

FUNCTIONS = ("replicator", "watcher")
MAX_LINE = 2_000  # generous: a normal line is a few hundred characters


@pytest.fixture
def functions(tmp_path: Path) -> Iterator[OfflineFunctions]:
    world = OfflineFunctions(tmp_path)
    world.apply_rules()
    yield world
    world.close()


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


HOSTILE_JSON = {
    "1,000 nested arrays": (_nested(1_000), "malformed_json"),
    "100,000 nested arrays": (_nested(100_000), "malformed_json"),
    "40,000 nested objects": (b'{"a":' * 40_000 + b"1" + b"}" * 40_000, "malformed_json"),
    "nested in an envelope": (
        b'{"id":"e","source":"acs.cr","data":' + _nested(5_000) + b"}",
        "malformed_json",
    ),
    "nested in a list": (b'[{"id":"evt-1","data":' + _nested(5_000) + b"}]", "malformed_json"),
    "a 5,000-digit number": (b'{"id":' + b"9" * 5_000 + b"}", "malformed_json"),
    "a lone surrogate in the id": (push_event("v1.2.3", "", event_id="evt-\ud800"), "invalid_value"),
    "300 KB": (b'{"id":"evt-big","data":"' + b"x" * 300_000 + b'"}', "oversize"),
}


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize("name", sorted(HOSTILE_JSON))
def test_hostile_json_is_refused_as_a_logged_permanent_refusal_by_both_handlers(
    functions: OfflineFunctions, capsys: pytest.CaptureFixture[str], function: str, name: str
) -> None:
    # GIVEN a body nested past the recursion limit, a number Python will not convert, a lone surrogate...
    body, reason = HOSTILE_JSON[name]
    # WHEN FC hands it to the handler THEN it returns (no exception: FC would retry) a refusal with a reason
    response = functions.invoke(function, body)
    assert response["status"] == "refused"
    assert response["reason"].partition(":")[0] == reason
    # AND exactly one structured event_refused line says so; no traceback anywhere
    captured = capsys.readouterr()
    refusals = [line for line in log_lines(captured.out) if line["event"] == "event_refused"]
    assert [line["reason"] for line in refusals] == [reason]
    assert "Traceback" not in captured.out + captured.err
    assert functions.creates() == []


def test_a_parser_defect_is_refused_and_logged_at_error_not_raised_into_fc_retries(
    functions: OfflineFunctions, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a parser that fails with something other than InvalidEvent (a defect met with hostile input)
    def broken_parser(*_args: Any, **_kwargs: Any) -> Any:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(intake, "parse_events", broken_parser)
    for function in FUNCTIONS:
        # WHEN a delivery arrives THEN it is refused as unparseable (the same bytes would fail every retry)
        response = functions.invoke(function, load_event("acs.cr/push_completed.json"))
        assert response == {
            **response,
            "status": "refused",
            "reason": "unparseable: the body could not be read (RecursionError)",
        }
    lines = [line for line in log_lines(capsys.readouterr().out) if line["event"] == "event_refused"]
    assert [(line["level"], line["error_type"]) for line in lines] == [("error", "RecursionError")] * 2


def test_a_200000_character_event_id_keeps_every_log_line_short(
    functions: OfflineFunctions, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a push whose id is 200,000 characters, with terminal escapes and a line break in it
    hostile_id = "evt-\x1b[2J\r\nFORGED " + "x" * 200_000
    body = push_event("v1.2.3", "", event_id=hostile_id)
    assert len(body) < 256 * 1024  # under the size limit: it is parsed, and its id bound to the log context
    # WHEN the replicator gets it
    response = functions.invoke("replicator", body)
    # THEN it is refused for its id, and every line stays short with the id cut and escaped
    assert response["reason"].startswith(f"invalid_value: id is {len(hostile_id)} characters long")
    out = capsys.readouterr().out
    lines = log_lines(out)
    assert lines
    assert max(len(line) for line in out.splitlines()) < MAX_LINE
    for line in lines:
        correlation = line["correlation_id"]
        assert correlation.startswith("evt-\\x1b[2J\\x0d\\x0aFORGED xxx")
        assert correlation.endswith(f"...(+{len(hostile_id) - 128} chars)")
        assert correlation.isprintable()


def test_hostile_fc_context_values_are_capped_in_every_line(
    functions: OfflineFunctions, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a context whose request id and function name are huge and carry control characters
    context = SimpleNamespace(
        request_id="req-\n" * 20_000,
        function=SimpleNamespace(name="acr-sync-replicator\x00" * 5_000, timeout=60),
        credentials=None,
        region="cn-hangzhou",
        account_id=ACCOUNT_ID,
    )
    # WHEN the handler runs
    fc.load_handler("replicator")(load_event("acs.cr/push_completed.json"), context)
    out = capsys.readouterr().out
    # THEN each value is cut to 128 characters (plus the count of what was cut), escaped, on one line each
    lines = log_lines(out)
    assert lines
    assert max(len(line) for line in out.splitlines()) < MAX_LINE
    for line in lines:
        assert line["request_id"].startswith("req-\\x0areq-")
        assert line["request_id"].endswith("...(+99872 chars)")
        assert "\x00" not in line["function_name"]


# ---- envelope-less (RawData) bodies: refused unless ACRSYNC_ACCEPT_RAWDATA=true ----

RAW_PUSH = load_event("acs.cr/push_completed.rawdata.json")
RAW_SYNC = json.dumps(json.loads(load_event("acs.cr/synchronization_completed.error.json"))["data"]).encode()


@pytest.mark.parametrize(("function", "body"), [("replicator", RAW_PUSH), ("watcher", RAW_SYNC)])
def test_rawdata_bodies_are_refused_by_default_and_create_nothing(
    functions: OfflineFunctions, function: str, body: bytes
) -> None:
    # GIVEN the default configuration WHEN a bare data object arrives THEN it is refused, saying how to
    # accept it
    response = functions.invoke(function, body)
    assert response["status"] == "refused"
    assert response["reason"].startswith("raw_data_refused:")
    assert "ACRSYNC_ACCEPT_RAWDATA=true" in response["reason"]
    assert functions.creates() == []


def test_rawdata_push_is_replicated_when_accepted(functions: OfflineFunctions) -> None:
    # GIVEN ACRSYNC_ACCEPT_RAWDATA=true WHEN the RawData push arrives THEN both destinations get a task
    functions.configure(ACRSYNC_ACCEPT_RAWDATA="true")
    response = functions.invoke("replicator", RAW_PUSH)
    assert [r["outcome"] for r in response["results"]] == ["submitted", "submitted"]
    assert len(functions.creates()) == 2


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"aliyunaccountid": "9999999999999999"}, "foreign_account"),
        ({"RegionId": "us-west-1"}, "foreign_region"),
        ({"Source": "acs.evil"}, "foreign_source"),
    ],
)
def test_accepted_rawdata_from_another_account_or_region_creates_nothing(
    functions: OfflineFunctions, extra: dict[str, str], reason: str
) -> None:
    # GIVEN RawData accepted, and a data object that names a foreign account, region or source
    functions.configure(ACRSYNC_ACCEPT_RAWDATA="true")
    doc = json.loads(RAW_PUSH)
    doc.update(extra)
    # WHEN it arrives THEN it is refused as an envelope with those attributes would be: no API call at all
    response = functions.invoke("replicator", json.dumps(doc).encode())
    assert response["reason"].startswith(f"{reason}:")
    assert functions.model.requests == []


@pytest.mark.parametrize(("value", "accepted"), [("", False), ("false", False), ("TRUE", True), ("1", True)])
def test_rawdata_acceptance_is_read_from_the_environment(value: str, accepted: bool) -> None:
    settings = load_settings({"ACRSYNC_REGION": "cn-hangzhou", "ACRSYNC_ACCEPT_RAWDATA": value})
    assert settings.accept_raw_data is accepted


def test_a_mistyped_rawdata_switch_is_a_configuration_error_not_a_silent_no(
    functions: OfflineFunctions, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN ACRSYNC_ACCEPT_RAWDATA=ture WHEN an event arrives THEN the function fails naming the variable
    functions.configure(ACRSYNC_ACCEPT_RAWDATA="ture")
    with pytest.raises(ConfigError, match=r"ACRSYNC_ACCEPT_RAWDATA='ture': expected true or false"):
        functions.invoke("replicator", RAW_PUSH)
    lines = log_lines(capsys.readouterr().out)
    assert [line["event"] for line in lines if line["level"] == "error"] == ["configuration_invalid"]


COPIER_HOSTILE = {
    "1,000 nested arrays": (_nested(1_000), "malformed_json"),
    "nested in the claim": (b'{"claim_id":' + _nested(1_000) + b"}", "malformed_json"),
    "100,000 nested arrays": (_nested(100_000), "oversize"),
    "a 200,000-character claim id": (json.dumps({"claim_id": "x" * 200_000}).encode(), "oversize"),
    "a claim id with control characters": (
        json.dumps({"claim_id": "a\r\n\x1b[2J"}).encode(),
        "invalid_value",
    ),
    "a repeated key": (b'{"claim_id":"a","claim_id":"b"}', "duplicate_key"),
    "a number": (b'{"claim_id":NaN}', "wrong_type"),
    "extra keys": (b'{"claim_id":"a","x":1}', "unrecognised_shape"),
    "a list": (b'[{"claim_id":"a"}]', "not_an_object"),
    "not UTF-8": (b'\xff{"claim_id":"a"}', "malformed_json"),
}


@pytest.mark.parametrize("name", sorted(COPIER_HOSTILE))
def test_the_copier_refuses_hostile_job_bodies_with_a_reason_never_a_traceback(
    functions: OfflineFunctions, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    # GIVEN a copy-job body nested past the recursion limit, huge, repeated, mistyped...
    body, reason = COPIER_HOSTILE[name]
    # WHEN FC hands it to the copier THEN it returns a refusal with the reason (nothing for FC to retry)
    response = functions.invoke("copier", body)
    assert response["status"] == "refused"
    assert response["reason"].partition(":")[0] == reason
    # AND one short structured copy_event_refused line says why; no traceback, no copy job looked up
    out = capsys.readouterr()
    lines = log_lines(out.out)
    assert [line["reason"] for line in lines if line["event"] == "copy_event_refused"] == [reason]
    assert not [line for line in lines if line["event"].startswith("copy_job")]
    assert "Traceback" not in out.out + out.err
    assert max(len(line) for line in out.out.splitlines()) < MAX_LINE
