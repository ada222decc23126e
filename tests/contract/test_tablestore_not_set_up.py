"""A Tablestore instance without acr-sync's tables: every adapter says which table is missing and that
`acr-sync tables init` creates it — a retryable StoreNotSetUp, never a permanent "bad request"."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from acrsync.adapters.tablestore_store import TablestoreBudgetStore, TablestoreLedger, TablestoreRuleStore
from acrsync.errors import RetryableError, StoreNotSetUp
from tests.contract.ledger_contract import make_entry
from tests.contract.rule_store_contract import make_rule
from tests.contract.tablestore_conftest_fixtures import ots_client, tablestore_standin

pytestmark = pytest.mark.loopback

__all__ = ["ots_client", "tablestore_standin"]

CALLS: dict[str, tuple[str, Callable[[Any, str], object]]] = {
    "rules version": ("rules", lambda c, p: TablestoreRuleStore(c, prefix=p).version()),
    "rules read": ("rules", lambda c, p: TablestoreRuleStore(c, prefix=p).read()),
    "rules apply": (
        "rules",
        lambda c, p: TablestoreRuleStore(c, prefix=p).write(
            channels={}, upsert=[make_rule("x")], delete=[], expected_version=0, now=1.0
        ),
    ),
    "ledger claim": ("open_tasks", lambda c, p: TablestoreLedger(c, prefix=p).claim(make_entry())),
    "ledger get": ("ledger", lambda c, p: TablestoreLedger(c, prefix=p).get("nope")),
    "ledger list_open": ("open_tasks", lambda c, p: TablestoreLedger(c, prefix=p).list_open(limit=5)),
    "budget take": (
        "budget",
        lambda c, p: TablestoreBudgetStore(c, prefix=p).take("k", limit=1, window_s=1.0, now=1.0),
    ),
}


@pytest.mark.parametrize("call", sorted(CALLS))
def test_missing_table_names_itself_and_tables_init(ots_client: Any, call: str) -> None:
    # GIVEN an instance where `acr-sync tables init` never ran (a prefix with no tables)
    prefix = f"none{uuid.uuid4().hex[:8]}_"
    table, operation = CALLS[call]
    # WHEN the adapter is used THEN the error is typed, retryable, and names the table and the fix
    with pytest.raises(StoreNotSetUp) as raised:
        operation(ots_client, prefix)
    assert isinstance(raised.value, RetryableError)
    assert f"{prefix}{table}" in str(raised.value)
    assert "acr-sync tables init" in str(raised.value)
