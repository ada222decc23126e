"""Tag writes and tag paging on the fake and on the real SDK against the loopback emulator."""

from __future__ import annotations

import pytest

from acrsync.adapters.acr import AcrRegistry, build_acr_client
from acrsync.local.acr_emulator import AcrEmulator
from acrsync.local.acr_model import AcrModel
from acrsync.local.fake_registry import FakeRegistry
from acrsync.ports import RegistryApi
from tests.contract.conftest import ACR_AK, ACR_SK
from tests.contract.tag_writes_contract import TagWritesContract


class TestFakeTagWrites(TagWritesContract):
    @pytest.fixture
    def model(self) -> AcrModel:
        return AcrModel()

    @pytest.fixture
    def registry(self, model: AcrModel) -> RegistryApi:
        return FakeRegistry(model, region="cn-hangzhou")


@pytest.mark.loopback
class TestSdkTagWritesOnEmulator(TagWritesContract):
    @pytest.fixture
    def model(self, acr_model: AcrModel) -> AcrModel:
        return acr_model

    @pytest.fixture
    def registry(self, acr_emulator: AcrEmulator) -> RegistryApi:
        return AcrRegistry(
            build_acr_client("cn-hangzhou", acr_emulator.url, access_key_id=ACR_AK, access_key_secret=ACR_SK)
        )
