"""Which account a caller acts as, and which account owns an instance: the emulator refuses a request on
an instance of another account (``NoPrivilege``, HTTP 403, "Access denied for this user." — the code the ACR
API pages list, e.g. help.aliyun.com/zh/acr/developer-reference/api-cr-2018-12-01-deleterepotag).

Empty by default (one account: every check passes), so single-account tests and the demo are unchanged.
Cross-account tests give an instance to another account with ``own``; the STS stand-in registers the keys it
issues as that account's (``callers``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from acrsync.local.acr_state import AcrApiError


@dataclass
class AccountBook:
    """AccessKey id -> account, instance id -> owning account (absent: the emulated account's own)."""

    callers: dict[str, str] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)

    def own(self, instance_id: str, account: str) -> None:
        """``instance_id`` belongs to ``account``."""
        self.owners[instance_id] = account

    def check(self, access_key_id: str, params: Mapping[str, str], *, home: str) -> None:
        """Refuse a request on an instance owned by an account other than the caller's."""
        owner = self.owners.get(params.get("InstanceId", ""), home)
        if self.callers.get(access_key_id, home) != owner:
            raise AcrApiError("NoPrivilege", "Access denied for this user.", http_status=403)
