"""Tablestore fixtures: one loopback stand-in per session, fresh tables (a unique name prefix) per test.

Import the fixtures you use into the test module (``tests/contract/conftest.py`` belongs to the ACR suite).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from acrsync.adapters.tablestore_client import create_tables
from acrsync.local.tablestore_standin import TablestoreStandIn

TS_AK = "LTAI5tTablestoreContract01"
TS_SK = "tablestore-contract-secret-3b9d7e"
TS_INSTANCE = "acrsync-contract"


@pytest.fixture(scope="session")
def tablestore_standin() -> Iterator[TablestoreStandIn]:
    """The stand-in, started once on 127.0.0.1 (a free port)."""
    with TablestoreStandIn(access_key_id=TS_AK, access_key_secret=TS_SK, instance=TS_INSTANCE) as standin:
        yield standin


@pytest.fixture(scope="session")
def ots_client(tablestore_standin: TablestoreStandIn) -> Any:
    """A real ``OTSClient`` (SDK default retry policy) pointed at the stand-in."""
    return tablestore_standin.client()


@pytest.fixture
def ts_prefix(ots_client: Any) -> str:
    """A fresh set of tables under a unique prefix, created through ``create_tables``."""
    prefix = f"t{uuid.uuid4().hex[:12]}_"
    create_tables(ots_client, wait=True, prefix=prefix)
    return prefix


@pytest.fixture(scope="session")
def busy_tablestore_standin() -> Iterator[TablestoreStandIn]:
    """A second stand-in answering ~30% of requests with 503 OTSServerBusy (seeded RNG)."""
    with TablestoreStandIn(
        access_key_id=TS_AK, access_key_secret=TS_SK, instance=TS_INSTANCE, busy_rate=0.3, seed=11
    ) as standin:
        yield standin


@pytest.fixture(scope="session")
def busy_ots_client(busy_tablestore_standin: TablestoreStandIn) -> Any:
    """A client with the SDK's ``NoDelayRetryPolicy``: DefaultRetryPolicy's decisions, without the sleeps."""
    from acrsync.adapters.tablestore_client import import_tablestore

    return busy_tablestore_standin.client(retry_policy=import_tablestore().NoDelayRetryPolicy())


@pytest.fixture
def busy_ts_prefix(busy_ots_client: Any) -> str:
    """Fresh tables on the busy stand-in."""
    prefix = f"t{uuid.uuid4().hex[:12]}_"
    create_tables(busy_ots_client, wait=True, prefix=prefix)
    return prefix
