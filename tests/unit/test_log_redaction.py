"""Log lines never carry a secret in any spelling (raw, percent-encoded once or twice, either hex case,
``+`` for spaces, base64), nor the ``access_token``/``sign`` of any URL; values are bounded and one line."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from acrsync import bootstrap
from acrsync.logging import MAX_FIELD_CHARS, configure, get_logger, register_secret

SECRET = "pl@nted/s3cret+key=0042&x y"  # every character class an encoder touches


def _spellings(value: str) -> dict[str, str]:
    once = quote(value, safe="")
    raw = value.encode()
    return {
        "raw": value,
        "quote(safe='')": once,
        "quote()": quote(value),
        "quote_plus()": quote_plus(value),
        "lower-case hex": once.replace("%2F", "%2f").replace("%40", "%40").replace("%2B", "%2b"),
        "twice encoded": quote(once, safe=""),
        "base64": base64.b64encode(raw).decode(),
        "urlsafe base64, unpadded": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "only '=' and '&' encoded": value.replace("=", "%3D").replace("&", "%26"),
        "only '+' encoded, '/' JSON-escaped": value.replace("+", "%2B").replace("/", "\\/"),
        "mixed hex case, space as '+'": once.replace("%2F", "%2f").replace("%20", "+").replace("%40", "@"),
    }


@pytest.fixture
def stream() -> io.StringIO:
    out = io.StringIO()
    configure(level="DEBUG", stream=out)
    return out


@pytest.mark.parametrize(("spelling", "text"), sorted(_spellings(SECRET).items()))
def test_a_registered_secret_is_masked_in_every_encoding(
    stream: io.StringIO, spelling: str, text: str
) -> None:
    # GIVEN a registered secret WHEN an upstream error quotes it in some encoding, inside free text
    register_secret(SECRET)
    get_logger("test").error("upstream_failed", error=f"POST /x?k={text}&t=1 failed: bad key {text}!")
    # THEN that spelling is not in the line, and the line is still there
    line = stream.getvalue()
    assert text not in line, spelling
    assert json.loads(line)["event"] == "upstream_failed"
    assert text not in json.loads(line)["error"], spelling  # nor once the line's JSON escapes are read


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ("https://oapi.dingtalk.com/robot/send?access_token=tok-4711&timestamp=1", "tok-4711"),
        ("https://example.invalid/hook?timestamp=1&sign=abc%2Bdef%3D", "abc%2Bdef%3D"),
        ("callback=" + quote("https://x.invalid/r?access_token=tok-4712&sign=s1gn", safe=""), "tok-4712"),
        (
            "callback=" + quote("https://x.invalid/r?access_token=tok-4712&sign=s1gn-4713", safe=""),
            "s1gn-4713",
        ),
        ('DingTalk said {"errcode": 310000, "access_token": "tok-4714"}', "tok-4714"),
        ("x-acs-security-token=CAIS-4715 refused", "CAIS-4715"),
    ],
)
def test_url_query_secrets_are_masked_even_percent_encoded(stream: io.StringIO, text: str, leak: str) -> None:
    # GIVEN an unregistered value in a secret-named query parameter (or JSON member) of free text
    get_logger("test").warning("call_failed", error=text)
    # THEN its value is masked
    assert leak not in stream.getvalue()


def test_a_word_ending_in_sign_is_not_a_signature(stream: io.StringIO) -> None:
    get_logger("test").info("rule_changed", detail="design=blue-green")
    assert "design=blue-green" in stream.getvalue()


def test_huge_deep_and_control_character_values_stay_one_bounded_line(stream: io.StringIO) -> None:
    # GIVEN a huge string, a structure nested 10,000 deep, and terminal escapes with a line break
    deep: list[object] = []
    for _ in range(10_000):
        deep = [deep]
    log = get_logger("test")
    # WHEN logged THEN logging neither raises nor writes a huge or split line
    log.info("hostile_values", huge="x" * 200_000, deep=deep, forged='ok\n{"event": "forged"}\x1b[2J')
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert len(lines[0]) < MAX_FIELD_CHARS + 1_000
    line = json.loads(lines[0])
    assert line["huge"].endswith(f"...(+{200_000 - MAX_FIELD_CHARS} chars)")
    assert line["forged"] == 'ok\\x0a{"event": "forged"}\\x1b[2J'


def test_the_console_renderer_keeps_one_event_on_one_line() -> None:
    # GIVEN the CLI's console renderer WHEN a value carries a line break and an escape sequence
    out = io.StringIO()
    configure(level="INFO", human=True, stream=out)
    get_logger("test").warning("event_refused", reason="x\nFAKE [error] forged line\x1b[31m")
    # THEN it prints one line, the characters escaped
    assert len(out.getvalue().splitlines()) == 1
    assert "\\x0aFAKE" in out.getvalue()


def test_a_secret_across_the_length_cut_is_masked_not_half_shown(stream: io.StringIO) -> None:
    # GIVEN a registered secret that starts a few characters before the cut of a very long value
    register_secret(SECRET)
    value = "x" * (MAX_FIELD_CHARS - 5) + SECRET + "y" * 100_000
    # WHEN logged THEN not even its first characters show, and the cut count is of the original value
    get_logger("test").info("long_value", detail=value)
    detail = json.loads(stream.getvalue())["detail"]
    assert SECRET[:5] not in detail
    assert detail.startswith("x" * (MAX_FIELD_CHARS - 5) + "***")
    assert detail.endswith(f"...(+{len(value) - MAX_FIELD_CHARS} chars)")


def test_a_registry_basic_auth_header_is_masked_once_its_credentials_are_read(
    stream: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # GIVEN a copy destination whose credentials_env holds USERNAME:PASSWORD (a user name of 9 bytes would
    # align the password's own base64 inside the header's), read by the copier's client
    env = {
        "ACRSYNC_STORE": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "ACRSYNC_REGION": "cn-hangzhou",
        "ACRSYNC_REGISTRY_HARBOR": "robot$ab1:Planted-Pw-991",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    bootstrap.reset(env)
    try:
        bootstrap.copy_deps(None).destination("harbor.example.com/dr", "ACRSYNC_REGISTRY_HARBOR")
        configure(level="DEBUG", stream=stream)
        header = "Basic " + base64.b64encode(b"robot$ab1:Planted-Pw-991").decode()
        # WHEN an upstream error quotes the Authorization header it was sent
        get_logger("test").error("upstream_failed", error=f"echoed Authorization: {header}")
    finally:
        bootstrap.reset()
    # THEN the header's credentials are masked
    assert header.split()[1] not in stream.getvalue()
    assert "Planted-Pw-991" not in stream.getvalue()
