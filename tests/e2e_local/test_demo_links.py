"""The demo's custom-link act: a managed manual rule with the LinkId, a task by rule, a verified destination;
a LinkId the instance lacks is refused with an alert; doctor's link rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from acrsync.domain.ledger import State
from acrsync.local import demo_links

pytestmark = pytest.mark.loopback


def test_demo_link_act_creates_the_manual_rule_submits_by_rule_and_verifies(tmp_path: Path) -> None:
    report = demo_links.run(tmp_path)
    # the managed rule: manual, with the instance's LinkId, one source repo to the same repo in Shanghai
    rule = report.rule
    assert (rule["SyncTrigger"], rule["LinkId"], rule["SyncScope"]) == ("INITIATIVE", demo_links.LINK, "REPO")
    assert rule["SyncRuleName"].startswith("acrsync-")
    # exactly one task by that rule, for the pushed tag
    assert [(p["SyncRuleId"], p["Tag"]) for p in report.by_rule] == [(rule["SyncRuleId"], "v1.5.0")]
    assert report.row is not None
    assert report.row.state is State.VERIFIED
    # the wrong LinkId: refused, failed, alerted, saying what to do
    assert report.refused is not None
    assert (report.refused.state, report.refused.error_class) == (State.FAILED, "link_refused")
    assert f"link {demo_links.TYPO} not found on instance" in report.refused.last_error
    (title, text) = report.alerts[0]
    assert "custom link refused" in title
    assert "check the LinkId in the ACR console" in text
    # doctor: the used link proven by its task, the wrong one honestly not provable
    statuses = {c.name.split()[2]: c.status for c in report.doctor}
    assert statuses == {demo_links.LINK: "PASS", demo_links.TYPO: "WARN"}
    assert report.seconds < 30
