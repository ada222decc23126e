"""What a reconciler slice takes (``ReconcileDeps``, ``Options``) and gives back (``SliceReport`` with the
pass's ``Tally``). ``service.reconcile`` runs the slice and re-exports these names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from acrsync.domain.reconcile import Finding, RulePolicy
from acrsync.domain.rules_eval import RuleIndex
from acrsync.ports import Clock, Ledger, RegistryApi, StateStore
from acrsync.service.gate import CallGate
from acrsync.service.referrers import ReferrerDeps
from acrsync.service.submit import Submitter

# Stop starting repositories this long before the deadline: one repository's audit (a few pages and any
# repairs) fits in it, and the cursor write after it too.
SLICE_MARGIN_S = 20.0


@dataclass(frozen=True, slots=True)
class ReconcileDeps:
    """What a reconciler slice needs; ``policies`` also scopes the pass (rules not in it are skipped)."""

    index: RuleIndex
    policies: Mapping[str, RulePolicy]
    ledger: Ledger
    registry: Callable[[str], RegistryApi]
    gate: CallGate
    clock: Clock
    submitter: Submitter
    state: StateStore
    region: str
    role_registry: Callable[[str, str], RegistryApi] | None = None
    referrers: ReferrerDeps | None = None  # tagless referrers follow recent images (None: not wired)


@dataclass(frozen=True, slots=True)
class Options:
    """``write`` false = dry run; ``prune`` allows deletions (rules must still say ``prune: true``)."""

    write: bool = True
    prune: bool = True
    repository: str = ""
    cursor: bool = True  # the function resumes a pass; the CLI audits a whole pass on its own
    margin_s: float = SLICE_MARGIN_S
    recheck_all: bool = False  # copy destinations: HEAD every tag, not this pass's share (reconcile_copy)


@dataclass
class Tally:
    """Counts of a pass (kept in the cursor between slices) and examples of events missed."""

    kinds: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    events_missed: int = 0
    examples: list[str] = field(default_factory=list)
    referrers: dict[str, int] = field(default_factory=dict)  # the referrer step's counts (service.referrers)
    copies: dict[str, int] = field(default_factory=dict)  # copy destinations' registry reads (reconcile_copy)

    def add(self, finding: Finding) -> None:
        """Count one finding."""
        self.kinds[finding.kind.value] = self.kinds.get(finding.kind.value, 0) + 1
        if finding.outcome:
            self.outcomes[finding.outcome] = self.outcomes.get(finding.outcome, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        """JSON-able (the cursor stores it)."""
        return {
            "kinds": dict(self.kinds),
            "outcomes": dict(self.outcomes),
            "events_missed": self.events_missed,
            "examples": list(self.examples),
            "referrers_copied": self.referrers.get("copied", 0),
            "referrers": dict(self.referrers),
            "copy_destinations": dict(self.copies),
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Tally:
        """Back from the cursor."""
        return cls(
            dict(doc.get("kinds", {})),
            dict(doc.get("outcomes", {})),
            int(doc.get("events_missed", 0)),
            list(doc.get("examples", [])),
            dict(doc.get("referrers", {})),
            dict(doc.get("copy_destinations", {})),
        )


@dataclass
class SliceReport:
    """One slice: the pass it belongs to, what it did, and whether the pass completed."""

    pass_id: str
    repositories: int = 0
    pass_repositories: int = 0
    completed: bool = False
    stopped: str = ""
    tally: Tally = field(default_factory=Tally)
    api_calls: int = 0
    summary: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The handler's response and ``audit --json``'s summary."""
        return {
            "pass_id": self.pass_id,
            "repositories": self.repositories,
            "pass_repositories": self.pass_repositories,
            "completed": self.completed,
            "stopped": self.stopped,
            "api_calls": self.api_calls,
            **self.tally.as_dict(),
        }
