"""Ledger, BudgetStore and RuleStore contracts: the real ``tablestore`` SDK against the loopback stand-in."""

from __future__ import annotations

from typing import Any

import pytest

from acrsync.adapters.tablestore_store import TablestoreBudgetStore, TablestoreLedger, TablestoreRuleStore
from acrsync.ports import BudgetStore, Ledger, RuleStore
from tests.contract.budget_contract import BudgetContract
from tests.contract.ledger_batch_contract import LedgerBatchContract
from tests.contract.ledger_contract import LedgerContract
from tests.contract.rule_store_contract import RuleStoreContract
from tests.contract.tablestore_conftest_fixtures import (
    busy_ots_client,
    busy_tablestore_standin,
    busy_ts_prefix,
    ots_client,
    tablestore_standin,
    ts_prefix,
)

pytestmark = pytest.mark.loopback

__all__ = [
    "busy_ots_client",
    "busy_tablestore_standin",
    "busy_ts_prefix",
    "ots_client",
    "tablestore_standin",
    "ts_prefix",
]


class TestTablestoreLedger(LedgerContract):
    @pytest.fixture
    def ledger(self, ots_client: Any, ts_prefix: str) -> Ledger:
        return TablestoreLedger(ots_client, prefix=ts_prefix)


class TestTablestoreBudget(BudgetContract):
    @pytest.fixture
    def budget(self, ots_client: Any, ts_prefix: str) -> BudgetStore:
        return TablestoreBudgetStore(ots_client, prefix=ts_prefix)


class TestTablestoreRuleStore(RuleStoreContract):
    @pytest.fixture
    def store(self, ots_client: Any, ts_prefix: str) -> RuleStore:
        return TablestoreRuleStore(ots_client, prefix=ts_prefix)


class TestTablestoreLedgerUnderServerBusy(LedgerContract):
    """The whole ledger contract again while ~30% of requests answer OTSServerBusy: retries lose nothing."""

    @pytest.fixture
    def ledger(self, busy_ots_client: Any, busy_ts_prefix: str) -> Ledger:
        return TablestoreLedger(busy_ots_client, prefix=busy_ts_prefix)


class TestTablestoreBudgetUnderServerBusy(BudgetContract):
    @pytest.fixture
    def budget(self, busy_ots_client: Any, busy_ts_prefix: str) -> BudgetStore:
        return TablestoreBudgetStore(busy_ots_client, prefix=busy_ts_prefix)


class TestTablestoreRuleStoreUnderServerBusy(RuleStoreContract):
    @pytest.fixture
    def store(self, busy_ots_client: Any, busy_ts_prefix: str) -> RuleStore:
        return TablestoreRuleStore(busy_ots_client, prefix=busy_ts_prefix)


class TestTablestoreLedgerBatches(LedgerBatchContract):
    @pytest.fixture
    def ledger(self, ots_client: Any, ts_prefix: str) -> Ledger:
        return TablestoreLedger(ots_client, prefix=ts_prefix)


class TestTablestoreLedgerBatchesUnderServerBusy(LedgerBatchContract):
    """Whole batch requests answered OTSServerBusy ~30% of the time: the SDK retries them, nothing is lost."""

    @pytest.fixture
    def ledger(self, busy_ots_client: Any, busy_ts_prefix: str) -> Ledger:
        return TablestoreLedger(busy_ots_client, prefix=busy_ts_prefix)
