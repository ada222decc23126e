"""What the watcher needs and what it reports (shared by ``service.watch`` and ``service.watch_check``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from acrsync.domain.events import RawDataPolicy
from acrsync.domain.ledger import LedgerEntry
from acrsync.domain.watch import WatchPolicy
from acrsync.ports import AlertChannel, Clock, Ledger, Notifier, RegistryApi
from acrsync.service.gate import CallGate
from acrsync.service.submit import Submitter

if TYPE_CHECKING:
    from acrsync.service.copy_jobs import CopyDeps


@dataclass(frozen=True, slots=True)
class WatchDeps:
    """What the watcher needs, wired once per function instance by the bootstrap."""

    ledger: Ledger
    registry: Callable[[str], RegistryApi]
    gate: CallGate
    clock: Clock
    submitter: Submitter
    notifier: Notifier
    channels: Callable[[str], AlertChannel | None]
    allowed_accounts: frozenset[str]
    policy: WatchPolicy = field(default_factory=WatchPolicy)
    sweep_limit: int = 500
    raw_data: RawDataPolicy = field(default_factory=RawDataPolicy)
    # Sends owed outcome events (service.outcomes); set only when ACRSYNC_EVENT_BUS is, so the EventBridge
    # SDK is never imported otherwise. Takes the deadline, returns the events sent.
    publish: Callable[[float], int] | None = None
    # A reader for a cross-account row's destination (through its rule's role_arn), or None: unverifiable.
    cross_account: Callable[[LedgerEntry], RegistryApi | None] | None = None
    copies: CopyDeps | None = None  # copy jobs (``registry:`` destinations), when a copier is wired


@dataclass
class WatchOutcome:
    """Counts of what this invocation did, for the FC response and the summary log line."""

    status: str = "ok"
    actions: dict[str, int] = field(default_factory=dict)
    alerts_sent: int = 0
    reason: str = ""

    def add(self, action: str) -> None:
        """Count one row's outcome."""
        self.actions[action] = self.actions.get(action, 0) + 1

    def take_back(self, action: str) -> None:
        """Uncount one row's outcome (its write lost a race at the batch flush)."""
        if self.actions.get(action, 0) > 0:
            self.actions[action] -= 1
            if not self.actions[action]:
                del self.actions[action]

    def as_response(self) -> dict[str, Any]:
        """The JSON-able dict the handler returns."""
        out: dict[str, Any] = {
            "status": self.status,
            "actions": self.actions,
            "alerts_sent": self.alerts_sent,
        }
        if self.reason:
            out["reason"] = self.reason
        return out
