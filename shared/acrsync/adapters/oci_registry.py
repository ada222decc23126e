"""``RegistryClient`` over the OCI distribution API (spec v1.1), on ``oci_http.Transport``.

Why our own thin client rather than ``oras`` or ``python-dxf`` (see README "Dependency choices"): oras-py
pushes and pulls blobs through files (``upload_blob(path)``, ``download_blob(outfile)``), so a
registry-to-registry copy would need temp files; python-dxf streams, but always fetches tokens over https
(``url_parts[0] = 'https'``), refuses auth on plain-http registries (so no loopback stand-in can prove it),
asks one repository's scope (a cross-repository mount needs two), has no referrers API, and both pull in
``requests`` (plus ``jsonschema`` or ``www-authenticate``/``tqdm``) for what ``http.client`` does here.
"""

from __future__ import annotations

import hashlib
import http.client
import json
from collections.abc import Iterator
from urllib.parse import urlencode, urlsplit

from acrsync.adapters.oci_http import RegistryCredentials, Response, Transport, int_header, status_error
from acrsync.domain.oci import (
    ACCEPT_MANIFESTS,
    OCI_INDEX,
    Descriptor,
    Manifest,
    media_type_of,
    next_link,
    references,
)
from acrsync.errors import UpstreamRejected, UpstreamUnavailable
from acrsync.ports import BlobReader, RegistryClient

CHUNK = 1 << 20  # bytes per read/write while streaming a blob: memory stays flat whatever the blob size
_MAX_TAG_PAGES = 10_000  # 1,000,000 tags at 100 a page: past that, a registry's Link chain is a loop
_MONOLITHIC_MAX = 1 << 20  # blobs up to this size go in one PUT; larger ones stream through one PATCH


def _pull(repo: str) -> str:
    return f"repository:{repo}:pull"


def _push(repo: str) -> str:
    return f"repository:{repo}:pull,push"


class _Reader(BlobReader):
    def __init__(self, resp: Response, netloc: str) -> None:
        self._resp = resp
        self._netloc = netloc
        self.size = int_header(resp, "content-length", -1)
        self._done = False

    def __iter__(self) -> Iterator[bytes]:
        raw = self._resp.raw
        if raw is None:
            yield self._resp.body
            return
        try:
            while chunk := raw.read(CHUNK):
                yield chunk
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise UpstreamUnavailable(f"{self._netloc}: blob download broke: {type(exc).__name__}") from None
        self._done = True

    def close(self) -> None:
        self._resp.release(self._done)


