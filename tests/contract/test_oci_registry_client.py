"""RegistryClient contract: the http adapter against the OCI stand-in, with token, basic and no auth."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import pytest

from acrsync.adapters.oci_http import RegistryCredentials
from acrsync.adapters.oci_registry import HttpRegistryClient
from acrsync.domain.oci import OCI_INDEX, Manifest
from acrsync.errors import UpstreamRejected, UpstreamUnavailable
from acrsync.local.oci_images import put_image, put_index, put_referrer
from acrsync.local.oci_registry import OciRegistry
from acrsync.local.oci_store import DROP, Fault

pytestmark = pytest.mark.loopback
USER, PASSWORD = "robot$dr", "pw-Planted-0a1b2c3d"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _chunks(data: bytes, size: int = 65536) -> Iterator[bytes]:
    return iter([data[i : i + size] for i in range(0, len(data), size)])


class RegistryClientContract:
    auth = "token"

    @pytest.fixture
    def registry(self) -> Iterator[OciRegistry]:
        with OciRegistry(users={USER: PASSWORD}, auth=self.auth) as reg:
            yield reg

    @pytest.fixture
    def client(self, registry: OciRegistry) -> Iterator[HttpRegistryClient]:
        c = HttpRegistryClient(
            registry.url, credentials=RegistryCredentials(USER, PASSWORD), sleep=lambda _s: None
        )
        yield c
        c.close()

    def test_given_an_image_when_its_manifest_is_read_then_bytes_and_digest_match(
        self, registry: OciRegistry, client: HttpRegistryClient
    ) -> None:
        pushed = put_image(registry.state, "team-a/web", "v1")
        got = client.get_manifest("team-a/web", "v1")
        assert got is not None
        assert got.digest == pushed.digest == _digest(got.body)
        assert client.head_manifest("team-a/web", "v1") == pushed.digest
        assert client.get_manifest("team-a/web", "v9") is None
        assert client.head_manifest("team-a/nothing", "v1") is None

    def test_given_a_large_blob_when_uploaded_streamed_then_it_reads_back_identical(
        self, registry: OciRegistry, client: HttpRegistryClient
    ) -> None:
        data = os.urandom(3 * 1024 * 1024 + 7)  # above the monolithic limit: one streamed PATCH
        digest = _digest(data)
        assert client.blob_size("team-a/web", digest) is None
        client.upload_blob("team-a/web", digest, len(data), _chunks(data))
        assert client.blob_size("team-a/web", digest) == len(data)
        with client.open_blob("team-a/web", digest) as reader:
            assert b"".join(reader) == data
        methods = [e.method for e in registry.state.log if "/blobs/uploads/" in e.path and e.status != 401]
        assert methods == ["POST", "PATCH", "PUT"]

    def test_given_bytes_that_do_not_hash_to_the_digest_when_uploaded_then_nothing_is_committed(
        self, registry: OciRegistry, client: HttpRegistryClient
    ) -> None:
        data = os.urandom(2 * 1024 * 1024)
        wrong = _digest(b"something else")
        with pytest.raises(UpstreamRejected, match="not committed"):
            client.upload_blob("team-a/web", wrong, len(data), _chunks(data))
        assert client.blob_size("team-a/web", wrong) is None
        assert registry.state.uploads == {}  # the half-done upload was cancelled

    def test_given_a_small_blob_when_uploaded_then_one_post_and_one_put(
        self, registry: OciRegistry, client: HttpRegistryClient
    ) -> None:
        data = b"config"
        client.upload_blob("team-a/web", _digest(data), len(data), iter([data]))
        assert client.blob_size("team-a/web", _digest(data)) == len(data)
        assert [e.method for e in registry.state.log if "/uploads/" in e.path and e.status != 401] == [
            "POST",
            "PUT",
        ]

    def test_given_a_blob_in_another_repository_when_mounted_then_it_is_there_without_upload(
        self, registry: OciRegistry, client: HttpRegistryClient
    ) -> None:
        data = os.urandom(4096)
        client.upload_blob("team-a/web", _digest(data), len(data), iter([data]))
        assert client.mount_blob("dr/web", _digest(data), "team-a/web") is True
        assert client.blob_size("dr/web", _digest(data)) == len(data)
        assert client.mount_blob("dr/api", _digest(b"absent"), "team-a/web") is False
        assert registry.state.uploads == {}  # the fallback upload the registry opened was cancelled

    def test_given_many_tags_when_listed_then_every_page_is_followed(
        self, registry: OciRegistry, client: HttpRegistryClient
    ) -> None:
        put_image(registry.state, "team-a/web", "v1")
        for i in range(2, 8):
            put_image(registry.state, "team-a/web", f"v{i}", layer_sizes=(16,))
        assert list(client.list_tags("team-a/web", page_size=3)) == [f"v{i}" for i in range(1, 8)]
        pages = [e for e in registry.state.log if e.path.endswith("/tags/list") and e.status == 200]
        assert len(pages) == 3
        assert list(client.list_tags("team-a/none")) == []

    def test_given_an_artifact_with_a_subject_when_referrers_are_listed_then_it_is_found(
        self, registry: OciRegistry, client: HttpRegistryClient
    ) -> None:
        image = put_image(registry.state, "team-a/web", "v1")
        sbom = put_referrer(registry.state, "team-a/web", image)
        refs = client.referrers("team-a/web", image.digest)
        assert [r.digest for r in refs] == [sbom.digest]
        assert refs[0].artifact_type == "application/spdx+json"
        assert client.referrers("team-a/web", sbom.digest) == []
        assert [r.digest for r in client.list_referrers("team-a/web", image.digest) or []] == [sbom.digest]
        assert client.list_referrers("team-a/web", sbom.digest) == []  # the API is there: none, not None

    def test_given_a_registry_without_the_referrers_api_when_listed_then_it_says_so(
        self, registry: OciRegistry, client: HttpRegistryClient
    ) -> None:
        image = put_image(registry.state, "team-a/web", "v1")
        # OCI 1.1 "Listing Referrers": a registry with the API never answers 404 there; one without does
        registry.state.faults.append(Fault("GET", "/referrers/", 404, times=2))
        assert client.list_referrers("team-a/web", image.digest) is None
        assert client.referrers("team-a/web", image.digest) == []  # the copy job's view: nothing to carry

    def test_given_an_index_when_read_then_it_is_an_index(
        self, registry: OciRegistry, client: HttpRegistryClient
    ) -> None:
        put_index(registry.state, "team-a/web", "multi")
        got = client.get_manifest("team-a/web", "multi")
        assert got is not None
        assert got.is_index
        assert got.media_type == OCI_INDEX

    def test_given_throttling_when_a_request_repeats_then_it_succeeds_after_retries(
        self, registry: OciRegistry, client: HttpRegistryClient
    ) -> None:
        pushed = put_image(registry.state, "team-a/web", "v1")
        registry.state.faults.append(Fault("GET", "/manifests/", 429, times=2, retry_after=1))
        registry.state.faults.append(Fault("HEAD", "/manifests/", DROP, times=1))
        got = client.get_manifest("team-a/web", "v1")
        assert got is not None
        assert got.digest == pushed.digest
        assert client.head_manifest("team-a/web", "v1") == pushed.digest

    def test_given_a_429_storm_when_retries_run_out_then_unavailable(
        self, registry: OciRegistry, client: HttpRegistryClient
    ) -> None:
        registry.state.faults.append(Fault("GET", "/manifests/", 429, times=50))
        with pytest.raises(UpstreamUnavailable, match="429"):
            client.get_manifest("team-a/web", "v1")

    def test_given_a_manifest_whose_blobs_are_missing_when_put_then_refused_precisely(
        self, client: HttpRegistryClient
    ) -> None:
        body = (
            b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":'
            b'{"mediaType":"x","digest":"sha256:' + b"a" * 64 + b'","size":1},"layers":[]}'
        )
        with pytest.raises(UpstreamRejected, match="MANIFEST_BLOB_UNKNOWN"):
            client.put_manifest(
                "team-a/web",
                "v1",
                Manifest("application/vnd.oci.image.manifest.v1+json", body, _digest(body)),
            )


class TestTokenAuth(RegistryClientContract):
    auth = "token"

    def test_given_a_wrong_password_when_used_then_rejected_without_echoing_it(
        self, registry: OciRegistry
    ) -> None:
        bad = HttpRegistryClient(registry.url, credentials=RegistryCredentials(USER, "not-the-Password-9"))
        try:
            with pytest.raises(UpstreamRejected) as err:
                bad.get_manifest("team-a/web", "v1")
        finally:
            bad.close()
        assert "credentials_env" in str(err.value)
        assert "not-the-Password-9" not in str(err.value)
        assert "not-the-Password-9" not in repr(bad.__dict__)

    def test_given_tokens_when_many_requests_run_then_one_token_per_scope(
        self, registry: OciRegistry, client: HttpRegistryClient
    ) -> None:
        put_image(registry.state, "team-a/web", "v1")
        for _ in range(5):
            client.head_manifest("team-a/web", "v1")
        assert sum(1 for e in registry.state.log if e.path == "/token") == 1


class TestBasicAuth(RegistryClientContract):
    auth = "basic"


class TestNoAuth(RegistryClientContract):
    auth = "none"


def test_given_a_non_loopback_http_registry_when_built_then_refused() -> None:
    with pytest.raises(UpstreamRejected, match="loopback"):
        HttpRegistryClient("http://harbor.example.com")
