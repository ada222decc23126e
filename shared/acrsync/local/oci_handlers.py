"""Routing of the OCI registry stand-in: one function per endpoint of the distribution-spec v1.1 table.

Each returns ``(status, headers, body)``; ``body`` is bytes or ``(size, chunks)`` for a streamed blob.
Spec sections are quoted by their endpoint ids (end-N) and headings in
https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from acrsync.domain.oci import OCI_INDEX, REPO_NAME_RE, is_digest
from acrsync.local.oci_store import RegistryError

if TYPE_CHECKING:
    from acrsync.local.oci_registry import OciRegistry

Body = bytes | tuple[int, Iterator[bytes]]
Result = tuple[int, dict[str, str], Body]

_PATHS = (
    ("manifest", re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<ref>[^/]+)\Z")),
    ("blob", re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<ref>sha256:[0-9a-f]{64}|[^/]+)\Z")),
    ("uploads", re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/\Z")),
    ("upload", re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/(?P<ref>[0-9a-f]{32})\Z")),
    ("tags", re.compile(r"^/v2/(?P<name>.+)/tags/list\Z")),
    ("referrers", re.compile(r"^/v2/(?P<name>.+)/referrers/(?P<ref>[^/]+)\Z")),
)


@dataclass(frozen=True)
class Req:
    """One authorised request, as a handler needs it."""

    reg: OciRegistry
    name: str
    ref: str
    query: Mapping[str, str]
    body: Any  # read(n) -> bytes, at most Content-Length
    length: int
    headers: Any


def route(
    handler: Any, reg: OciRegistry, method: str, path: str, query: Mapping[str, str], *, length: int
) -> Result:
    """Dispatch one authorised request."""
    if path in ("/v2/", "/v2"):  # end-1: the API version check
        return 200, {"Docker-Distribution-API-Version": "registry/2.0"}, b"{}"
    for kind, rx in _PATHS:
        m = rx.match(path)
        if m is None:
            continue
        name = m.group("name")
        if not REPO_NAME_RE.match(name):
            raise RegistryError(400, "NAME_INVALID", f"invalid repository name {name!r}")
        ref = m.groupdict().get("ref") or ""
        fn: Callable[[Req], Result] | None = _TABLE.get((kind, method))
        if fn is None:
            raise RegistryError(405, "UNSUPPORTED", f"{method} is not supported on {kind}")
        return fn(Req(reg, name, ref, query, handler.body, length, handler.headers))
    raise RegistryError(404, "NOT_FOUND", f"no endpoint {path}")


def _manifest_get(r: Req) -> Result:
    reg, name, ref = r.reg, r.name, r.ref
    hit = reg.state.get_manifest(name, ref)
    if hit is None:
        raise RegistryError(404, "MANIFEST_UNKNOWN", f"manifest {name}:{ref} unknown")
    media, body, digest = hit
    return 200, {"Content-Type": media, "Docker-Content-Digest": digest}, body


def _manifest_put(r: Req) -> Result:
    reg, name, ref, rfile, length, hdrs = r.reg, r.name, r.ref, r.body, r.length, r.headers
    if length > 4 << 20:  # spec: registries SHOULD accept at least 4 MiB manifests; beyond, 413
        raise RegistryError(413, "SIZE_INVALID", "manifest too large")
    body = rfile.read(length)
    digest, subject = reg.state.put_manifest(name, ref, hdrs.get("Content-Type", ""), body)
    headers = {"Location": f"/v2/{name}/manifests/{digest}", "Docker-Content-Digest": digest}
    if subject:  # end-7 with a subject: "OCI-Subject" says the registry indexed the referrer
        headers["OCI-Subject"] = subject
    if not is_digest(ref):
        for notify in list(reg.on_push):
            notify(name, ref, digest)
    return 201, headers, b""


def _manifest_delete(r: Req) -> Result:
    reg, name, ref = r.reg, r.name, r.ref
    if not is_digest(ref):
        raise RegistryError(400, "UNSUPPORTED", "delete manifests by digest")
    if not reg.state.delete_manifest(name, ref):
        raise RegistryError(404, "MANIFEST_UNKNOWN", f"manifest {name}@{ref} unknown")
    for notify in list(reg.on_delete):
        notify(name, ref)
    return 202, {}, b""


def _blob_get(r: Req) -> Result:
    reg, name, ref = r.reg, r.name, r.ref
    size = reg.state.blob_size(name, ref)
    if size is None:
        raise RegistryError(404, "BLOB_UNKNOWN", f"blob {ref} unknown to {name}")
    headers = {
        "Docker-Content-Digest": ref,
        "Content-Length": str(size),
        "Content-Type": "application/octet-stream",
    }
    return 200, headers, (size, reg.state.read_blob(ref))


def _blob_head(r: Req) -> Result:
    status, headers, _body = _blob_get(r)
    return status, headers, b""


def _uploads_post(r: Req) -> Result:
    reg, name, q, rfile, length, _h = r.reg, r.name, r.query, r.body, r.length, r.headers
    state = reg.state
    if "mount" in q:  # end-11: mount if the token may pull `from` and the blob is there, else an upload
        src = q.get("from", "")
        if src and reg_may_pull(reg, _h, src) and state.mount(name, q["mount"], src):
            return (
                201,
                {"Location": f"/v2/{name}/blobs/{q['mount']}", "Docker-Content-Digest": q["mount"]},
                b"",
            )
    uid = state.start_upload(name)
    if "digest" in q:  # end-4b: the whole blob in this POST
        state.append(uid, rfile, length)
        digest = state.commit(uid, q["digest"])
        return 201, {"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": digest}, b""
    return 202, _upload_headers(name, uid, 0), b""


def reg_may_pull(reg: OciRegistry, headers: Any, repo: str) -> bool:
    """Whether the request's credentials may pull ``repo`` (the mount's source)."""
    return reg.authorize(headers.get("Authorization", ""), repo, "pull")


def _upload_headers(name: str, uid: str, size: int) -> dict[str, str]:
    headers = {"Location": f"/v2/{name}/blobs/uploads/{uid}", "Docker-Upload-UUID": uid}
    headers["Range"] = f"0-{size - 1}" if size else "0-0"
    return headers


def _upload_patch(r: Req) -> Result:
    reg, name, uid, rfile, length, hdrs = r.reg, r.name, r.ref, r.body, r.length, r.headers
    up = reg.state.upload(name, uid)
    content_range = hdrs.get("Content-Range", "")
    if content_range:  # end-5: chunks must be in order, each starting where the last ended
        start = int(content_range.split("-")[0])
        if start != up.size:
            raise RegistryError(416, "BLOB_UPLOAD_INVALID", f"chunk starts at {start}, upload has {up.size}")
    size = reg.state.append(uid, rfile, length)
    return 202, _upload_headers(name, uid, size), b""


def _upload_put(r: Req) -> Result:
    reg, name, uid, q, rfile, length = r.reg, r.name, r.ref, r.query, r.body, r.length
    reg.state.upload(name, uid)
    digest = q.get("digest", "")
    if not is_digest(digest):
        raise RegistryError(400, "DIGEST_INVALID", "PUT needs ?digest=sha256:...")
    if length:
        reg.state.append(uid, rfile, length)
    reg.state.commit(uid, digest)
    return 201, {"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": digest}, b""


def _upload_get(r: Req) -> Result:
    reg, name, uid = r.reg, r.name, r.ref
    up = reg.state.upload(name, uid)  # end-13: where an interrupted upload stands
    return 204, _upload_headers(name, uid, up.size), b""


def _upload_delete(r: Req) -> Result:
    reg, name, uid = r.reg, r.name, r.ref
    reg.state.upload(name, uid)
    reg.state.cancel(uid)
    return 204, {}, b""


def _tags(r: Req) -> Result:
    reg, name, q = r.reg, r.name, r.query
    tags = sorted(reg.state.tags.get(name, {}))  # end-8: lexical order
    if not tags and not reg.state.has_repo(name):
        raise RegistryError(404, "NAME_UNKNOWN", f"repository {name} unknown")
    last = q.get("last", "")
    if last:
        tags = [t for t in tags if t > last]
    headers: dict[str, str] = {}
    if "n" in q:
        n = int(q["n"])
        if len(tags) > n:
            headers["Link"] = f'</v2/{name}/tags/list?{urlencode({"n": n, "last": tags[n - 1]})}>; rel="next"'
        tags = tags[:n]
    return 200, headers, json.dumps({"name": name, "tags": tags}).encode()


def _referrers(r: Req) -> Result:
    reg, name, ref, q = r.reg, r.name, r.ref, r.query
    if not is_digest(ref):
        raise RegistryError(400, "DIGEST_INVALID", "referrers are listed by digest")
    kind = q.get("artifactType", "")
    headers = {"Content-Type": OCI_INDEX}
    if kind:
        headers["OCI-Filters-Applied"] = "artifactType"
    return 200, headers, reg.state.referrers(name, ref, kind)


_TABLE: dict[tuple[str, str], Callable[[Req], Result]] = {
    ("manifest", "GET"): _manifest_get,
    ("manifest", "HEAD"): _manifest_get,
    ("manifest", "PUT"): _manifest_put,
    ("manifest", "DELETE"): _manifest_delete,
    ("blob", "GET"): _blob_get,
    ("blob", "HEAD"): _blob_head,
    ("uploads", "POST"): _uploads_post,
    ("upload", "PATCH"): _upload_patch,
    ("upload", "PUT"): _upload_put,
    ("upload", "GET"): _upload_get,
    ("upload", "DELETE"): _upload_delete,
    ("tags", "GET"): _tags,
    ("referrers", "GET"): _referrers,
}