class HttpRegistryClient(RegistryClient):
    """One registry. Build once per (registry, credentials) per function instance; thread-safe."""

    def __init__(
        self, base_url: str, *, credentials: RegistryCredentials | None = None, **kwargs: object
    ) -> None:
        self._t = Transport(base_url, credentials=credentials, **kwargs)  # type: ignore[arg-type]
        self.host = self._t.host

    def close(self) -> None:
        """Close idle connections."""
        self._t.close()

    def _read_manifest(self, method: str, repo: str, reference: str) -> Response | None:
        """``GET``/``HEAD`` of a manifest: the response, or None for 404; any other non-200 raises."""
        resp = self._t.request(
            method,
            f"/v2/{repo}/manifests/{reference}",
            scope=_pull(repo),
            headers={"Accept": ACCEPT_MANIFESTS},
        )
        if resp.status == 404:
            return None
        if resp.status != 200:
            raise status_error(resp, f"{method} manifest {repo}:{reference}")
        return resp

    def get_manifest(self, repo: str, reference: str) -> Manifest | None:
        resp = self._read_manifest("GET", repo, reference)
        if resp is None:
            return None
        digest = "sha256:" + hashlib.sha256(resp.body).hexdigest()
        if reference.startswith("sha256:") and digest != reference:
            # spec §"Pulling manifests": clients SHOULD verify the content against the digest asked for.
            raise UpstreamRejected(
                f"{self.host}/{repo}@{reference}: content hashes to {digest}", code="DIGEST"
            )
        return Manifest(media_type_of(resp.body, resp.header("content-type")), resp.body, digest)

    def head_manifest(self, repo: str, reference: str) -> str | None:
        resp = self._read_manifest("HEAD", repo, reference)
        if resp is None:
            return None
        if resp.header("docker-content-digest") or reference.startswith("sha256:"):
            return resp.header("docker-content-digest") or reference
        # A registry may leave Docker-Content-Digest out of a HEAD (older ones do): the tag exists, so read
        # it and hash it rather than report "nothing there" (a copy would then read as a mismatch).
        got = self.get_manifest(repo, reference)
        return got.digest if got is not None else None

    def put_manifest(self, repo: str, reference: str, manifest: Manifest) -> str:
        resp = self._t.request(
            "PUT",
            f"/v2/{repo}/manifests/{reference}",
            scope=_push(repo),
            headers={"Content-Type": manifest.media_type},
            body=manifest.body,
        )
        if resp.status != 201:
            raise status_error(resp, f"PUT manifest {repo}:{reference}")
        stored = resp.header("docker-content-digest") or manifest.digest
        if stored != manifest.digest:
            raise UpstreamRejected(
                f"{repo}:{reference} stored as {stored}, sent {manifest.digest}", code="DIGEST"
            )
        return stored

    def delete_manifest(self, repo: str, digest: str) -> bool:
        resp = self._t.request(
            "DELETE", f"/v2/{repo}/manifests/{digest}", scope=_push(repo).replace("push", "*")
        )
        if resp.status == 404:
            return False
        if resp.status not in (200, 202):
            raise status_error(resp, f"DELETE manifest {repo}@{digest}")
        return True

    def delete_tag(self, repo: str, tag: str) -> bool | None:
        resp = self._t.request(
            "DELETE", f"/v2/{repo}/manifests/{tag}", scope=_push(repo).replace("push", "*")
        )
        if resp.status == 404:
            return False
        if resp.status in (400, 405):  # spec 1.1 allows it; many registries still refuse deletes by tag
            return None
        if resp.status not in (200, 202):
            raise status_error(resp, f"DELETE tag {repo}:{tag}")
        return True

    def blob_size(self, repo: str, digest: str) -> int | None:
        resp = self._t.request("HEAD", f"/v2/{repo}/blobs/{digest}", scope=_pull(repo))
        if resp.status == 404:
            return None
        if resp.status not in (200, 307):
            raise status_error(resp, f"HEAD blob {repo}@{digest}")
        return int_header(resp, "content-length", 0)

    def open_blob(self, repo: str, digest: str) -> BlobReader:
        resp = self._t.request("GET", f"/v2/{repo}/blobs/{digest}", scope=_pull(repo), stream=True)
        hops = 0
        while (
            resp.status in (301, 302, 303, 307, 308) and hops < 3
        ):  # storage redirect (spec "Pulling blobs")
            location = resp.header("location")
            resp.release(True)
            same_host = urlsplit(location).netloc in ("", self.host)
            resp = self._t.request("GET", location, scope=_pull(repo), stream=True, auth=same_host)
            hops += 1
        if resp.status != 200:
            raise status_error(resp, f"GET blob {repo}@{digest}")
        return _Reader(resp, self.host)

    def mount_blob(self, repo: str, digest: str, from_repo: str) -> bool:
        query = urlencode({"mount": digest, "from": from_repo})
        scope = f"{_push(repo)} {_pull(from_repo)}"
        resp = self._t.request("POST", f"/v2/{repo}/blobs/uploads/?{query}", scope=scope)
        if resp.status == 201:
            return True
        if resp.status == 202:  # spec §"Mounting a blob from another repository": fell back to an upload
            self._cancel(resp.header("location"), repo)
            return False
        raise status_error(resp, f"mount {digest} from {from_repo} into {repo}")

    def _cancel(self, location: str, repo: str) -> None:
        if location:
            self._t.request("DELETE", location, scope=_push(repo)).release(True)

    def upload_blob(self, repo: str, digest: str, size: int, chunks: Iterator[bytes]) -> None:
        resp = self._t.request("POST", f"/v2/{repo}/blobs/uploads/", scope=_push(repo))
        if resp.status != 202:
            raise status_error(resp, f"start upload to {repo}")
        location = resp.header("location")
        hasher = hashlib.sha256()
        if size <= _MONOLITHIC_MAX:  # spec §"POST then PUT": the body goes with the final PUT
            data = b"".join(chunks)
            _check(hasher, data, digest, size, repo)
            put = self._t.request(
                "PUT",
                _with_digest(location, digest),
                scope=_push(repo),
                body=data,
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(data))},
            )
        else:  # spec §"Pushing a blob in chunks": one streamed PATCH, hashed on the way; PUT if it matches
            sent = [0]
            body = _hashing(chunks, hasher, sent, size)
            patch = self._t.request(
                "PATCH",
                location,
                scope=_push(repo),
                body=body,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(size),
                    "Content-Range": f"0-{size - 1}",
                },
            )
            if patch.status != 202:
                raise status_error(patch, f"upload {digest} to {repo}")
            try:
                _check(hasher, b"", digest, size, repo, sent=sent[0])
            except UpstreamRejected:
                self._cancel(patch.header("location") or location, repo)
                raise
            put = self._t.request(
                "PUT", _with_digest(patch.header("location") or location, digest), scope=_push(repo), body=b""
            )
        if put.status != 201:
            raise status_error(put, f"commit {digest} to {repo}")

    def list_tags(self, repo: str, *, page_size: int = 100) -> Iterator[str]:
        url = f"/v2/{repo}/tags/list?n={page_size}"
        seen: set[str] = set()
        while url:
            if url in seen or len(seen) >= _MAX_TAG_PAGES:  # a Link back to a page, or endless pages
                raise UpstreamUnavailable(
                    f"list tags of {repo}: the registry's pages do not end ({len(seen)} read); stopped"
                )
            seen.add(url)
            resp = self._t.request("GET", url, scope=_pull(repo))
            if resp.status == 404:
                return
            if resp.status != 200:
                raise status_error(resp, f"list tags of {repo}")
            yield from _tags(resp.body, repo)
            url = next_link(resp.header("link"))

    def referrers(self, repo: str, digest: str) -> list[Descriptor]:
        return self.list_referrers(repo, digest) or []

    def list_referrers(self, repo: str, digest: str) -> list[Descriptor] | None:
        resp = self._t.request(
            "GET", f"/v2/{repo}/referrers/{digest}", scope=_pull(repo), headers={"Accept": OCI_INDEX}
        )
        if resp.status in (404, 405):  # a registry without the referrers API (spec: fall back to tag schema)
            return None
        if resp.status != 200:
            raise status_error(resp, f"referrers of {repo}@{digest}")
        return list(references(Manifest(OCI_INDEX, resp.body, "")).manifests)


