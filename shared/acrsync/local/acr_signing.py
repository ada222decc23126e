"""Server-side check of the ACS3-HMAC-SHA256 signature the tea-openapi SDK puts on every request.

A port of ``alibabacloud_tea_openapi/utils.py::Utils.get_authorization`` (0.4.6):

    canonical_request = METHOD \\n URI \\n canonical_query \\n canonical_headers \\n signed_headers \\n
                        payload_hash
    string_to_sign    = "ACS3-HMAC-SHA256" \\n hex(sha256(canonical_request))
    signature         = hex(hmac_sha256(secret, string_to_sign))

``canonical_query`` sorts keys and percent-encodes values with only ``~`` safe; ``canonical_headers`` is the
lower-cased signed headers, values stripped, ``name:value\\n`` each. Error codes: reference §2.2.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from urllib.parse import quote

from acrsync.local.acr_state import AcrApiError

ALGORITHM = "ACS3-HMAC-SHA256"
MAX_SKEW_S = 15 * 60  # ⚠ assumed: the gateway's accepted clock skew


@dataclass
class KeyStore:
    """AccessKey pairs the emulator accepts; ``sts`` maps an STS AccessKey id to (secret, security token)."""

    secrets: dict[str, str]
    sts: dict[str, tuple[str, str]] = field(default_factory=dict)
    _nonces: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def secret_of(self, access_key_id: str) -> str | None:
        """The secret of a long-term or STS AccessKey id, or None if unknown."""
        if access_key_id in self.secrets:
            return self.secrets[access_key_id]
        pair = self.sts.get(access_key_id)
        return pair[0] if pair else None

    def use_nonce(self, nonce: str) -> bool:
        """Remember a signature nonce; False if it was already used (a replayed request)."""
        with self._lock:
            if nonce in self._nonces:
                return False
            self._nonces.add(nonce)
            return True


class KeyedStandin:
    """A stand-in that checks signatures against ``keys``: its first pair is what tests and the demo use."""

    keys: KeyStore

    @property
    def access_key_id(self) -> str:
        """The first configured AccessKey id (tests use it with ``access_key_secret``)."""
        return next(iter(self.keys.secrets))

    @property
    def access_key_secret(self) -> str:
        """The secret of ``access_key_id``."""
        return self.keys.secrets[self.access_key_id]


def canonical_query(params: Mapping[str, str]) -> str:
    """Sorted ``key=value`` pairs, values encoded as tea-openapi's ``get_canonical_query_string`` does."""
    return "&".join(f"{key}={quote(params[key], safe='~', encoding='utf-8')}" for key in sorted(params))


def string_to_sign(
    *,
    method: str,
    path: str,
    params: Mapping[str, str],
    headers: Message,
    signed: list[str],
    payload_hash: str,
) -> str:
    """The ACS3 string to sign for a request as received."""
    canon_headers = "".join(
        f"{name}:{','.join(sorted(v.strip() for v in headers.get_all(name) or []))}\n" for name in signed
    )
    canonical = "\n".join(
        [method, path or "/", canonical_query(params), canon_headers, ";".join(signed), payload_hash]
    )
    return f"{ALGORITHM}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"


def sign(secret: str, to_sign: str) -> str:
    """Hex HMAC-SHA256 of the string to sign."""
    return hmac.new(secret.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def _parse_authorization(value: str) -> tuple[str, list[str], str]:
    scheme, _, rest = value.partition(" ")
    if scheme != ALGORITHM:
        raise _incomplete()
    parts = dict(item.strip().partition("=")[::2] for item in rest.split(","))
    try:
        return parts["Credential"], parts["SignedHeaders"].split(";"), parts["Signature"]
    except KeyError:
        raise _incomplete() from None


def _incomplete() -> AcrApiError:
    return AcrApiError("IncompleteSignature", "The request signature does not conform to Aliyun standards.")


def verify_request(
    keys: KeyStore, *, method: str, path: str, params: Mapping[str, str], headers: Message, body: bytes
) -> str:
    """Check the signature, date, nonce and STS token of a request; return the AccessKey id or raise."""
    access_key_id, signed, signature = _parse_authorization(headers.get("authorization", ""))
    # ACS3 (V3) signing covers host and every x-acs-* header the request carries: a request that leaves one
    # unsigned (or has no nonce) could be altered or replayed, and the gateway refuses it.
    required = {"host", *(h.lower() for h in headers if h.lower().startswith("x-acs-"))}
    if not required <= {h.lower() for h in signed} or not headers.get("x-acs-signature-nonce"):
        raise _incomplete()
    secret = keys.secret_of(access_key_id)
    if secret is None:
        raise AcrApiError(
            "InvalidAccessKeyId.NotFound", "Specified access key is not found.", http_status=404
        )
    payload_hash = headers.get("x-acs-content-sha256", "")
    if payload_hash != hashlib.sha256(body).hexdigest():
        raise AcrApiError("SignatureDoesNotMatch", "Specified content sha256 does not match the body.")
    expected = sign(
        secret,
        string_to_sign(
            method=method, path=path, params=params, headers=headers, signed=signed, payload_hash=payload_hash
        ),
    )
    if not hmac.compare_digest(expected, signature):
        raise AcrApiError("SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
    _check_date(headers.get("x-acs-date", ""))
    if not keys.use_nonce(headers.get("x-acs-signature-nonce", "")):
        raise AcrApiError("SignatureNonceUsed", "Specified signature nonce was used already.")
    _check_sts(keys, access_key_id, headers)
    return access_key_id


def _check_date(value: str) -> None:
    try:
        stamp = calendar.timegm(time.strptime(value, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        raise AcrApiError(
            "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted."
        ) from None
    if abs(time.time() - stamp) > MAX_SKEW_S:
        raise AcrApiError("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")


def _check_sts(keys: KeyStore, access_key_id: str, headers: Message) -> None:
    pair = keys.sts.get(access_key_id)
    if pair is None:
        return
    token = headers.get("x-acs-security-token", "")
    if not token:
        raise AcrApiError("MissingSecurityToken", "SecurityToken is mandatory for this action.")  # ⚠ assumed
    # x-acs-accesskey-id must name the same key as the Authorization credential (the SDK sends both).
    if not hmac.compare_digest(token, pair[1]) or headers.get("x-acs-accesskey-id") != access_key_id:
        raise AcrApiError(
            "InvalidSecurityToken.Mismatch", "Specified SecurityToken mismatch with the AccessKey."
        )
