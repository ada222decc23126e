"""``SyncRuleApi`` (manual sync rules for custom links) and the link fields of ``ListRepoSyncTask``: subclass
with ``model`` (an empty ``AcrModel``), ``rules`` (the port) and ``registry`` (a ``RegistryApi``), both
answering from it."""

from __future__ import annotations

import pytest

from acrsync.errors import UpstreamRejected
from acrsync.local.acr_link_actions import add_link
from acrsync.local.acr_model import AcrModel
from acrsync.ports import RegistryApi, SyncRuleApi
from acrsync.service.links import LinkRoute

SRC, DST = "cri-links001", "cri-links002"
LINK = "link-contract-01"
ROUTE = LinkRoute(SRC, "team-a", "web", DST, "cn-shanghai", "team-a", "web", LINK)


class SyncRuleContract:
    @pytest.fixture(autouse=True)
    def _seed(self, model: AcrModel) -> None:
        model.add_instance(SRC, region="cn-hangzhou")
        model.add_instance(DST, region="cn-shanghai")
        model.add_namespace(DST, "team-a", auto_create_repo=True)
        model.push(SRC, "team-a", "web", "v1")
        add_link(model, SRC, LINK)

    def test_given_a_known_link_when_the_rule_is_created_then_it_is_found_by_name_with_its_link(
        self, rules: SyncRuleApi
    ) -> None:
        rule_id = rules.create_sync_rule(ROUTE.spec())
        found = rules.find_sync_rule(SRC, ROUTE.rule_name, namespace="team-a", repo="web")
        assert found is not None
        assert (found["SyncRuleId"], found["LinkId"], found["SyncTrigger"]) == (rule_id, LINK, "INITIATIVE")
        assert rules.find_sync_rule(SRC, "acrsync-nope", namespace="team-a", repo="web") is None
        assert rules.find_sync_rule(SRC, ROUTE.rule_name, namespace="team-a", repo="other") is None

    def test_given_a_link_the_instance_lacks_when_the_rule_is_created_then_it_is_refused_naming_a_link_code(
        self, rules: SyncRuleApi, model: AcrModel
    ) -> None:
        with pytest.raises(UpstreamRejected) as info:
            rules.create_sync_rule({**ROUTE.spec(), "LinkId": "link-typo"})
        assert "LINK" in info.value.code.upper()
        assert model.sync_rules == []

    def test_given_a_task_by_rule_when_listed_then_it_carries_the_rule_and_link(
        self, rules: SyncRuleApi, registry: RegistryApi, model: AcrModel
    ) -> None:
        rule_id = rules.create_sync_rule(ROUTE.spec())
        repo_id = model.repo_by_name(SRC, "team-a", "web").repo_id
        task_id = rules.create_task_by_rule(SRC, repo_id, "v1", rule_id, 3)
        model.run_pending()
        (task,) = registry.list_repo_sync_tasks(SRC, namespace="team-a", repo="web")
        assert (task.task_id, task.rule_id, task.link_id, task.status.value) == (
            task_id,
            rule_id,
            LINK,
            "SUCCESS",
        )

    def test_given_150_rules_when_listed_then_every_page_is_read(
        self, rules: SyncRuleApi, model: AcrModel
    ) -> None:
        for i in range(150):
            rules.create_sync_rule({**ROUTE.spec(), "SyncRuleName": f"rule-{i:03}"})
        listed = rules.list_sync_rules(SRC)
        assert sorted(r["SyncRuleName"] for r in listed) == [f"rule-{i:03}" for i in range(150)]
        assert rules.find_sync_rule(SRC, "rule-149", namespace="team-a", repo="web") is not None
