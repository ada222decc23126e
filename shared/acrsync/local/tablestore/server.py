"""The Tablestore stand-in on 127.0.0.1: the transport of reference §5.4, checked as strictly as the SDK.

Requests: ``POST /<Api>``, protobuf body, ``x-ots-*`` headers signed with SignV2 (HMAC-SHA1 of
``/Api\\nPOST\\n\\n`` + sorted ``x-ots-*`` lines + ``\\n``; ``tablestore/auth.py``). We check the access key,
signature, instance name, STS token, date skew and ``x-ots-contentmd5``. Responses carry every header
``tablestore/protocol.py::_check_headers/_check_authorization`` validates, including the response
signature (HMAC-SHA1 of sorted ``x-ots-*`` lines + ``\\n/Api``). Errors are a protobuf ``Error``.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import random
import uuid
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler
from typing import Any

from acrsync.adapters.tablestore_client import import_tablestore
from acrsync.local.loopback import LoopbackHandler, LoopbackServer
from acrsync.local.tablestore.engine import Engine, StandInError, invalid
from acrsync.local.tablestore.ops import HANDLERS, consumed_of

DATE_FORMAT = "%Y-%m-%dT%H:%M:%S.000Z"
MAX_SKEW_S = 15 * 60


def _sign(secret: str, text: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()).decode()


def _ots_lines(headers: Iterable[tuple[str, str]], skip: frozenset[str] = frozenset()) -> str:
    lines = [
        f"{k.lower()}:{v.strip()}"
        for k, v in headers
        if k.lower().startswith("x-ots-") and k.lower() not in skip
    ]
    return "\n".join(sorted(lines))


class TablestoreStandIn(LoopbackServer):
    """A loopback Tablestore instance. Use as a context manager; ``.endpoint`` is ``http://127.0.0.1:PORT``.

    ``busy_rate`` injects ``OTSServerBusy`` (503) into that fraction of data requests, drawn from a
    ``random.Random(seed)`` so runs repeat; ``busy_apis`` limits injection to those API names.
    """

    server_name = "tablestore-standin"

    def __init__(
        self,
        *,
        access_key_id: str = "LTAIstandin0000000000000",
        access_key_secret: str = "standin-secret-0000000000000000",  # noqa: S107 - a loopback fake key
        instance: str = "acrsync-local",
        sts_token: str | None = None,
        busy_rate: float = 0.0,
        busy_apis: Iterable[str] | None = None,
        seed: int = 0,
    ) -> None:
        self.access_key_id, self.access_key_secret = access_key_id, access_key_secret
        self.instance, self.sts_token = instance, sts_token
        self.busy_rate = busy_rate
        self.busy_apis = frozenset(busy_apis) if busy_apis is not None else None
        self.rng = random.Random(seed)
        self.injected = 0
        self.engine = Engine()
        super().__init__()

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT`` once started (the OTSClient's endpoint is a URL)."""
        return self.url

    def handler(self) -> type[BaseHTTPRequestHandler]:
        """The handler class, bound to this instance."""
        return type("Handler", (_Handler,), {"standin": self})

    def stats(self) -> dict[str, Any]:
        """Requests, errors and capacity units billed so far, per API and in total."""
        with self.engine.lock:
            return self.engine.stats.snapshot()

    def reset_stats(self) -> None:
        """Start counting afresh (data is kept)."""
        with self.engine.lock:
            self.engine.stats = type(self.engine.stats)()

    def client(self, **kwargs: Any) -> Any:
        """A real ``OTSClient`` pointed here with the configured credentials (for tests and demos)."""
        from acrsync.adapters.tablestore_client import build_ots_client

        return build_ots_client(
            self.endpoint, self.instance, self.access_key_id, self.access_key_secret, self.sts_token, **kwargs
        )

    def fail_row(self, table: str, first_key: Any, *, code: str = "OTSServerBusy", times: int = 1) -> None:
        """Make the next ``times`` batch operations on this row (by its first primary-key value) fail alone.

        BatchWriteRow/BatchGetRow report such a row as ``is_ok = false`` with the error code while the other
        rows of the request go through (Tablestore API reference: per-row results in batch responses).
        """
        with self.engine.lock:
            self.engine.row_faults[(table, first_key)] = [code, times]

    def should_inject(self, api: str) -> bool:
        """Draw from the seeded RNG: inject OTSServerBusy for this request?"""
        if self.busy_rate <= 0 or (self.busy_apis is not None and api not in self.busy_apis):
            return False
        with self.engine.lock:
            hit = self.rng.random() < self.busy_rate
            self.injected += hit
        return hit


