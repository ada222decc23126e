"""URLs and tokens a registry hands the OCI client (``Location``, ``Link``, a token realm, a token): checked
before anything is sent to them, refused with ``UpstreamRejected`` that never echoes them."""

from __future__ import annotations

import re
from typing import TypeGuard
from urllib.parse import SplitResult, urljoin, urlsplit

from acrsync.domain.oci import is_loopback
from acrsync.errors import UpstreamRejected

_TOKEN_RE = re.compile(r"[A-Za-z0-9\-._~+/]+=*\Z")  # RFC 6750 §2.1 b64token
_MAX_TOKEN_CHARS = 16384


def is_bearer_token(token: object) -> TypeGuard[str]:
    """True for a string that can go into ``Authorization: Bearer`` (no space, CR or LF; at most 16 KiB)."""
    return isinstance(token, str) and len(token) <= _MAX_TOKEN_CHARS and bool(_TOKEN_RE.match(token))


def origin(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` with the default port filled in and the host lower-cased (RFC 6454): a
    ``Location`` of ``https://Registry.example.com:443/...`` is the registry ``https://registry.example.com``."""
    parts = urlsplit(url)
    return (
        parts.scheme,
        (parts.hostname or "").lower(),
        parts.port or (443 if parts.scheme == "https" else 80),
    )


def check_realm(realm: str, registry_base: str) -> None:
    """Refuse a token realm the credentials must not go to. An https realm on another host is what ACR
    (``dockerauth...``) and Docker Hub (``auth.docker.io``) send, so it is allowed; plain http only when
    the registry itself is a loopback http one (a remote registry must not make us send the password in
    clear, nor to a service on the function's own loopback)."""
    registry = urlsplit(registry_base).netloc
    parts = split_url(realm, registry) if "://" in realm else urlsplit("")
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return
    if parts.scheme == "http" and is_loopback(parts.netloc) and registry_base.startswith("http://"):
        return
    raise UpstreamRejected(
        f"{registry}: refusing its token realm {parts.scheme or '(no scheme)'}://{host[:80] or '?'}: "
        "credentials go only to an https realm (plain http only from a loopback registry)",
        code="AUTH_REALM",
    )


def join_url(base_url: str, url: str) -> str:
    try:
        return urljoin(base_url + "/", url)
    except ValueError:  # an absolute URL with a bad IPv6 literal: split_url refuses ""
        return ""


def split_url(url: str, registry: str) -> SplitResult:
    """``url`` split, when it is ``http(s)://HOST[:PORT]/...`` without userinfo; else ``UpstreamRejected``.

    URLs come from the registry (``Location``, ``Link``, a token realm): never echoed, never a traceback."""
    try:
        parts = urlsplit(url)
        has_port = ":" in parts.netloc.rsplit("]", 1)[-1]
        ok = (
            parts.scheme in ("http", "https")
            and bool(parts.hostname)
            and "@" not in parts.netloc
            and (not has_port or bool(parts.port))  # raises past 65535; 0 is no port either
        )
    except ValueError:  # a bad IPv6 literal, a port that is not a number or outside 0-65535
        ok = False
    if not ok:
        raise UpstreamRejected(
            f"{registry}: it named a URL that is not http(s)://HOST[:PORT]/... (refused, not followed)",
            code="INVALID_URL",
        )
    return parts
