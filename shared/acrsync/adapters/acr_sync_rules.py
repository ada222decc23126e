"""``SyncRulesApi``: ACR's ``ListRepoSyncRule`` through ``alibabacloud-cr20181201`` (doctor's overlap check).

Request ``ListRepoSyncRuleRequest(instance_id, page_no, page_size)``; response ``SyncRules[]`` with flat
``Local*`` / ``Target*`` fields and an *integer* ``TotalCount`` ([SDK]
``_list_repo_sync_rule_response_body.py``). RAM action ``cr:ListSyncRule`` (reference §7).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from acrsync.adapters.acr_errors import check_body, translate_error
from acrsync.ports import SyncRulesApi

PAGE_SIZE = 100
MAX_PAGES = 1000


class AcrSyncRules(SyncRulesApi):
    """Lists the built-in sync rules of one region's instances."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def list_repo_sync_rules(self, instance_id: str) -> list[Mapping[str, Any]]:
        from alibabacloud_cr20181201 import models

        rules: list[Mapping[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            request = models.ListRepoSyncRuleRequest(
                instance_id=instance_id, page_no=page, page_size=PAGE_SIZE
            )
            try:
                body = self.client.list_repo_sync_rule(request).body.to_map()
            except Exception as exc:  # noqa: BLE001 - every SDK failure is translated
                raise translate_error(exc, "ListRepoSyncRule") from None
            check_body("ListRepoSyncRule", body)
            chunk = body.get("SyncRules") or []
            rules += chunk
            if len(chunk) < PAGE_SIZE or len(rules) >= int(body.get("TotalCount") or 0):
                break
        return rules

    def list_event_center_rules(self, instance_id: str) -> list[str]:
        from alibabacloud_cr20181201 import models

        request = models.ListEventCenterRuleNameRequest(instance_id=instance_id)
        try:
            body = self.client.list_event_center_rule_name(request).body.to_map()
        except Exception as exc:  # noqa: BLE001 - every SDK failure is translated
            raise translate_error(exc, "ListEventCenterRuleName") from None
        check_body("ListEventCenterRuleName", body)
        return [str(r.get("RuleName", "")) for r in body.get("RuleNames") or []]