def _with_digest(location: str, digest: str) -> str:
    return location + ("&" if "?" in location else "?") + urlencode({"digest": digest})


def _hashing(chunks: Iterator[bytes], hasher: hashlib._Hash, sent: list[int], size: int) -> Iterator[bytes]:
    for chunk in chunks:
        if sent[0] + len(chunk) > size:
            raise UpstreamRejected(
                f"the source sent more than the {size} bytes its descriptor says", code="SIZE"
            )
        hasher.update(chunk)
        sent[0] += len(chunk)
        yield chunk
    if sent[0] != size:  # raising mid-request drops the connection: the upload is never committed
        raise UpstreamUnavailable(f"the source blob ended after {sent[0]} of {size} bytes")


def _check(hasher: hashlib._Hash, data: bytes, digest: str, size: int, repo: str, *, sent: int = -1) -> None:
    hasher.update(data)
    got_size = len(data) if sent < 0 else sent
    got = "sha256:" + hasher.hexdigest()
    if got != digest or got_size != size:
        raise UpstreamRejected(
            f"blob for {repo} is {got_size} bytes hashing to {got}, expected {size} bytes {digest}; "
            "not committed",
            code="DIGEST_INVALID",
        )


def _tags(body: bytes, repo: str) -> list[str]:
    """The ``tags`` of a tag-list page (spec §"Listing Tags"); an unreadable page is an upstream failure."""
    try:
        doc = json.loads(body)
        tags = doc.get("tags") or []
    except (ValueError, AttributeError, RecursionError):
        raise UpstreamUnavailable(
            f"list tags of {repo}: the registry answered something other than JSON"
        ) from None
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise UpstreamUnavailable(f"list tags of {repo}: the registry's tags are not a list of names")
    return tags