class _Handler(LoopbackHandler):
    standin: TablestoreStandIn
    wbufsize = 1 << 16  # one segment per response

    def do_POST(self) -> None:
        """Authenticate, maybe inject a fault, dispatch, answer with signed headers."""
        api = self.path.split("?")[0].lstrip("/")
        body = self.read_body()
        engine = self.standin.engine
        try:
            self._authenticate(api, body)
            if api not in HANDLERS:
                raise StandInError(405, "OTSMethodNotAllowed", f"Unsupported operation: '{api}'.")
            if self.standin.should_inject(api):
                raise StandInError(503, "OTSServerBusy", "Server is busy.")
            resp = self._dispatch(api, body)
        except StandInError as exc:
            with engine.lock:
                engine.stats.requests[api] += 1
                engine.stats.errors[f"{api}:{exc.code}"] += 1
                engine.stats.read_cu[api] += exc.read_cu
                engine.stats.write_cu[api] += exc.write_cu
            self._error(api, exc)
            return
        read, write = consumed_of(resp)
        with engine.lock:
            engine.stats.requests[api] += 1
            engine.stats.read_cu[api] += read
            engine.stats.write_cu[api] += write
        self._send(api, 200, resp.SerializeToString(), signed=True)

    def _dispatch(self, api: str, body: bytes) -> Any:
        import_tablestore()
        import tablestore.protobuf.table_store_pb2 as pb

        request_name, handler = HANDLERS[api]
        req = getattr(pb, request_name)()
        try:
            req.ParseFromString(body)
        except Exception:  # noqa: BLE001 - protobuf's DecodeError and friends: any is a bad request
            raise invalid("Failed to parse the protobuf request.") from None
        return handler(self.standin.engine, req)

    def _authenticate(self, api: str, body: bytes) -> None:
        s, h = self.standin, self.headers

        def refuse(message: str) -> StandInError:
            return StandInError(403, "OTSAuthFailed", message)

        if h.get("x-ots-accesskeyid") != s.access_key_id:
            raise refuse("The AccessKeyID does not exist.")
        signing = f"/{api}\nPOST\n\n" + _ots_lines(h.items(), frozenset({"x-ots-signature"})) + "\n"
        if not hmac.compare_digest(h.get("x-ots-signature", ""), _sign(s.access_key_secret, signing)):
            raise refuse("Signature mismatch.")
        if h.get("x-ots-instancename") != s.instance:
            raise refuse(f"Instance not found: {h.get('x-ots-instancename')!r}.")
        if s.sts_token is not None and h.get("x-ots-ststoken") != s.sts_token:
            raise refuse("The security token is invalid.")
        try:
            sent = datetime.datetime.strptime(h.get("x-ots-date", ""), DATE_FORMAT)
        except ValueError:
            raise invalid("Invalid date format: x-ots-date.") from None
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        if abs((now - sent).total_seconds()) > MAX_SKEW_S:
            raise refuse("Mismatch between system time and x-ots-date.")
        md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
        if h.get("x-ots-contentmd5") != md5:
            raise invalid("Content MD5 mismatch.")

    def _error(self, api: str, exc: StandInError) -> None:
        import tablestore.protobuf.table_store_pb2 as pb

        err = pb.Error()
        err.code, err.message = exc.code, exc.message
        # An OTSAuthFailed answer is unsigned: the client's key is what is in doubt (protocol.py skips it).
        self._send(api, exc.status, err.SerializeToString(), signed=exc.code != "OTSAuthFailed")

    def _send(self, api: str, status: int, payload: bytes, *, signed: bool) -> None:
        headers = {
            "x-ots-contentmd5": base64.b64encode(
                hashlib.md5(payload, usedforsecurity=False).digest()
            ).decode(),
            "x-ots-requestid": uuid.uuid4().hex,
            "x-ots-date": datetime.datetime.now(datetime.timezone.utc).strftime(DATE_FORMAT),
            "x-ots-contenttype": "protocol buffer",
        }
        if signed:
            sig = _sign(self.standin.access_key_secret, _ots_lines(headers.items()) + f"\n/{api}")
            headers["authorization"] = f"OTS {self.standin.access_key_id}:{sig}"
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
