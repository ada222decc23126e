"""``doctor``: cross-account destinations — read through their ``role_arn``, or unverifiable."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from acrsync.service.doctor import PASS, WARN, Check

ROLE_FIX = (
    "add role_arn: acs:ram::{account}:role/NAME to the destination — a role in that account whose trust "
    "policy names the function's role, with cr:ListRepository, cr:ListRepositoryTag and cr:GetRepository"
)


def cross_account_checks(rules: tuple[Mapping[str, Any], ...]) -> Iterator[Check]:
    """One line per cross-account destination of an enabled rule."""
    seen: set[tuple[str, str]] = set()
    for rule in rules:
        if not rule.get("enabled", True):
            continue
        for dest in rule.get("destinations", []):
            account = str(dest.get("account") or "")
            if not account:  # also every copy destination (registry:), which has no instance nor account
                continue
            key = (str(dest["instance"]), account)
            if key in seen:
                continue
            seen.add(key)
            name = f"cross-account destination {dest['instance']}@{dest['region']} (account {account})"
            if dest.get("role_arn"):
                yield Check(name, PASS, f"read through {dest['role_arn']} (verify, audit)")
            else:
                detail = (
                    "unverifiable: acr-sync cannot read another account's registry, so it is never verified"
                )
                yield Check(name, WARN, detail, ROLE_FIX.format(account=account))
