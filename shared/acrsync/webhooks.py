"""The one rule for DingTalk webhook URLs: the configuration, the notifier and ``doctor`` all ask here.

A webhook is accepted when it is ``https://oapi.dingtalk.com/...?access_token=...`` (the custom robot's
address, reference §6) or plain ``http`` to a loopback host — exactly ``127.0.0.1``, ``::1`` or
``localhost`` (the local sink) — with an ``access_token``. URLs are parsed (``urllib.parse``), never
matched by prefix: ``http://127.0.0.1.evil.example/`` is not loopback, ``https://oapi.dingtalk.com@evil/``
is not DingTalk.

The URL is a secret (its token is the robot's credential), and a mis-set variable may hold anything, even
another credential: ``place`` is all of it a message may show — scheme and host, or ``(not a URL)``.
Pure: no I/O (not in ``domain`` only because the domain may not import ``urllib``).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

DINGTALK_HOST = "oapi.dingtalk.com"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
NOT_A_URL = "(not a URL)"


@dataclass(frozen=True, slots=True)
class WebhookProblem:
    """Why a webhook is refused: a stable ``code`` and a ``reason`` that quotes only its ``place``."""

    code: str
    reason: str


def _split(url: str) -> urllib.parse.SplitResult | None:
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts


def place(url: str) -> str:
    """``scheme://host`` of a webhook (``[::1]`` bracketed), or ``(not a URL)``: safe to print or log."""
    parts = _split(url)
    if parts is None or parts.hostname is None:
        return NOT_A_URL
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}"


def access_token(url: str) -> str:
    """The ``access_token`` query parameter, or ``""``."""
    parts = _split(url)
    if parts is None:
        return ""
    return urllib.parse.parse_qs(parts.query).get("access_token", [""])[0]


def webhook_problem(url: str) -> WebhookProblem | None:
    """``None`` when ``url`` is a webhook acr-sync may post to, else the reason it may not."""
    parts = _split(url)
    where = place(url)
    if parts is None:
        return WebhookProblem(
            "webhook_invalid",
            f"the DingTalk webhook {where} must be an http(s) URL with a host "
            f"(https://{DINGTALK_HOST}/robot/send?access_token=...)",
        )
    if parts.username is not None or parts.password is not None:
        return WebhookProblem(
            "webhook_invalid", f"the DingTalk webhook {where} must not carry a user or password"
        )
    loopback = parts.hostname in LOOPBACK_HOSTS
    if parts.scheme == "http" and not loopback:
        return WebhookProblem(
            "webhook_not_https",
            f"the DingTalk webhook {where} must be https "
            "(http is allowed only for 127.0.0.1, ::1 and localhost)",
        )
    if (
        parts.scheme == "https"
        and not loopback
        and (parts.hostname != DINGTALK_HOST or parts.port not in (None, 443))
    ):
        return WebhookProblem(
            "webhook_host",
            f"the DingTalk webhook {where} must be on https://{DINGTALK_HOST} (the robot's address)",
        )
    if not access_token(url):
        return WebhookProblem("webhook_no_token", f"the DingTalk webhook {where} has no access_token")
    return None
