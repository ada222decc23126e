"""Copying images between two OCI stand-ins (a "source" and a "Harbor"): complete, verified, resumable."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import pytest

from acrsync.adapters.oci_http import RegistryCredentials
from acrsync.adapters.oci_registry import HttpRegistryClient
from acrsync.errors import UpstreamRejected, UpstreamUnavailable
from acrsync.local.oci_images import put_cosign_signature, put_index, put_referrer
from acrsync.local.oci_registry import OciRegistry
from acrsync.local.oci_store import DROP, Fault, RegistryState
from acrsync.service.copy import Place, copy_image

pytestmark = pytest.mark.loopback
SRC_USER, SRC_PW = "puller", "src-Planted-pw-1"
DST_USER, DST_PW = "robot$dr", "dst-Planted-pw-2"
LAYERS = (300_000, 1_500_000)  # one monolithic, one streamed PATCH per image


@pytest.fixture
def source() -> Iterator[OciRegistry]:
    with OciRegistry(users={SRC_USER: SRC_PW}) as reg:
        yield reg


@pytest.fixture
def harbor() -> Iterator[OciRegistry]:
    with OciRegistry(users={DST_USER: DST_PW}, projects={"dr"}) as reg:
        yield reg


def _client(reg: OciRegistry, user: str, pw: str) -> HttpRegistryClient:
    return HttpRegistryClient(reg.url, credentials=RegistryCredentials(user, pw), sleep=lambda _s: None)


@pytest.fixture
def places(source: OciRegistry, harbor: OciRegistry) -> Iterator[tuple[Place, Place]]:
    src, dst = _client(source, SRC_USER, SRC_PW), _client(harbor, DST_USER, DST_PW)
    yield Place(src, "team-a/web"), Place(dst, "dr/web")
    src.close()
    dst.close()


def _content(state: RegistryState, repo: str) -> dict[str, bytes]:
    """Every manifest body and blob hash in a repository, keyed by digest."""
    out = {d: body for d, (_t, body) in state.manifests.get(repo, {}).items()}
    for digest in state.links.get(repo, set()):
        h = hashlib.sha256()
        for chunk in state.read_blob(digest):
            h.update(chunk)
        assert "sha256:" + h.hexdigest() == digest
        out[digest] = b"blob"
    return out


def _uploads(reg: OciRegistry) -> int:
    """Blob uploads committed (PUT ...?digest= answered 201)."""
    return sum(
        1 for e in reg.state.log if e.method == "PUT" and "/blobs/uploads/" in e.path and e.status == 201
    )


def test_given_a_multi_arch_index_with_a_signature_when_copied_then_everything_arrives_verified(
    source: OciRegistry, harbor: OciRegistry, places: tuple[Place, Place]
) -> None:
    index = put_index(source.state, "team-a/web", "v1", layer_sizes=LAYERS)
    sig = put_cosign_signature(source.state, "team-a/web", index.digest)
    src, dst = places
    result = copy_image(src, "v1", dst, "v1", companions=True)
    assert result.digest == index.digest
    assert harbor.state.tags["dr/web"]["v1"] == index.digest
    assert harbor.state.tags["dr/web"][index.digest.replace(":", "-") + ".sig"] == sig.digest
    # Everything the source repository holds (2 platforms x (config + 2 layers), the index, the signature)
    # arrived byte-identical: digests verified end to end.
    assert _content(harbor.state, "dr/web") == _content(source.state, "team-a/web")
    assert result.stats.blobs_sent == 2 * 3 + 2  # + the signature's payload and config
    assert result.stats.companions == [index.digest.replace(":", "-") + ".sig"]


def test_given_a_copy_dropped_half_way_when_repeated_then_blobs_already_there_are_not_resent(
    source: OciRegistry, harbor: OciRegistry, places: tuple[Place, Place]
) -> None:
    put_index(source.state, "team-a/web", "v1", layer_sizes=LAYERS)
    src, dst = places
    # The largest layer of the first platform cannot be downloaded (the source drops the connection every
    # time) during the first attempt: its two sibling blobs arrive, the rest of the image does not.
    first_child = json.loads(source.state.get_manifest("team-a/web", "v1")[1])["manifests"][0]["digest"]
    victim = json.loads(source.state.get_manifest("team-a/web", first_child)[1])["layers"][1]["digest"]
    broken = {"on": True}
    original = source.state.take_fault

    def drop_victim(method: str, path: str) -> Fault | None:
        if broken["on"] and method == "GET" and path.endswith(victim):
            return Fault(method, path, DROP)
        return original(method, path)

    source.state.take_fault = drop_victim  # type: ignore[method-assign]
    with pytest.raises(UpstreamUnavailable):
        copy_image(src, "v1", dst, "v1")
    sent_before = _uploads(harbor)
    assert sent_before == 2
    broken["on"] = False
    result = copy_image(src, "v1", dst, "v1")
    assert result.stats.blobs_skipped == 2  # what the first attempt sent is not sent again
    assert _uploads(harbor) - sent_before == result.stats.blobs_sent == 4
    assert _uploads(harbor) == 6  # each of the 6 distinct blobs crossed exactly once
    again = copy_image(src, "v1", dst, "v1")
    assert again.stats.blobs_sent == 0
    assert again.stats.manifests_put == 0


def test_given_both_repositories_on_one_registry_when_copied_then_blobs_are_mounted(
    source: OciRegistry,
) -> None:
    put_index(source.state, "team-a/web", "v1", layer_sizes=(1000,))
    client = _client(source, SRC_USER, SRC_PW)
    try:
        result = copy_image(Place(client, "team-a/web"), "v1", Place(client, "backup/web"), "v1")
    finally:
        client.close()
    assert result.stats.blobs_mounted == 4
    assert result.stats.blobs_sent == 0
    assert source.state.tags["backup/web"]["v1"] == result.digest


def test_given_a_destination_project_that_does_not_exist_when_copied_then_rejected_naming_it(
    source: OciRegistry, harbor: OciRegistry
) -> None:
    put_index(source.state, "team-a/web", "v1", layer_sizes=(100,))
    src, dst = _client(source, SRC_USER, SRC_PW), _client(harbor, DST_USER, DST_PW)
    try:
        with pytest.raises(UpstreamRejected, match="NAME_UNKNOWN"):
            copy_image(Place(src, "team-a/web"), "v1", Place(dst, "nope/web"), "v1")
    finally:
        src.close()
        dst.close()


def test_given_a_tagless_referrer_when_copied_with_companions_then_it_is_found_at_the_destination(
    source: OciRegistry, harbor: OciRegistry, places: tuple[Place, Place]
) -> None:
    index = put_index(source.state, "team-a/web", "v1", layer_sizes=(100,), docker=True)
    sbom = put_referrer(source.state, "team-a/web", index)
    src, dst = places
    copy_image(src, "v1", dst, "v1", companions=True)
    assert [r.digest for r in dst.client.referrers("dr/web", index.digest)] == [sbom.digest]


def test_given_no_companions_when_copied_without_them_then_only_the_image_arrives(
    source: OciRegistry, harbor: OciRegistry, places: tuple[Place, Place]
) -> None:
    index = put_index(source.state, "team-a/web", "v1", layer_sizes=(100,))
    put_cosign_signature(source.state, "team-a/web", index.digest)
    src, dst = places
    copy_image(src, "v1", dst, "v1", companions=False)
    assert list(harbor.state.tags["dr/web"]) == ["v1"]


def test_given_a_missing_source_tag_when_copied_then_rejected(places: tuple[Place, Place]) -> None:
    src, dst = places
    with pytest.raises(UpstreamRejected, match="not found at the source"):
        copy_image(src, "v404", dst, "v404")
