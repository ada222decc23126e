"""What an emulated sync task does to the instances' registries: the image arrives in the destination's.

ACR's instance replication copies the *image* into the destination instance, not only a tag record: after
a ``CreateRepoSyncTask`` ends in ``SUCCESS`` the destination's ``GetRepoTag`` reads the source digest and
the destination's registry serves that manifest (reference §2.3-2.4: the task "synchronizes the image"
to the target instance/namespace/repository/tag). When both instances have a registry stand-in attached
(``acr_registry_actions.attach_registry``), the sync engine calls ``copy_image`` so the two agree; a task
whose source image exists only as an OpenAPI tag record (most emulator tests seed tags, not content)
copies nothing, as before.

Content moves the way a registry stores it (OCI distribution-spec v1.1, §"Pushing blobs" and §"Pushing
Manifests"): every blob an image manifest references (config and layers), then each child manifest of an
index by digest, then the manifest under the tag — so the destination never holds a manifest whose
references it lacks. Only the tagged image travels: ACR's sync carries no referrers (issue 14).
"""

from __future__ import annotations

import io
import json
from typing import Any

from acrsync.domain.oci import INDEX_TYPES
from acrsync.local.oci_store import RegistryState


def copy_image(source: Any, src_repo: str, destination: Any, dst_repo: str, *, tag: str, digest: str) -> bool:
    """Copy ``src_repo@digest`` from one registry stand-in into ``dst_repo:tag`` of another; False when the
    source registry does not hold that manifest (a tag record only: nothing to copy)."""
    copied = _copy_manifest(source.state, src_repo, destination.state, dst_repo, digest)
    if copied is None:
        return False
    destination.state.put_manifest(dst_repo, tag, *copied)
    return True


def _copy_manifest(
    src: RegistryState, src_repo: str, dst: RegistryState, dst_repo: str, digest: str
) -> tuple[str, bytes] | None:
    """Copy one manifest by digest (its blobs or children first); its (media type, body), or None."""
    hit = src.get_manifest(src_repo, digest)
    if hit is None:  # a child the source lacks: the index's put_manifest refuses it, as a registry would
        return None
    media, body, _ = hit
    doc = json.loads(body)
    if media in INDEX_TYPES:
        for child in doc.get("manifests", []):
            _copy_manifest(src, src_repo, dst, dst_repo, str(child.get("digest", "")))
    else:
        for blob in [doc.get("config") or {}, *doc.get("layers", [])]:
            _copy_blob(src, src_repo, dst, dst_repo, str(blob.get("digest", "")))
    dst.put_manifest(dst_repo, digest, media, body)
    return media, body


def _copy_blob(src: RegistryState, src_repo: str, dst: RegistryState, dst_repo: str, digest: str) -> None:
    if dst.blob_size(dst_repo, digest) is not None or src.blob_size(src_repo, digest) is None:
        return  # already there, or foreign (``urls``): put_manifest decides
    uid = dst.start_upload(dst_repo)
    for chunk in src.read_blob(digest):  # streamed chunk by chunk, as the stand-in streams uploads
        dst.append(uid, io.BytesIO(chunk), len(chunk))
    dst.commit(uid, digest)
