"""The state behind the loopback OCI registry stand-in: blobs on disk, manifests, tags, uploads, users.

Follows the OCI distribution-spec v1.1 (https://github.com/opencontainers/distribution-spec/blob/v1.1.0/
spec.md): blobs are content-addressed but *linked* per repository (a blob pushed to ``a/x`` is not
readable from ``b/y`` until mounted or pushed there, §"Mounting a blob from another repository"); a
manifest PUT is refused with ``MANIFEST_BLOB_UNKNOWN`` unless every blob and child manifest it references
is already in the repository (§"Pushing Manifests"); the referrers of a digest are the manifests whose
``subject`` names it (§"Listing Referrers"). Blob bytes live in files under a temporary directory and are
streamed in and out, so the stand-in's memory stays flat too (the copy bench measures that).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from acrsync.domain.oci import INDEX_TYPES, MANIFEST_TYPES, OCI_INDEX, ManifestError, media_type_of

CHUNK = 1 << 20
DROP = -1  # a fault that closes the connection without answering


class RegistryError(Exception):
    """A distribution-spec error: HTTP status and one ``errors[]`` entry (§"Error Codes")."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Fault:
    """Answer the next ``times`` requests matching ``method`` and ``path`` (a regex) with ``status``."""

    method: str
    path: str
    status: int
    times: int = 1
    retry_after: int | None = None


@dataclass(frozen=True)
class Logged:
    """One request as the stand-in saw it (the request log tests and benches count)."""

    method: str
    path: str
    status: int
    bytes_in: int


@dataclass
class _Upload:
    repo: str
    path: Path
    size: int = 0
    hasher: Any = field(default_factory=hashlib.sha256)


