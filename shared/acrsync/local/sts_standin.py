"""A loopback STS (2015-04-01) ``AssumeRole`` for cross-account reads, as ``alibabacloud-credentials``'
``RamRoleArnCredentialsProvider`` calls it.

Wire format, read from the provider (``alibabacloud_credentials/provider/ram_role_arn.py``, 1.0.12): a GET to
``https://<sts_endpoint>/?Action=AssumeRole&Format=JSON&Version=2015-04-01&DurationSeconds=..&RoleArn=..&
RoleSessionName=..&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0&Timestamp=..&SignatureNonce=..&
AccessKeyId=..[&SecurityToken=..]&Signature=..``, the signature being base64(HMAC-SHA1(secret + "&",
"GET&%2F&" + quote_plus(sorted query))) (``utils/parameter_helper.py``). The response it parses:
``{"RequestId", "AssumedRoleUser": {"Arn", "AssumedRoleId"}, "Credentials": {"AccessKeyId", "AccessKeySecret",
"SecurityToken", "Expiration": "YYYY-MM-DDTHH:MM:SSZ"}}``; error bodies ``{"RequestId","HostId","Code",
"Message","Recommend"}`` (STS AssumeRole API reference, help.aliyun.com/document_detail/371864.html).

The provider always speaks **HTTPS** (``tea_request.protocol = 'https'``, not configurable) and verifies
the certificate (``TeaCore`` builds its context with ``ssl.create_default_context()`` plus certifi). So the
stand-in
serves TLS with a certificate for 127.0.0.1 from its own throw-away CA, and a client trusts it the way any
host trusts a private CA: ``SSL_CERT_FILE`` names the CA file (OpenSSL's default verify path), set by the
caller (tests, ``acr-sync local up``). No SDK code is patched.

Issued credentials are registered with the ACR emulator as STS keys of the role's account, so the emulator
answers reads of that account's instances only when signed with them.
"""

from __future__ import annotations

import atexit
import base64
import datetime as dt
import functools
import hashlib
import hmac
import ipaddress
import json
import secrets
import ssl
import tempfile
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlsplit

from acrsync.local.acr_emulator import AcrEmulator
from acrsync.local.loopback import LoopbackHandler, LoopbackHTTPServer, LoopbackServer

ROLE_ARN_PREFIX = "acs:ram::"
MAX_SKEW_S = 15 * 60


@dataclass
class Role:
    """A RAM role in ``account`` that accounts in ``trusts`` may assume."""

    arn: str
    trusts: frozenset[str]
    max_session_s: int = 3600

    @property
    def account(self) -> str:
        """The account the role lives in (from ``acs:ram::ACCOUNT:role/NAME``)."""
        return self.arn.removeprefix(ROLE_ARN_PREFIX).split(":", 1)[0]


@dataclass
class StsState:
    """Who may call (AccessKey id -> (secret, account)) and which roles exist; what was issued."""

    callers: dict[str, tuple[str, str]]
    roles: dict[str, Role] = field(default_factory=dict)
    issued: list[tuple[str, str]] = field(default_factory=list)  # (role arn, STS AccessKey id)
    nonces: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


class StsError(Exception):
    """An STS error answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


def string_to_sign(query: Mapping[str, str]) -> str:
    """RPC signature v1 over a GET: the provider's ``compose_string_to_sign``."""
    canonical = "&".join(f"{quote_plus(k)}={quote_plus(query[k])}" for k in sorted(query))
    return f"GET&{quote_plus('/')}&{quote_plus(canonical)}"


def sign(text: str, secret: str) -> str:
    """base64(HMAC-SHA1(secret + "&", text))."""
    return base64.b64encode(hmac.new(f"{secret}&".encode(), text.encode(), hashlib.sha1).digest()).decode()


class _Server(LoopbackHTTPServer):
    standin: StsStandIn  # LoopbackServer.start sets it (owner_attribute)


