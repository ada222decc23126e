"""The copier's "manifest not found at the source" path, wired as deployed (source client from
``ListInstanceEndpoint`` + ``GetAuthorizationToken``, destination from ``credentials_env``): the row fails
saying why, and no connection to either registry is left for the garbage collector."""

from __future__ import annotations

import gc
import json
import warnings

import pytest

from acrsync import bootstrap
from acrsync.domain.ledger import State
from acrsync.local import fc
from acrsync.local.stack import SOURCE
from tests.e2e_local.canary_stack import Stack, harbor, stack_fixture  # noqa: F401 (fixture)
from tests.fixtures import load_event

pytestmark = pytest.mark.loopback


def test_given_a_pushed_tag_the_source_registry_cannot_serve_when_copied_then_no_socket_is_left_open(
    stack: Stack,
) -> None:
    stack.rules(harbor(stack))
    # GIVEN ACR's OpenAPI knows the tag but its registry has no such manifest (deleted after the push)
    digest = stack.cloud.model.push(SOURCE[0], "team-a", "web", "acrsync-canary-1-dead")
    event = json.loads(load_event("acs.cr/push_completed.json"))
    event["data"].update(Tag="acrsync-canary-1-dead", Digest=digest, RepoId="")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)  # CPython warns when it collects an open socket
        # WHEN the replicator hands the copy to the copier (in-process here)
        assert fc.invoke("replicator", json.dumps(event).encode(), stack.env)["status"] == "ok"
        (row,) = bootstrap.stores().ledger.scan()
        bootstrap.reset(stack.env)  # what a new FC instance would do: every client dropped
        gc.collect()
    # THEN the row failed for good, saying why
    assert row.state is State.FAILED
    assert "not found at the source" in row.last_error
    # AND every connection the copier opened was closed, not left for the collector
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
