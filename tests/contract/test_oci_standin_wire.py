"""The OCI stand-in speaks the distribution spec on the wire (raw HTTP, no client of ours in between)."""

from __future__ import annotations

import hashlib
import http.client
import json
from collections.abc import Iterator

import pytest

from acrsync.local.oci_images import put_image
from acrsync.local.oci_registry import OciRegistry

pytestmark = pytest.mark.loopback


@pytest.fixture
def reg() -> Iterator[OciRegistry]:
    with OciRegistry(auth="none") as r:
        yield r


def _call(
    reg: OciRegistry, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection(reg.host, timeout=10)
    conn.request(
        method, path, body=body or None, headers={"Content-Length": str(len(body)), **(headers or {})}
    )
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp


def test_end_1_version_check_answers_200_with_the_api_version_header(reg: OciRegistry) -> None:
    resp = _call(reg, "GET", "/v2/")
    assert resp.status == 200
    assert resp.getheader("Docker-Distribution-API-Version") == "registry/2.0"


def test_chunked_upload_in_order_then_out_of_order_then_status_then_commit(reg: OciRegistry) -> None:
    data = b"a" * 1000 + b"b" * 500
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    start = _call(reg, "POST", "/v2/team-a/web/blobs/uploads/")
    assert start.status == 202
    location = start.getheader("Location")
    first = _call(reg, "PATCH", location, data[:1000], {"Content-Range": "0-999"})
    assert (first.status, first.getheader("Range")) == (202, "0-999")
    # end-5: a chunk that does not start where the upload stands is refused with 416
    assert _call(reg, "PATCH", location, data[1000:], {"Content-Range": "0-499"}).status == 416
    assert _call(reg, "GET", location).getheader("Range") == "0-999"  # end-13: where it stands
    assert _call(reg, "PATCH", location, data[1000:], {"Content-Range": "1000-1499"}).status == 202
    done = _call(reg, "PUT", f"{location}?digest={digest}")
    assert (done.status, done.getheader("Docker-Content-Digest")) == (201, digest)
    assert _call(reg, "HEAD", f"/v2/team-a/web/blobs/{digest}").getheader("Content-Length") == "1500"


def test_monolithic_post_with_digest_and_a_wrong_digest_is_refused(reg: OciRegistry) -> None:
    data = b"monolithic"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert _call(reg, "POST", f"/v2/team-a/web/blobs/uploads/?digest={digest}", data).status == 201
    wrong = "sha256:" + "0" * 64
    assert _call(reg, "POST", f"/v2/team-a/web/blobs/uploads/?digest={wrong}", data).status == 400


def test_blobs_are_per_repository_until_mounted(reg: OciRegistry) -> None:
    image = put_image(reg.state, "team-a/web", "v1", layer_sizes=(10,))
    layer = json.loads(reg.state.get_manifest("team-a/web", "v1")[1])["layers"][0]["digest"]  # type: ignore[index]
    assert _call(reg, "HEAD", f"/v2/other/web/blobs/{layer}").status == 404
    mounted = _call(reg, "POST", f"/v2/other/web/blobs/uploads/?mount={layer}&from=team-a/web")
    assert mounted.status == 201
    assert _call(reg, "HEAD", f"/v2/other/web/blobs/{layer}").status == 200
    assert image.digest


def test_token_auth_challenges_with_realm_service_and_scope() -> None:
    with OciRegistry(users={"u": "p"}) as reg:
        resp = _call(reg, "GET", "/v2/team-a/web/manifests/v1")
        assert resp.status == 401
        challenge = resp.getheader("WWW-Authenticate") or ""
        assert challenge.startswith(f'Bearer realm="{reg.url}/token",service="oci-standin"')
        assert 'scope="repository:team-a/web:pull"' in challenge


def test_tag_pagination_follows_n_and_last_with_a_link_header(reg: OciRegistry) -> None:
    for tag in ("a", "b", "c"):
        put_image(reg.state, "team-a/web", tag, layer_sizes=(4,))
    conn = http.client.HTTPConnection(reg.host, timeout=10)
    conn.request("GET", "/v2/team-a/web/tags/list?n=2")
    resp = conn.getresponse()
    assert json.loads(resp.read())["tags"] == ["a", "b"]
    assert resp.getheader("Link") == '</v2/team-a/web/tags/list?n=2&last=b>; rel="next"'
    conn.close()
