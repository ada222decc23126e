"""A copier that FC refuses to start for good (no such function, no permission) fails the copy row at once
with what to fix — it does not escape the replicator or the watcher, nor wait out three copier timeouts."""

from __future__ import annotations

from acrsync.domain.ledger import State
from acrsync.errors import UpstreamRejected
from acrsync.ports import CopyLauncher
from acrsync.service.copy_jobs import follow, launch
from tests.unit.test_copy_destinations import _claimed, _deps


class RefusingLauncher(CopyLauncher):
    """FC answering InvokeFunction with a permanent error, as ``FcCopyLauncher`` raises it."""

    def __init__(self) -> None:
        self.launched: list[str] = []

    def launch(self, claim_id: str) -> None:
        self.launched.append(claim_id)
        raise UpstreamRejected("InvokeFunction acr-sync-copier: AccessDenied", code="AccessDenied")


def test_given_fc_refusing_the_copier_when_launched_then_the_row_fails_saying_what_to_fix() -> None:
    launcher = RefusingLauncher()
    deps, ledger, clock = _deps(launcher)
    outcome, row = launch(_claimed(ledger, clock), deps)
    assert outcome == "failed"
    assert (row.state, row.error_class, row.alerted) == (State.FAILED, "copy_rejected", False)
    assert "AccessDenied" in row.last_error
    assert "ACRSYNC_COPIER_FUNCTION" in row.last_error
    assert "fc:InvokeFunction" in row.last_error
    # AND the watcher leaves the failed row alone (its alert lane reports it): no endless re-launch
    assert follow(row, deps) == "skipped"
    assert launcher.launched == [row.claim_id]
