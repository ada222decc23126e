"""Copy destinations in the rules, and copy jobs in the ledger (launch, follow, verify) over fakes."""

from __future__ import annotations

from typing import Any

import pytest

from acrsync.adapters.memory import MemoryLedger
from acrsync.domain.ledger import State, new_claim
from acrsync.domain.rules import validate_document
from acrsync.domain.rules_eval import evaluate
from acrsync.errors import RuleConfigError, UpstreamUnavailable
from acrsync.ports import CopyLauncher
from acrsync.service.clock import ManualClock
from acrsync.service.copy_jobs import COPY_TIMEOUT_S, CopyDeps, follow, is_copy, launch
from tests.registry_fakes import UnusedRegistry
from tests.unit.rules_fixtures import document, image, index, rule

HARBOR = {"registry": "harbor.example.com/dr", "credentials_env": "ACRSYNC_REGISTRY_HARBOR"}


def errors_of(data: Any) -> list[str]:
    with pytest.raises(RuleConfigError) as info:
        validate_document(data)
    return info.value.errors


def test_given_a_registry_destination_when_evaluated_then_the_request_is_a_copy_job() -> None:
    (request,) = evaluate(index(rule(destinations=[HARBOR])), image("team-a/web", "1.2.3"))
    assert request.destination.instance_id == "harbor.example.com/dr"
    assert dict(request.copy) == {
        "kind": "copy",
        "registry": "harbor.example.com/dr",
        "credentials_env": "ACRSYNC_REGISTRY_HARBOR",
        "companions": "1",
    }
    entry = new_claim(request, event_id="e1", now=1.0)
    assert is_copy(entry)
    assert entry.extra["registry"] == "harbor.example.com/dr"


def test_given_an_acr_destination_when_evaluated_then_it_is_not_a_copy_job() -> None:
    (request,) = evaluate(index(rule()), image())
    assert request.copy == ()
    assert not is_copy(new_claim(request, event_id="e1", now=1.0))


@pytest.mark.parametrize(
    ("destination", "message"),
    [
        (
            {"registry": "http://harbor.example.com/dr"},
            "registry: 'http://harbor.example.com/dr': plain http://",
        ),
        ({**HARBOR, "instance": "cri-x"}, "instance: a destination is either an ACR instance or a registry"),
        (
            {**HARBOR, "credentials_env": "not a name"},
            "credentials_env: 'not a name' is not a variable name starting with ACRSYNC_REGISTRY_",
        ),
        (  # a rules file may not make acr-sync send another variable (a credential) to a registry
            {**HARBOR, "credentials_env": "ALIBABA_CLOUD_ACCESS_KEY_SECRET"},
            "credentials_env: 'ALIBABA_CLOUD_ACCESS_KEY_SECRET' is not a variable name starting with",
        ),
        ({**HARBOR, "password": "x"}, "password: unknown key"),
        ({**HARBOR, "companions": "yes"}, "companions: must be true or false"),
    ],
)
def test_given_a_bad_registry_destination_when_validated_then_the_error_names_the_key(
    destination: dict[str, Any], message: str
) -> None:
    errors = errors_of(document(rule(destinations=[destination])))
    assert any(message in e for e in errors), errors


# --- copy jobs over fakes ----------------------------------------------------------------------------------


class RecordingLauncher(CopyLauncher):
    def __init__(self, fail: bool = False) -> None:
        self.launched: list[str] = []
        self.fail = fail

    def launch(self, claim_id: str) -> None:
        self.launched.append(claim_id)
        if self.fail:
            raise UpstreamUnavailable("FC throttled")


class TagReader(UnusedRegistry):
    """Answers only ``head_manifest`` (what verification reads)."""

    host = "harbor.example.com"

    def __init__(self, digest: str | None) -> None:
        self.digest = digest

    def head_manifest(self, repo: str, reference: str) -> str | None:
        return self.digest


def _deps(
    launcher: CopyLauncher, dest_digest: str | None = None
) -> tuple[CopyDeps, MemoryLedger, ManualClock]:
    ledger, clock = MemoryLedger(), ManualClock()
    reader = TagReader(dest_digest)
    deps = CopyDeps(ledger, clock, launcher, source=lambda _i, _r: reader, destination=lambda _t, _e: reader)
    return deps, ledger, clock


def _claimed(ledger: MemoryLedger, clock: ManualClock) -> Any:
    (request,) = evaluate(index(rule(destinations=[HARBOR])), image())
    entry = new_claim(request, event_id="e1", now=clock.now())
    ledger.claim(entry)
    return entry


def test_given_a_claimed_copy_when_launched_then_it_is_submitted_and_handed_to_the_copier() -> None:
    launcher = RecordingLauncher()
    deps, ledger, clock = _deps(launcher)
    entry = _claimed(ledger, clock)
    outcome, row = launch(entry, deps)
    assert outcome == "submitted"
    assert launcher.launched == [entry.claim_id]
    assert (row.state, row.task_id, row.attempts) == (State.SUBMITTED, "copy-1", 1)


def test_given_a_copier_that_never_reports_when_followed_then_relaunched_until_attempts_end() -> None:
    launcher = RecordingLauncher(fail=True)  # FC refuses the hand-over: the row stays submitted
    deps, ledger, clock = _deps(launcher)
    outcome, row = launch(_claimed(ledger, clock), deps)
    assert outcome == "submitted"
    assert follow(row, deps) == "waiting"  # before the copier's timeout: nothing to do
    for attempt in (2, 3):
        clock.advance(COPY_TIMEOUT_S + 1)
        assert follow(ledger.get(row.claim_id), deps) == "resubmitted"  # type: ignore[arg-type]
        assert ledger.get(row.claim_id).attempts == attempt  # type: ignore[union-attr]
    clock.advance(COPY_TIMEOUT_S + 1)
    assert follow(ledger.get(row.claim_id), deps) == "failed"  # type: ignore[arg-type]
    final = ledger.get(row.claim_id)
    assert final is not None
    assert (final.state, final.error_class, final.alerted) == (State.FAILED, "copy_timeout", False)
    assert len(launcher.launched) == 3


@pytest.mark.parametrize(("found", "state"), [("sha256:" + "a" * 64, State.VERIFIED), (None, State.MISMATCH)])
def test_given_a_copy_recorded_but_not_verified_when_followed_then_the_destination_tag_decides(
    found: str | None, state: State
) -> None:
    deps, ledger, clock = _deps(RecordingLauncher(), dest_digest=found)
    _, row = launch(_claimed(ledger, clock), deps)
    succeeded = row.moved_to(
        State.SUCCEEDED, clock.now(), next_check_at=clock.now()
    )  # as the copier records it
    ledger.update(succeeded, expected_revision=row.revision)
    follow(succeeded, deps)
    final = ledger.get(row.claim_id)
    assert final is not None
    assert final.state is state