class StsStandIn(LoopbackServer):
    """``with StsStandIn(emulator, callers={AK: (SK, ACCOUNT)}) as sts:`` then ``sts.add_role(...)``;
    point the provider at ``sts.endpoint`` and trust ``sts.ca_file`` (``SSL_CERT_FILE``)."""

    server_class = _Server
    owner_attribute = "standin"
    server_name = "STS stand-in"  # ``endpoint`` (``127.0.0.1:PORT``) is the provider's ``sts_endpoint``

    def __init__(self, emulator: AcrEmulator, *, callers: Mapping[str, tuple[str, str]]) -> None:
        self.emulator = emulator
        self.state = StsState(dict(callers))
        # One CA per process: the SDK caches its TLS sessions per host:port, so a later stand-in on a reused
        # port must present a certificate the cached session still trusts.
        self.ca_file, self._cert, self._key = _certificates()
        super().__init__()

    def add_role(self, arn: str, *, trusts: set[str]) -> Role:
        """A role the given accounts may assume."""
        role = Role(arn, frozenset(trusts))
        self.state.roles[arn] = role
        return role

    def tls_context(self) -> ssl.SSLContext:
        """The provider only speaks HTTPS: serve TLS with the stand-in CA's certificate for 127.0.0.1."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self._cert, self._key)
        return context

    def handler(self) -> type[BaseHTTPRequestHandler]:
        """The AssumeRole handler."""
        return _Handler

    # ------------------------------------------------------------------ AssumeRole
    def assume_role(self, query: Mapping[str, str]) -> dict[str, Any]:
        """Check the request as STS would and issue temporary credentials of the role's account."""
        caller_account = self._authenticate(query)
        if query.get("Action") != "AssumeRole" or query.get("Version") != "2015-04-01":
            raise StsError(400, "InvalidAction.NotFound", "Specified api is not found.")
        role = self.state.roles.get(query.get("RoleArn", ""))
        if role is None:
            raise StsError(404, "EntityNotExist.Role", "The specified Role not exists .")
        if caller_account not in role.trusts:
            raise StsError(403, "NoPermission", "You are not authorized to do this action.")
        duration = int(query.get("DurationSeconds") or 3600)
        if not 900 <= duration <= role.max_session_s:
            raise StsError(400, "InvalidParameter.DurationSeconds", "The parameter DurationSeconds is wrong.")
        key_id, secret, token = (
            f"STS.{secrets.token_hex(12)}",
            secrets.token_hex(16),
            f"CAIS{secrets.token_hex(24)}",
        )
        self.emulator.keys.sts[key_id] = (secret, token)
        self.emulator.accounts.callers[key_id] = role.account
        with self.state.lock:
            self.state.issued.append((role.arn, key_id))
        expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=duration)
        session = query.get("RoleSessionName", "")
        return {
            "RequestId": str(uuid.uuid4()).upper(),
            "AssumedRoleUser": {
                "Arn": f"{role.arn.replace(':role/', ':assumed-role/')}/{session}",
                "AssumedRoleId": f"3{secrets.randbelow(10**17):017d}:{session}",
            },
            "Credentials": {
                "AccessKeyId": key_id,
                "AccessKeySecret": secret,
                "SecurityToken": token,
                "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        }

    def _authenticate(self, query: Mapping[str, str]) -> str:
        key_id = query.get("AccessKeyId", "")
        caller = self.state.callers.get(key_id)
        sts_pair = self.emulator.keys.sts.get(key_id)
        if caller is None and sts_pair is None:
            raise StsError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        secret = caller[0] if caller else sts_pair[0] if sts_pair else ""
        if sts_pair is not None and query.get("SecurityToken") != sts_pair[1]:
            raise StsError(400, "InvalidSecurityToken.Mismatch", "Specified SecurityToken mismatch.")
        unsigned = {k: v for k, v in query.items() if k != "Signature"}
        if not hmac.compare_digest(sign(string_to_sign(unsigned), secret), query.get("Signature", "")):
            raise StsError(
                400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation."
            )
        _check_time(query.get("Timestamp", ""))
        with self.state.lock:
            if query.get("SignatureNonce", "") in self.state.nonces:
                raise StsError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
            self.state.nonces.add(query.get("SignatureNonce", ""))
        return caller[1] if caller else self.emulator.accounts.callers.get(key_id, "")


def _check_time(stamp: str) -> None:
    try:
        when = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        raise StsError(
            400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted."
        ) from None
    if abs((dt.datetime.now(dt.timezone.utc) - when).total_seconds()) > MAX_SKEW_S:
        raise StsError(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")


class _Handler(LoopbackHandler):
    server: _Server

    def do_GET(self) -> None:
        query = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        try:
            status, doc = 200, self.server.standin.assume_role(query)
        except StsError as err:
            rid = str(uuid.uuid4()).upper()
            status = err.status
            doc = {"RequestId": rid, "HostId": "sts.aliyuncs.com", "Code": err.code, "Message": err.message}
        payload = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@functools.cache
def _certificates() -> tuple[str, str, str]:
    where = tempfile.TemporaryDirectory(prefix="acrsync-sts-")
    atexit.register(where.cleanup)
    return _make_certificates(Path(where.name))


def _make_certificates(where: Path) -> tuple[str, str, str]:
    """A throw-away CA and a server certificate for 127.0.0.1 signed by it: (ca file, cert file, key file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "acr-sync stand-in CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = (where / "ca.pem", where / "server.pem", where / "server.key")
    paths[0].write_bytes(ca.public_bytes(pem))
    paths[1].write_bytes(cert.public_bytes(pem))
    paths[2].write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(paths[0]), str(paths[1]), str(paths[2])
