"""``doctor``'s custom-link rows over the emulated account: each outcome; a failing call is its own row."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from acrsync.adapters.acr_links import AcrSyncRules
from acrsync.local.acr_faults import FORBIDDEN, UNAVAILABLE
from acrsync.local.acr_link_actions import add_link
from acrsync.local.acr_model import AcrModel
from acrsync.local.fake_registry import FakeRegistry
from acrsync.service.doctor import FAIL, PASS, WARN, Check, DoctorDeps, run_checks
from acrsync.service.doctor_guard import TRANSIENT_FIX
from acrsync.service.doctor_links import LINK_RAM_FIX
from acrsync.service.links import LinkRoute
from tests.unit.test_doctor import DST, SRC, deps, healthy_model

LINK = "link-hz-sh-cen"
ROW = f"custom link {LINK} ({SRC} → {DST})"
ROUTE = LinkRoute(SRC, "team-a", "web", DST, "cn-shanghai", "team-a", "web", LINK)


def link_rules(link: str = LINK, **dest: Any) -> list[dict[str, Any]]:
    return [
        {
            "name": "over-a-link",
            "source": {"instance": SRC, "repositories": ["team-a/*"]},
            "tags": {},
            "destinations": [{"instance": DST, "region": "cn-shanghai", "link": link, **dest}],
        }
    ]


def link_deps(model: AcrModel, docs: list[dict[str, Any]] | None = None) -> DoctorDeps:
    return dataclasses.replace(
        deps(model, link_rules() if docs is None else docs),
        links=lambda region: AcrSyncRules(FakeRegistry(model, region=region)),
    )


def rows(model: AcrModel, docs: list[dict[str, Any]] | None = None) -> dict[str, Check]:
    return {c.name: c for c in run_checks(link_deps(model, docs))}


def use_link(model: AcrModel, tag: str = "v1", *, run: bool = True) -> str:
    """What acr-sync's submit does for a link destination: the managed rule, then a task by rule."""
    model.custom_links.setdefault(SRC, set()).add(LINK)
    api = AcrSyncRules(FakeRegistry(model, region="cn-hangzhou"))
    found = api.find_sync_rule(SRC, ROUTE.rule_name, namespace="team-a", repo="web")
    rule_id = str(found["SyncRuleId"]) if found else api.create_sync_rule(ROUTE.spec())
    repo_id = model.repo_by_name(SRC, "team-a", "web").repo_id
    task_id = api.create_task_by_rule(SRC, repo_id, tag, rule_id, 3)
    if run:
        model.run_pending()
    return task_id


def test_given_a_link_never_used_when_doctor_runs_then_a_warning_says_it_cannot_be_checked_yet() -> None:
    model = healthy_model()
    add_link(model, SRC, LINK)
    row = rows(model)[ROW]
    assert row.status == WARN
    assert row.detail.startswith("not proven: acr-sync has no sync rule with this link yet")
    assert "cannot list custom links" in row.detail
    assert LINK in row.fix
    assert f"instance {SRC} → Distribution → Instance Replication" in row.fix


def test_given_the_last_task_over_the_link_succeeded_when_doctor_runs_then_it_passes_naming_the_task() -> (
    None
):
    model = healthy_model()
    task_id = use_link(model)
    row = rows(model)[ROW]
    assert row.status == PASS, row
    assert row.detail.startswith(f"carried task {task_id} (team-a/web:v1) at ")
    assert "1 managed rule(s)" in row.detail


def test_given_the_last_task_over_the_link_failed_when_doctor_runs_then_it_fails_with_the_task_issue() -> (
    None
):
    # GIVEN an older task that succeeded and a newer one that ended in ERROR
    model = healthy_model()
    use_link(model, "v1")
    model.fail_destination(DST, "team-a", "dial tcp: i/o timeout over the custom link")
    model.clock = lambda: 4_000_000_000.0  # the newer task is created later
    model.push(SRC, "team-a", "web", "v2")
    failed = use_link(model, "v2")
    row = rows(model)[ROW]
    assert row.status == FAIL
    assert failed in row.detail
    assert "dial tcp: i/o timeout over the custom link" in row.detail
    assert "acr-sync retry" in row.fix
    assert LINK in row.fix


def test_given_only_a_running_task_when_doctor_runs_then_the_link_is_not_yet_proven() -> None:
    model = healthy_model()
    use_link(model, run=False)
    row = rows(model)[ROW]
    assert row.status == WARN
    assert "1 task(s) still running" in row.detail


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("LinkId", "link-someone-else", "LinkId is 'link-someone-else', not 'link-hz-sh-cen'"),
        ("SyncTrigger", "PASSIVE", "SyncTrigger is 'PASSIVE', not 'INITIATIVE'"),
        ("TargetInstanceId", "cri-elsewhere", f"TargetInstanceId is 'cri-elsewhere', not '{DST}'"),
    ],
)
def test_given_the_managed_rule_was_edited_in_the_console_when_doctor_runs_then_it_fails_saying_what_changed(
    field: str, value: str, said: str
) -> None:
    model = healthy_model()
    use_link(model)
    (rule,) = model.sync_rules
    rule[field] = value
    row = rows(model)[ROW]
    assert row.status == FAIL
    assert said in row.detail
    assert row.fix.startswith(f"delete sync rule {rule['SyncRuleId']}")


def test_given_rules_without_links_when_doctor_runs_then_there_is_no_link_row_and_no_rule_call() -> None:
    model = healthy_model()
    names = [c.name for c in run_checks(link_deps(model, docs=[]))]
    names += list(
        rows(model, [{**link_rules()[0], "destinations": [{"instance": DST, "region": "cn-shanghai"}]}])
    )
    assert not [n for n in names if n.startswith("custom link")]
    assert model.requests_for("ListRepoSyncRule") == []


def test_given_two_rules_over_one_link_and_another_link_when_doctor_runs_then_one_row_per_link() -> None:
    model = healthy_model()
    second, dup = {**link_rules("link-second")[0], "name": "second"}, {**link_rules()[0], "name": "dup"}
    docs = [*link_rules(), second, dup]
    names = sorted(n for n in rows(model, docs) if n.startswith("custom link"))
    assert names == [
        f"custom link link-hz-sh-cen ({SRC} → {DST})",
        f"custom link link-second ({SRC} → {DST})",
    ]


@pytest.mark.parametrize(
    ("kind", "action", "code", "fix"),
    [
        (FORBIDDEN, "ListRepoSyncRule", "Forbidden.RAM", LINK_RAM_FIX),
        (UNAVAILABLE, "ListRepoSyncTask", "ServiceUnavailable", TRANSIENT_FIX),
    ],
)
def test_given_the_acr_call_fails_when_doctor_runs_then_the_link_row_fails_with_its_fix_and_the_rest_remain(
    kind: str, action: str, code: str, fix: str
) -> None:
    model = healthy_model()
    use_link(model)
    model.faults.script(kind, action=action, times=50)
    found = rows(model)
    row = found[ROW]
    assert (row.status, row.fix) == (FAIL, fix)
    assert f"ACR {action} failed: {code}" in row.detail
    assert found["alert channel default"].status == PASS  # the rows after it are still there
    assert found[f"destination namespace {DST}/team-a"].status == PASS
