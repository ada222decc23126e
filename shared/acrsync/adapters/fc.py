"""``FunctionsApi`` on the FC 3.0 API through ``alibabacloud-fc20230330`` (not FC 2.0's fc-open20210406).

ROA calls ([SDK] ``alibabacloud_fc20230330/client.py``): ``get_function(name, GetFunctionRequest())``,
``list_triggers(name, ListTriggersRequest(limit, next_token))``, ``get_async_invoke_config(name,
GetAsyncInvokeConfigRequest())``; each response's ``body.to_map()`` gives the wire names. The SDK is
imported only when a client is built (``doctor --deployed``): the functions themselves never import it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from acrsync.adapters.openapi_sdk import sdk_config, status_of, translate
from acrsync.errors import UpstreamRejected
from acrsync.ports import FunctionsApi

MAX_PAGES = 100


def build_fc_client(region: str, endpoint: str = "", **credentials: str) -> Any:
    """The FC 3.0 client: ``fcv3.<region>.aliyuncs.com`` (the SDK's map) or ``ACRSYNC_FC_ENDPOINT``."""
    config = sdk_config(region, endpoint, variable="ACRSYNC_FC_ENDPOINT", **credentials)
    from alibabacloud_fc20230330.client import Client

    return Client(config)


class FcFunctions(FunctionsApi):
    """Reads functions, triggers and async configs."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def get_function(self, name: str) -> Mapping[str, Any] | None:
        from alibabacloud_fc20230330 import models

        return self._maybe("GetFunction", lambda: self.client.get_function(name, models.GetFunctionRequest()))

    def get_async_invoke_config(self, function: str) -> Mapping[str, Any] | None:
        from alibabacloud_fc20230330 import models

        return self._maybe(
            "GetAsyncInvokeConfig",
            lambda: self.client.get_async_invoke_config(function, models.GetAsyncInvokeConfigRequest()),
        )

    def list_triggers(self, function: str) -> list[Mapping[str, Any]]:
        from alibabacloud_fc20230330 import models

        found: list[Mapping[str, Any]] = []
        token = None
        for _ in range(MAX_PAGES):
            try:
                resp = self.client.list_triggers(
                    function, models.ListTriggersRequest(limit=100, next_token=token)
                )
            except Exception as exc:  # noqa: BLE001 - every SDK failure is translated
                raise translate(exc, "FC", "ListTriggers") from None
            body = resp.body.to_map()
            found += [_decoded(t) for t in body.get("triggers") or []]
            token = body.get("nextToken")
            if not token:
                break
        return found

    def _maybe(self, action: str, call: Any) -> Mapping[str, Any] | None:
        try:
            resp = call()
        except Exception as exc:  # noqa: BLE001 - every SDK failure is translated
            if status_of(exc) == 404:
                return None
            raise translate(exc, "FC", action) from None
        body: Mapping[str, Any] = resp.body.to_map()
        return body


def _decoded(trigger: Mapping[str, Any]) -> Mapping[str, Any]:
    """``triggerConfig`` is a JSON string on the wire (the SDK's ``Trigger`` model); decode it once here."""
    raw = trigger.get("triggerConfig")
    if not isinstance(raw, str):
        return trigger
    try:
        return {**trigger, "triggerConfig": json.loads(raw) if raw else {}}
    except (ValueError, RecursionError):  # nested past the recursion limit is "not JSON" too
        raise UpstreamRejected(
            f"FC trigger {trigger.get('triggerName')}: triggerConfig is not JSON"
        ) from None
