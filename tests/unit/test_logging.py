"""Logging: JSON lines with per-invocation context; secrets masked wherever they appear."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace
from typing import Any

from acrsync.logging import configure, get_logger, inject_fc_context, register_secret

SK = "planted-secret-key-7777"
STS = "planted-sts-token-8888-CAIS"
ROBOT = "planted-robot-token-9999"
SIGN_SECRET = "SEC0123456789abcdef0123456789abcdef"


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_secrets_are_masked_by_key_by_value_and_inside_text() -> None:
    # GIVEN JSON logging and secrets known to the process
    stream = io.StringIO()
    configure(level="DEBUG", stream=stream)
    register_secret(SK)
    register_secret(STS)
    log = get_logger("test")
    # WHEN lines carry them under secret keys, inside URLs and messages, nested, and in an exception
    log.info(
        "a", access_key_secret=SK, security_token=STS, webhook=f"https://x/robot/send?access_token={ROBOT}"
    )
    log.info("b", url=f"https://oapi.dingtalk.com/robot/send?access_token={ROBOT}&timestamp=1&sign=abc%2Bdef")
    log.info(
        "c", detail={"nested": [f"token {STS} leaked", {"secret": SIGN_SECRET}]}, note=f"key {SIGN_SECRET}"
    )
    try:
        raise RuntimeError(f"boom with {SK}")
    except RuntimeError:
        log.exception("d")
    text = stream.getvalue()
    # THEN none of them is in the output, and the lines are still there and structured
    assert [line["event"] for line in lines(stream)] == ["a", "b", "c", "d"]
    for secret in (SK, STS, ROBOT, SIGN_SECRET, "abc%2Bdef"):
        assert secret not in text, secret


def test_handler_context_is_bound_per_invocation_and_cold_start_only_once() -> None:
    stream = io.StringIO()
    configure(level="INFO", stream=stream)
    log = get_logger("test")

    @inject_fc_context
    def handler(event: bytes, context: Any) -> None:
        log.info("inside")

    context = SimpleNamespace(request_id="req-1", function=SimpleNamespace(name="acr-sync-replicator"))
    handler(b'{"id": "evt-1", "source": "acs.cr"}', context)
    handler(b'[{"id": "evt-2"}]', SimpleNamespace(request_id="req-2", function=context.function))
    first, second = lines(stream)
    assert first["function_name"] == "acr-sync-replicator"
    assert (first["request_id"], first["correlation_id"]) == ("req-1", "evt-1")
    assert (second["request_id"], second["correlation_id"]) == ("req-2", "evt-2")
    assert second["cold_start"] is False
    assert first["level"] == "info"
    assert "timestamp" in first


def test_an_oversized_body_is_not_parsed_for_its_correlation_id() -> None:
    from acrsync.logging import correlation_id_of

    huge = b'{"id": "evt-huge", "data": "' + b"x" * (300 * 1024) + b'"}'
    assert correlation_id_of(huge) == ""
    assert correlation_id_of(b'{"id": "evt-small"}') == "evt-small"
