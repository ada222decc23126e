"""A loopback EventBridge API (2020-04-01) that the real ``alibabacloud-eventbridge20200401`` client talks to.

RPC style ([SDK] ``alibabacloud_eventbridge20200401/client.py``, 8.7.0): ``POST /`` with ``x-acs-action``;
``GetRule(EventBusName, RuleName)`` and ``ListTargets`` send their parameters in the query string;
``PutEvents`` sends a form body ``EventBusName=...&EventList=<JSON array>`` (the SDK's "shrink" of
``EventList``, entries with ``Id, Source, Type, Subject, Time, Data, DataContentType, SpecVersion``).
Responses are ``{"Code","Success","Message","Data",...}``: GetRule's ``Data`` carries ``RuleName,
EventBusName, FilterPattern, Status (ENABLE|DISABLE), RuleARN, Targets[{Id, Type, Endpoint, ParamList
[{ResourceKey, Form, Value}]}]``; PutEvents' ``Data`` is ``{FailedEntryCount, EntryList[{EventId,
TraceId, ErrorCode, ErrorMessage}]}``. PutEvents limits (help.aliyun.com/document_detail/164006.htm): at
most 16 events per call, 64 KB each, 256 KB in all; custom events go to custom buses only, service events
to ``default`` (alibabacloud.com/help/en/doc-detail/163897.htm). ⚠ The error codes
``EventBusNotExist`` / ``EventRuleNotExisted`` are assumed from the API's error-code list.

``fail_rate`` makes a share of PutEvents calls fail with HTTP 500 (the outage tests); every event that was
accepted is kept per bus in ``received`` (the demo's "subscriber").
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import parse_qsl

from acrsync.local.openapi_standin import ApiError, OpenApiStandin

API_VERSION = "2020-04-01"
MAX_EVENTS_PER_CALL = 16
MAX_EVENT_BYTES = 64 * 1024
MAX_CALL_BYTES = 256 * 1024


@dataclass
class EventBridgeState:
    """Buses (``default`` always exists), their rules (GetRule ``Data`` bodies) and the events received."""

    rules: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: {"default": {}})
    received: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    fail_rate: float = 0.0
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_bus(self, name: str) -> None:
        """Create a custom bus."""
        self.rules.setdefault(name, {})
        self.received.setdefault(name, [])

    def route(
        self, method: str, path: str, params: Mapping[str, str], headers: Message, body: bytes
    ) -> dict[str, Any]:
        """Answer one request (the stand-in's router)."""
        action = headers.get("x-acs-action", "")
        if path != "/" or method != "POST" or headers.get("x-acs-version") != API_VERSION:
            raise ApiError(
                "InvalidAction.NotFound", f"{method} {path} {action} is not served", http_status=404
            )
        if action == "GetRule":
            return self._ok(self._rule(params.get("EventBusName", ""), params.get("RuleName", "")))
        if action == "ListTargets":
            rule = self._rule(params.get("EventBusName", ""), params.get("RuleName", ""))
            return self._ok({"Targets": rule.get("Targets", []), "NextToken": "", "Total": 0})
        if action == "PutEvents":
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            return self._ok(self._put(form.get("EventBusName", ""), form.get("EventList", "")))
        raise ApiError("InvalidAction.NotFound", f"action {action!r} is not served", http_status=404)

    @staticmethod
    def _ok(data: dict[str, Any]) -> dict[str, Any]:
        return {"Code": "Success", "Success": True, "Message": "success", "Data": data}

    def _bus(self, name: str) -> dict[str, dict[str, Any]]:
        if name not in self.rules:
            raise ApiError("EventBusNotExist", f"The event bus [{name}] not existed!", http_status=404)
        return self.rules[name]

    def _rule(self, bus: str, name: str) -> dict[str, Any]:
        rule = self._bus(bus).get(name)
        if rule is None:
            raise ApiError("EventRuleNotExisted", f"The event rule [{name}] not existed!", http_status=404)
        return dict(rule)

    def _put(self, bus: str, raw: str) -> dict[str, Any]:
        self._bus(bus)
        if bus == "default":
            raise ApiError("EventBusNotSupported", "custom events cannot be put on the default bus")
        try:
            events = json.loads(raw)
        except ValueError:
            raise ApiError("InvalidArgument", "EventList is not a JSON array") from None
        if not isinstance(events, list) or not 0 < len(events) <= MAX_EVENTS_PER_CALL:
            raise ApiError("InvalidArgument", f"EventList must hold 1..{MAX_EVENTS_PER_CALL} events")
        if len(raw.encode("utf-8")) > MAX_CALL_BYTES:
            raise ApiError("InvalidArgument", "the events exceed 256 KB in all")
        with self._lock:
            if self.fail_rate and self.rng.random() < self.fail_rate:
                raise ApiError("InternalError", "injected outage", http_status=500)
            entries = [self._accept(bus, event) for event in events]
        failed = sum(1 for e in entries if "ErrorCode" in e)
        return {"FailedEntryCount": failed, "EntryList": entries}

    def _accept(self, bus: str, event: Any) -> dict[str, Any]:
        required = ("Id", "Source", "Type")
        if not isinstance(event, dict) or any(not event.get(k) for k in required):
            return {"ErrorCode": "InvalidArgument", "ErrorMessage": "Id, Source and Type are required"}
        if len(json.dumps(event).encode("utf-8")) > MAX_EVENT_BYTES:
            return {"EventId": event["Id"], "ErrorCode": "InvalidArgument", "ErrorMessage": "event > 64 KB"}
        self.received.setdefault(bus, []).append(event)
        return {"EventId": event["Id"], "TraceId": uuid.uuid4().hex}


def eventbridge_standin(state: EventBridgeState) -> OpenApiStandin:
    """A stand-in serving ``state`` (start it, or use it as a context manager)."""
    return OpenApiStandin(state.route, name="eventbridge")
