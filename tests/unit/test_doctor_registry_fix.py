"""``doctor``: a copy destination's registry that cannot be reached is a FAIL whose fix is about reaching it,
not about credentials; one that refuses the credentials still asks for them."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from acrsync.errors import AcrSyncError, UpstreamRejected, UpstreamUnavailable
from acrsync.service.doctor_registries import registry_checks


def _run(exc: AcrSyncError, env: str) -> tuple[str, str, str, str]:
    class Client:
        def head_manifest(self, repository: str, reference: str) -> None:
            raise exc

    rule = SimpleNamespace(
        destinations=[SimpleNamespace(registry="harbor.example.com/dr", credentials_env=env)]
    )
    checks: list[Any] = list(
        registry_checks([rule], lambda target, env: Client(), lambda *cells: tuple(cells))
    )
    assert len(checks) == 1
    return checks[0]  # type: ignore[no-any-return]


@pytest.mark.parametrize("env", ["", "ACRSYNC_REGISTRY_HARBOR"])
def test_given_an_unresolvable_registry_when_doctor_probes_it_then_the_fix_is_to_reach_it(env: str) -> None:
    _, status, detail, fix = _run(UpstreamUnavailable("harbor.example.com: HEAD failed: gaierror"), env)
    assert status == "FAIL"
    assert "gaierror" in detail
    assert "harbor.example.com resolves and is reachable" in fix
    assert "credentials_env" not in fix


def test_given_refused_credentials_when_doctor_probes_then_the_fix_names_the_variable() -> None:
    _, status, _, fix = _run(UpstreamRejected("401 UNAUTHORIZED"), "ACRSYNC_REGISTRY_HARBOR")
    assert status == "FAIL"
    assert "set ACRSYNC_REGISTRY_HARBOR to USERNAME:PASSWORD" in fix
