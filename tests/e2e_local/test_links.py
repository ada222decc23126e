"""Custom replication links: ``link:`` destinations submit with CreateRepoSyncTaskByRule, exactly them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from acrsync import bootstrap
from acrsync.domain.ledger import State
from acrsync.domain.rules_schema import validate_document
from acrsync.errors import RuleConfigError
from acrsync.local import fc
from acrsync.local.acr_link_actions import add_link
from acrsync.local.acr_model import AcrModel
from acrsync.local.stack import ACCOUNT_ID, BEIJING, SHANGHAI, SOURCE, LocalCloud, seed_world
from acrsync.service import rules_admin
from acrsync.service.clock import ManualClock
from tests.fixtures import load_event

pytestmark = pytest.mark.loopback
LINK = "link-oss-restricted-01"


def _rules(**link_dest: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "rules": [
            {
                "name": "over-a-link",
                "source": {"instance": SOURCE[0], "repositories": ["team-a/*"]},
                "destinations": [
                    {"instance": SHANGHAI[0], "region": SHANGHAI[1], "link": LINK, **link_dest},
                    {"instance": BEIJING[0], "region": BEIJING[1]},
                ],
            }
        ],
    }


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[tuple[LocalCloud, ManualClock]]:
    yield from link_cloud(tmp_path)


def link_cloud(tmp_path: Path) -> Iterator[tuple[LocalCloud, ManualClock]]:
    """The demo world with ``LINK`` on the source instance and ``_rules()`` applied (a fixture's body)."""
    clock = ManualClock(start=time.time())
    model = AcrModel(account_id=ACCOUNT_ID, clock=clock.now)
    with LocalCloud(tmp_path, model=model, seed=False) as local:
        seed_world(local.model)
        add_link(local.model, SOURCE[0], LINK)
        bootstrap.reset(local.env)
        bootstrap.use(clock=clock)
        rules_admin.apply(
            bootstrap.stores().rules, validate_document(_rules()), prune=True, dry_run=False, now=clock.now()
        )
        yield local, clock
        bootstrap.reset()


def _push(cloud: LocalCloud, tag: str) -> bytes:
    digest = "sha256:" + (tag.encode().hex() * 64)[:64]
    cloud.model.push(SOURCE[0], "team-a", "web", tag, digest)
    doc = json.loads(load_event("acs.cr/push_completed.json"))
    doc["data"].update(Tag=tag, Digest=digest, RepoId="")
    doc["id"] = f"evt-{tag}"
    return json.dumps(doc).encode()


def test_given_a_link_destination_when_pushed_then_by_rule_is_used_exactly_for_it(
    cloud: tuple[LocalCloud, ManualClock],
) -> None:
    local, clock = cloud
    for tag in ("v1", "v2"):
        fc.invoke("replicator", _push(local, tag), local.env)
    by_rule = [r for r in local.model.requests_for("CreateRepoSyncTaskByRule") if r.outcome == "ok"]
    plain = [r for r in local.model.requests_for("CreateRepoSyncTask") if r.outcome == "ok"]
    assert sorted(r.params["Tag"] for r in by_rule) == ["v1", "v2"]
    assert sorted((r.params["Tag"], r.params["TargetInstanceId"]) for r in plain) == [
        ("v1", BEIJING[0]),
        ("v2", BEIJING[0]),
    ]
    # one manual rule with the link, created once and reused
    (created,) = [r for r in local.model.requests_for("CreateRepoSyncRule") if r.outcome == "ok"]
    assert (created.params["LinkId"], created.params["SyncTrigger"]) == (LINK, "INITIATIVE")
    # the tasks are followed like any other: ACR runs them, the watcher verifies
    local.model.run_pending()
    for _ in range(3):
        clock.advance(31)
        fc.invoke("watcher", load_event("timer/sweep.json"), local.env)
    assert {e.state for e in bootstrap.stores().ledger.scan()} == {State.VERIFIED}


@pytest.mark.parametrize(("key", "value"), [("tag", "prod-{tag}"), ("repository", "{repo}-mirror")])
def test_given_a_link_with_a_rename_template_when_validated_then_refused_saying_why(
    key: str, value: str
) -> None:
    with pytest.raises(RuleConfigError) as info:
        validate_document(_rules(**{key: value}))
    (error,) = info.value.errors
    assert error.startswith(
        "rules[0].destinations[0].link: a custom link submits with CreateRepoSyncTaskByRule"
    )
    assert f"remove {key}" in error


def _apply(clock: ManualClock, link: str) -> None:
    doc = _rules()
    doc["rules"][0]["destinations"][0]["link"] = link
    rules_admin.apply(
        bootstrap.stores().rules, validate_document(doc), prune=True, dry_run=False, now=clock.now()
    )


def _sweep(local: LocalCloud, clock: ManualClock, minutes: int = 7) -> None:
    for _ in range(minutes):  # tasks run, rows are verified, the 5-minute alert window closes and is sent
        local.model.run_pending()
        clock.advance(61)
        fc.invoke("watcher", load_event("timer/sweep.json"), local.env)


def test_given_a_link_id_the_instance_lacks_when_pushed_then_the_row_fails_and_the_alert_says_check_it(
    cloud: tuple[LocalCloud, ManualClock],
) -> None:
    local, clock = cloud
    _apply(clock, "link-typo")
    fc.invoke("replicator", _push(local, "v1"), local.env)
    # THEN ACR refused the manual rule (over the wire, the emulator's UNVERIFIED code) and no task was made
    assert [r.outcome for r in local.model.requests_for("CreateRepoSyncRule")] == ["LINK_NOT_EXIST"]
    assert local.model.requests_for("CreateRepoSyncTaskByRule") == []
    _sweep(local, clock)
    rows = {e.dest_instance: e for e in bootstrap.stores().ledger.scan()}
    failed = rows[SHANGHAI[0]]
    assert (failed.state, failed.error_class) == (State.FAILED, "link_refused")
    assert failed.last_error.startswith(f"link link-typo not found on instance {SOURCE[0]}")
    assert "check the LinkId in the ACR console" in failed.last_error
    assert rows[BEIJING[0]].state is State.VERIFIED  # the other destination is not held back
    (alert,) = [m for m in local.sink.messages if "custom link refused" in m.title]
    assert "link link-typo not found on instance" in alert.text
    assert "Instance Replication" in alert.text


def test_given_the_managed_rule_was_edited_when_the_next_tag_is_pushed_then_it_is_not_used_and_alerted(
    cloud: tuple[LocalCloud, ManualClock],
) -> None:
    local, clock = cloud
    fc.invoke("replicator", _push(local, "v1"), local.env)
    (rule,) = local.model.sync_rules
    rule["TargetNamespaceName"] = "someone-elses"  # changed in the console
    fc.invoke("replicator", _push(local, "v2"), local.env)
    _sweep(local, clock)
    by_rule = [r.params["Tag"] for r in local.model.requests_for("CreateRepoSyncTaskByRule")]
    assert by_rule == ["v1"]
    (v2,) = [
        e for e in bootstrap.stores().ledger.scan() if e.source_tag == "v2" and e.dest_instance == SHANGHAI[0]
    ]
    assert (v2.state, v2.error_class) == (State.FAILED, "link_refused")
    assert "TargetNamespaceName is 'someone-elses', not 'team-a'" in v2.last_error
    assert f"delete sync rule {rule['SyncRuleId']}" in v2.last_error
    assert any("custom link refused" in m.title for m in local.sink.messages)
