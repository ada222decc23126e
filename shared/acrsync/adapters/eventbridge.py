"""``EventRulesApi`` and ``EventBus`` on EventBridge 2020-04-01 (``alibabacloud-eventbridge20200401``).

RPC calls ([SDK] ``alibabacloud_eventbridge20200401/client.py``): ``get_rule(GetRuleRequest(event_bus_name,
rule_name))`` and ``put_events(PutEventsRequest(event_bus_name, event_list=[PutEventsRequestEventList(id,
source, type, subject, time, data, data_content_type, spec_version)]))``; ``body.to_map()`` gives
``{Code, Success, Message, Data}``. PutEvents takes at most 16 events per call
(help.aliyun.com/document_detail/164006.htm); per-event failures come back in ``Data.EntryList`` with an
``ErrorCode`` and count in ``FailedEntryCount``. Imported lazily: a function publishes only when
``ACRSYNC_EVENT_BUS`` is set, and only its watcher does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from acrsync.adapters.openapi_sdk import sdk_config, status_of, translate
from acrsync.errors import UpstreamRejected, UpstreamUnavailable
from acrsync.ports import EventBus, EventRulesApi


def build_eventbridge_client(region: str, endpoint: str = "", **credentials: str) -> Any:
    """The EventBridge client: the SDK's regional endpoint, or ``ACRSYNC_EVENTBRIDGE_ENDPOINT``."""
    config = sdk_config(region, endpoint, variable="ACRSYNC_EVENTBRIDGE_ENDPOINT", **credentials)
    from alibabacloud_eventbridge20200401.client import Client

    return Client(config)


class EventBridgeRules(EventRulesApi):
    """Reads rules (with their targets)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def get_rule(self, bus: str, name: str) -> Mapping[str, Any] | None:
        from alibabacloud_eventbridge20200401 import models

        try:
            resp = self.client.get_rule(models.GetRuleRequest(event_bus_name=bus, rule_name=name))
        except Exception as exc:  # noqa: BLE001 - every SDK failure is translated
            if status_of(exc) == 404:
                return None
            raise translate(exc, "EventBridge", "GetRule") from None
        body = resp.body.to_map()
        if body.get("Success") is False:
            raise UpstreamRejected(f"EventBridge GetRule failed: {body.get('Code')}: {body.get('Message')}")
        data: Mapping[str, Any] = body.get("Data") or {}
        return data


class EventBridgeBus(EventBus):
    """Publishes through ``PutEvents``."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def put_events(self, bus: str, events: Sequence[Mapping[str, Any]]) -> set[str]:
        from alibabacloud_eventbridge20200401 import models

        if not 0 < len(events) <= self.max_batch:
            raise ValueError(f"put_events takes 1..{self.max_batch} events, got {len(events)}")
        entries = [
            models.PutEventsRequestEventList(
                id=e["id"],
                source=e["source"],
                type=e["type"],
                subject=e.get("subject"),
                time=e.get("time"),
                data=json.dumps(e.get("data", {}), separators=(",", ":"), sort_keys=True),
                data_content_type="application/json",
                spec_version=e.get("specversion", "1.0"),
            )
            for e in events
        ]
        try:
            resp = self.client.put_events(models.PutEventsRequest(event_bus_name=bus, event_list=entries))
        except Exception as exc:  # noqa: BLE001 - every SDK failure is translated
            raise translate(exc, "EventBridge", "PutEvents") from None
        body = resp.body.to_map()
        if body.get("Success") is False:
            raise UpstreamUnavailable(f"EventBridge PutEvents failed: {body.get('Code')}", code="PutEvents")
        listed = (body.get("Data") or {}).get("EntryList") or []
        return {str(e.get("EventId")) for e in listed if e.get("EventId") and not e.get("ErrorCode")}
