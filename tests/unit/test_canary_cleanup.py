"""The canary's clean-up never raises: what it cannot delete is listed, the rest is still deleted."""

from __future__ import annotations

from acrsync.domain.images import COPY_REGION, SourceImage
from acrsync.domain.ledger import State
from acrsync.errors import UpstreamUnavailable
from acrsync.ports import RegistryClient
from acrsync.service.canary import _cleanup
from tests.builders import ledger_entry
from tests.registry_fakes import UnusedRegistry

DIGEST = "sha256:" + "c" * 64


class Deleting(UnusedRegistry):
    """Records each manifest delete (or fails it); any other registry call fails the test."""

    def __init__(self, log: list[str], *, fail: bool = False) -> None:
        self.log, self.fail = log, fail

    def delete_manifest(self, repo: str, digest: str) -> bool:
        if self.fail:
            raise UpstreamUnavailable(f"DELETE {repo}: 503")
        self.log.append(f"{repo}@{digest}")
        return True


class Deps:
    def __init__(self, *, acr_fails: bool = False) -> None:
        self.deleted: list[str] = []
        self.acr_fails = acr_fails

    def acr(self, instance: str, region: str) -> RegistryClient:
        return Deleting(self.deleted, fail=self.acr_fails and instance != "cri-src")

    def registry(self, target: str, env: str) -> RegistryClient:
        return Deleting(self.deleted)


SOURCE = SourceImage("cri-src", "cn-hangzhou", "team-a", "web", "acrsync-canary-1-abcd")


def _copy_row(claim_id: str, registry: str) -> object:
    return ledger_entry(
        claim_id,
        tag=SOURCE.tag,
        state=State.VERIFIED,
        dest_instance=registry,
        dest_region=COPY_REGION,
        extra={"kind": "copy", "registry": registry, "credentials_env": "ACRSYNC_REGISTRY_HARBOR"},
    )


def test_given_a_stored_row_with_an_unparseable_registry_then_it_is_listed_and_the_others_are_deleted() -> (
    None
):
    deps = Deps()
    rows = [
        _copy_row("bad", "ftp://harbor.example.com/dr"),  # no validated rule could store this
        _copy_row("good", "harbor.example.com/dr"),
        ledger_entry("acr", tag=SOURCE.tag, state=State.VERIFIED),
    ]
    problems = _cleanup(deps, SOURCE, DIGEST, rows)  # type: ignore[arg-type]
    (problem,) = problems
    assert "not cleaned up" in problem
    assert "scheme must be https" in problem
    assert deps.deleted == [
        f"team-a/web@{DIGEST}",  # the source
        f"dr/team-a/web@{DIGEST}",  # the good copy destination
        f"team-a/web@{DIGEST}",  # the ACR destination
    ]


def test_given_a_destination_registry_failing_then_it_is_listed_and_nothing_raises() -> None:
    deps = Deps(acr_fails=True)
    problems = _cleanup(deps, SOURCE, DIGEST, [ledger_entry("acr", tag=SOURCE.tag, state=State.VERIFIED)])  # type: ignore[arg-type]
    assert problems == [f"team-a/web@{DIGEST}: DELETE team-a/web: 503"]
    assert deps.deleted == [f"team-a/web@{DIGEST}"]  # the source was still deleted
