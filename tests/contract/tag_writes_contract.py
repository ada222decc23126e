"""The reconciler's tag writes on the RegistryApi (``CreateRepoTag``, ``DeleteRepoTag``) and the listings it
pages through: subclass with ``model`` (an empty ``AcrModel``) and ``registry`` answering from it."""

from __future__ import annotations

import pytest

from acrsync.errors import UpstreamRejected
from acrsync.local.acr_model import AcrModel
from acrsync.ports import RegistryApi

INSTANCE = "cri-tags0001"
D1, D2 = "sha256:" + "a" * 64, "sha256:" + "b" * 64


class TagWritesContract:
    @pytest.fixture(autouse=True)
    def _seed(self, model: AcrModel) -> None:
        model.add_instance(INSTANCE, region="cn-hangzhou")
        model.push(INSTANCE, "team-a", "web", "v1", D1)

    def test_given_a_tag_when_create_repo_tag_then_the_new_tag_points_at_its_image(
        self, model: AcrModel, registry: RegistryApi
    ) -> None:
        registry.create_repo_tag(INSTANCE, "team-a", "web", "v1", "v1-acrsync-backup-20260101T000000Z")
        repo = model.repo_by_name(INSTANCE, "team-a", "web")
        assert repo.tags["v1-acrsync-backup-20260101T000000Z"].digest == D1
        (request,) = model.requests_for("CreateRepoTag")
        assert request.params["NamespaceName"] == "team-a"
        assert request.params["FromTag"] == "v1"

    def test_given_a_missing_from_tag_when_create_repo_tag_then_rejected_naming_the_tag(
        self, registry: RegistryApi
    ) -> None:
        with pytest.raises(UpstreamRejected) as info:
            registry.create_repo_tag(INSTANCE, "team-a", "web", "nope", "copy")
        assert info.value.code == "TAG_NOT_EXIST"

    def test_given_a_tag_when_delete_repo_tag_then_it_is_gone_and_a_second_delete_says_so(
        self, model: AcrModel, registry: RegistryApi
    ) -> None:
        repo = model.repo_by_name(INSTANCE, "team-a", "web")
        assert registry.delete_repo_tag(INSTANCE, repo.repo_id, "v1") is True
        assert "v1" not in repo.tags
        assert registry.delete_repo_tag(INSTANCE, repo.repo_id, "v1") is False

    def test_given_250_tags_when_listed_then_every_tag_comes_back_in_pages_of_100(
        self, model: AcrModel, registry: RegistryApi
    ) -> None:
        for i in range(250):
            model.push(INSTANCE, "team-a", "big", f"t{i:03d}", D2)
        repo = model.repo_by_name(INSTANCE, "team-a", "big")
        tags = list(registry.list_repo_tags(INSTANCE, repo.repo_id))
        assert sorted(t.tag for t in tags) == [f"t{i:03d}" for i in range(250)]
        pages = model.requests_for("ListRepoTag")
        assert len(pages) == 3
        assert all(p.params["MaxResults"] == "100" for p in pages)
        assert "NextToken" not in pages[0].params
        assert all(p.params["NextToken"] for p in pages[1:])
