"""``SyncRuleApi`` on the in-memory fake and on the real SDK adapter talking to the loopback emulator."""

from __future__ import annotations

import pytest

from acrsync.adapters.acr import AcrRegistry, build_acr_client
from acrsync.adapters.acr_links import AcrSyncRules
from acrsync.local.acr_emulator import AcrEmulator
from acrsync.local.acr_model import AcrModel
from acrsync.local.fake_registry import FakeRegistry
from acrsync.ports import RegistryApi, SyncRuleApi
from tests.contract.conftest import ACR_AK, ACR_SK
from tests.contract.sync_rule_contract import SyncRuleContract


class TestFakeSyncRules(SyncRuleContract):
    @pytest.fixture
    def model(self) -> AcrModel:
        return AcrModel()

    @pytest.fixture
    def registry(self, model: AcrModel) -> RegistryApi:
        return FakeRegistry(model, region="cn-hangzhou")

    @pytest.fixture
    def rules(self, registry: FakeRegistry) -> SyncRuleApi:
        return AcrSyncRules(registry)


@pytest.mark.loopback
class TestSdkSyncRulesOnEmulator(SyncRuleContract):
    @pytest.fixture
    def model(self, acr_model: AcrModel) -> AcrModel:
        return acr_model

    @pytest.fixture
    def registry(self, acr_emulator: AcrEmulator) -> RegistryApi:
        client = build_acr_client(
            "cn-hangzhou", acr_emulator.url, access_key_id=ACR_AK, access_key_secret=ACR_SK
        )
        return AcrRegistry(client)

    @pytest.fixture
    def rules(self, registry: AcrRegistry) -> SyncRuleApi:
        return AcrSyncRules(registry)
