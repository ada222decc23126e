"""``doctor --deployed``: an instance whose sync rules or event-notification rules cannot be read is a WARN
whose fix matches the error (a missing instance is not a missing permission), and whose detail says the
failure once."""

from __future__ import annotations

from typing import Any

import pytest

from acrsync.errors import AcrSyncError, UpstreamRejected, UpstreamUnavailable
from acrsync.service.sync_rule_overlap import overlaps


class _FailingSyncRules:
    def __init__(self, exc: AcrSyncError) -> None:
        self.exc = exc

    def list_repo_sync_rules(self, instance: str) -> list[dict[str, Any]]:
        raise self.exc

    def list_event_center_rules(self, instance: str) -> list[str]:
        raise self.exc


class _Deps:
    def __init__(self, exc: AcrSyncError) -> None:
        self.sync_rules = _FailingSyncRules(exc)
        self.source_instances = ("cri-xxxxxxxxxxxx",)

    def acr_rules(self) -> list[Any]:
        return []


def _checks(exc: AcrSyncError) -> dict[str, Any]:
    return {c.name.split(" cri-")[0]: c for c in overlaps(_Deps(exc))}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exc", "says", "never"),
    [
        (
            UpstreamRejected("ACR X failed: INSTANCE_NOT_EXIST (HTTP 200)", code="INSTANCE_NOT_EXIST"),
            "no such instance in this region",
            "grant",
        ),
        (
            UpstreamRejected("ACR X failed: Forbidden.RAM (HTTP 403)", code="Forbidden.RAM"),
            "grant cr:",
            "no such instance",
        ),
        (UpstreamUnavailable("ACR X failed: Throttling (HTTP 400)", code="Throttling"), "again", "grant"),
    ],
)
def test_given_an_unreadable_instance_when_checked_then_the_fix_matches_the_error(
    exc: AcrSyncError, says: str, never: str
) -> None:
    checks = _checks(exc)
    assert set(checks) == {"built-in sync rules", "event notification"}
    for check in checks.values():
        assert check.status == "WARN"
        assert says in check.fix
        assert never not in check.fix
        assert check.detail == str(exc)  # the error once, not "X failed: ACR X failed: ..."