class RegistryState:
    """Everything one registry holds. Thread-safe; ``close`` removes the blob directory."""

    def __init__(self, *, projects: set[str] | None = None) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="acrsync-oci-"))
        self._lock = threading.RLock()
        self.projects = projects  # None: any repository may be created on push (like distribution)
        self.blobs: dict[str, int] = {}  # digest -> size (bytes in files)
        self.links: dict[str, set[str]] = {}  # repo -> digests linked there
        self.manifests: dict[str, dict[str, tuple[str, bytes]]] = {}  # repo -> digest -> (type, body)
        self.tags: dict[str, dict[str, str]] = {}  # repo -> tag -> digest
        self.uploads: dict[str, _Upload] = {}
        self.faults: list[Fault] = []
        self.log: list[Logged] = []

    def close(self) -> None:
        """Remove the blob files."""
        shutil.rmtree(self._dir, ignore_errors=True)

    # -- faults and log ---------------------------------------------------------------------------
    def take_fault(self, method: str, path: str) -> Fault | None:
        """The first armed fault matching this request (consumed), or None."""
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method in (method, "*") and re.search(fault.path, path):
                    fault.times -= 1
                    return fault
        return None

    def record(self, method: str, path: str, status: int, bytes_in: int) -> None:
        with self._lock:
            self.log.append(Logged(method, path.split("?", maxsplit=1)[0], status, bytes_in))

    # -- repositories -------------------------------------------------------------------------------
    def check_push(self, repo: str) -> None:
        """``NAME_UNKNOWN`` when the repository's project does not exist (Harbor's behaviour)."""
        if self.projects is not None and repo.split("/", 1)[0] not in self.projects:
            raise RegistryError(404, "NAME_UNKNOWN", f"project {repo.split('/', 1)[0]} not found")

    def has_repo(self, repo: str) -> bool:
        return repo in self.links or repo in self.manifests

    # -- blobs --------------------------------------------------------------------------------------
    def blob_size(self, repo: str, digest: str) -> int | None:
        with self._lock:
            return self.blobs[digest] if digest in self.links.get(repo, ()) else None

    def read_blob(self, digest: str) -> Iterator[bytes]:
        with (self._dir / digest.replace(":", "_")).open("rb") as fh:
            while chunk := fh.read(CHUNK):
                yield chunk

    def put_blob_bytes(self, repo: str, data: bytes) -> str:
        """Store a small blob directly (seeding test images)."""
        upload = self.start_upload(repo)
        self.append(upload, io.BytesIO(data), len(data))
        return self.commit(upload, "sha256:" + hashlib.sha256(data).hexdigest())

    def mount(self, repo: str, digest: str, from_repo: str) -> bool:
        with self._lock:
            if digest not in self.links.get(from_repo, ()):
                return False
            self.links.setdefault(repo, set()).add(digest)
            return True

    def start_upload(self, repo: str) -> str:
        self.check_push(repo)
        uid = uuid.uuid4().hex
        with self._lock:
            self.uploads[uid] = _Upload(repo, self._dir / f"upload-{uid}")
        self.uploads[uid].path.touch()
        return uid

    def upload(self, repo: str, uid: str) -> _Upload:
        with self._lock:
            up = self.uploads.get(uid)
        if up is None or up.repo != repo:
            raise RegistryError(404, "BLOB_UPLOAD_UNKNOWN", f"upload {uid} unknown")
        return up

    def append(self, uid: str, stream: BinaryIO, length: int) -> int:
        """Stream ``length`` bytes into the upload; returns the new size."""
        up = self.uploads[uid]
        with up.path.open("ab") as fh:
            left = length
            while left > 0:
                chunk = stream.read(min(CHUNK, left))
                if not chunk:
                    raise RegistryError(400, "BLOB_UPLOAD_INVALID", "the body ended before Content-Length")
                up.hasher.update(chunk)
                fh.write(chunk)
                left -= len(chunk)
        up.size += length
        return up.size

    def commit(self, uid: str, digest: str) -> str:
        up = self.uploads.pop(uid)
        got = "sha256:" + up.hasher.hexdigest()
        if got != digest:
            up.path.unlink(missing_ok=True)
            raise RegistryError(400, "DIGEST_INVALID", f"content hashes to {got}, not {digest}")
        with self._lock:
            up.path.replace(self._dir / digest.replace(":", "_"))
            self.blobs[digest] = up.size
            self.links.setdefault(up.repo, set()).add(digest)
        return digest

    def cancel(self, uid: str) -> None:
        up = self.uploads.pop(uid, None)
        if up is not None:
            up.path.unlink(missing_ok=True)

    # -- manifests ----------------------------------------------------------------------------------
    def get_manifest(self, repo: str, ref: str) -> tuple[str, bytes, str] | None:
        with self._lock:
            digest = ref if ref.startswith("sha256:") else self.tags.get(repo, {}).get(ref, "")
            hit = self.manifests.get(repo, {}).get(digest)
        return (hit[0], hit[1], digest) if hit else None

    def put_manifest(self, repo: str, ref: str, content_type: str, body: bytes) -> tuple[str, str]:
        """Store after checking references; returns (digest, subject digest or "")."""
        self.check_push(repo)
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if ref.startswith("sha256:") and ref != digest:
            raise RegistryError(400, "DIGEST_INVALID", f"manifest hashes to {digest}, not {ref}")
        try:
            doc = json.loads(body)
            media = media_type_of(body, content_type)
        except (ValueError, ManifestError) as exc:
            raise RegistryError(400, "MANIFEST_INVALID", str(exc)) from None
        if media not in MANIFEST_TYPES:
            raise RegistryError(400, "MANIFEST_INVALID", f"unsupported media type {media}")
        with self._lock:
            self._check_references(repo, media, doc)
            self.manifests.setdefault(repo, {})[digest] = (media, body)
            if not ref.startswith("sha256:"):
                self.tags.setdefault(repo, {})[ref] = digest
        subject = doc.get("subject") or {}
        return digest, str(subject.get("digest", "")) if isinstance(subject, dict) else ""

    def _check_references(self, repo: str, media: str, doc: dict[str, Any]) -> None:
        if media in INDEX_TYPES:
            known = self.manifests.get(repo, {})
            missing = [d["digest"] for d in doc.get("manifests", []) if d.get("digest") not in known]
        else:
            linked = self.links.get(repo, set())
            refs = [doc.get("config") or {}, *doc.get("layers", [])]
            missing = [d.get("digest") for d in refs if d.get("digest") not in linked and not d.get("urls")]
        if missing:
            raise RegistryError(400, "MANIFEST_BLOB_UNKNOWN", f"{repo} does not have {missing[0]}")

    def delete_manifest(self, repo: str, digest: str) -> bool:
        with self._lock:
            if self.manifests.get(repo, {}).pop(digest, None) is None:
                return False
            tags = self.tags.get(repo, {})
            for tag in [t for t, d in tags.items() if d == digest]:
                del tags[tag]
            return True

    def referrers(self, repo: str, digest: str, artifact_type: str = "") -> bytes:
        """The image index of manifests whose ``subject`` is ``digest`` (§"Listing Referrers")."""
        out = []
        with self._lock:
            items = list(self.manifests.get(repo, {}).items())
        for d, (media, body) in items:
            doc = json.loads(body)
            if (doc.get("subject") or {}).get("digest") != digest:
                continue
            kind = doc.get("artifactType") or (doc.get("config") or {}).get("mediaType", "")
            if artifact_type and kind != artifact_type:
                continue
            desc = {"mediaType": media, "digest": d, "size": len(body), "artifactType": kind}
            if doc.get("annotations"):
                desc["annotations"] = doc["annotations"]
            out.append(desc)
        return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": out}).encode()
