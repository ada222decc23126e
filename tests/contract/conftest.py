"""ACR fixtures: one loopback ACR emulator per test session, a fresh emulated account per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from acrsync.local.acr_emulator import AcrEmulator
from acrsync.local.acr_model import AcrModel

ACR_AK = "LTAI5tContractTestKey0001"
ACR_SK = "contract-test-secret-7f3a9c1e5b"
ACR_STS_AK = "STS.NUzJw8contractTest0001"
ACR_STS_SK = "sts-secret-contract-test-42ab"
ACR_STS_TOKEN = "CAIS-contract-test-security-token-e8d1f0"


@pytest.fixture(scope="session")
def acr_emulator() -> Iterator[AcrEmulator]:
    """The emulator, started once (127.0.0.1, a free port); tests swap its ``model``."""
    emulator = AcrEmulator(
        credentials={ACR_AK: ACR_SK}, sts_credentials={ACR_STS_AK: (ACR_STS_SK, ACR_STS_TOKEN)}
    )
    with emulator:
        yield emulator


@pytest.fixture
def acr_model(acr_emulator: AcrEmulator) -> AcrModel:
    """A fresh, empty emulated account served by the session's emulator."""
    model = AcrModel()
    acr_emulator.model = model
    return model
