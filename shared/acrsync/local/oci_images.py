"""Test images for the OCI stand-in: layers, image manifests, multi-arch indexes, cosign signatures and
OCI 1.1 referrers, written straight into a ``RegistryState`` (seeding is not what is under test).

Layer bytes are generated in chunks (a counter hashed with SHAKE), so a 500 MB layer never sits in memory.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from acrsync.domain.oci import DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST
from acrsync.local.oci_store import RegistryState

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
COSIGN_SIG = "application/vnd.dev.cosign.simplesigning.v1+json"
SBOM_TYPE = "application/spdx+json"


class PseudoRandom:
    """A readable stream of ``size`` deterministic bytes from ``seed`` (``read(n)`` like a file)."""

    def __init__(self, seed: str, size: int) -> None:
        self._seed, self._left, self._block = seed.encode(), size, 0

    def read(self, n: int) -> bytes:
        n = min(n, self._left)
        if n <= 0:
            return b""
        out = hashlib.shake_256(self._seed + self._block.to_bytes(8, "big")).digest(n)
        self._block += 1
        self._left -= n
        return out


@dataclass(frozen=True)
class Pushed:
    """A manifest written to the stand-in: its digest, media type and size (a descriptor's fields)."""

    digest: str
    media_type: str
    size: int

    def descriptor(self, **extra: object) -> dict[str, object]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size, **extra}


def put_layer(state: RegistryState, repo: str, seed: str, size: int) -> dict[str, object]:
    """Stream ``size`` pseudo-random bytes into ``repo`` as a blob; return its descriptor."""
    uid = state.start_upload(repo)
    hasher = hashlib.sha256()
    stream = PseudoRandom(seed, size)
    tee = _Tee(stream, hasher)
    state.append(uid, tee, size)  # type: ignore[arg-type]
    digest = state.commit(uid, "sha256:" + hasher.hexdigest())
    return {"mediaType": OCI_LAYER, "digest": digest, "size": size}


class _Tee:
    def __init__(self, stream: PseudoRandom, hasher: object) -> None:
        self._s, self._h = stream, hasher

    def read(self, n: int) -> bytes:
        chunk = self._s.read(n)
        self._h.update(chunk)  # type: ignore[attr-defined]
        return chunk


def put_manifest(state: RegistryState, repo: str, ref: str, doc: dict[str, object]) -> Pushed:
    """Write a manifest document (by tag, or by digest when ``ref`` is "")."""
    body = json.dumps(doc, separators=(",", ":")).encode()
    media = str(doc["mediaType"])
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    state.put_manifest(repo, ref or digest, media, body)
    return Pushed(digest, media, len(body))


def put_image(
    state: RegistryState,
    repo: str,
    tag: str,
    *,
    layer_sizes: tuple[int, ...] = (2048, 4096),
    seed: str = "",
    platform: str = "linux/amd64",
    docker: bool = False,
) -> Pushed:
    """An image manifest with a config and pseudo-random layers; tagged ``tag`` (or untagged if "")."""
    seed = seed or f"{repo}:{tag}:{platform}"
    os_, arch = platform.split("/")
    config = json.dumps(
        {"architecture": arch, "os": os_, "rootfs": {"type": "layers"}, "seed": seed}
    ).encode()
    config_digest = state.put_blob_bytes(repo, config)
    layers = [put_layer(state, repo, f"{seed}#{i}", size) for i, size in enumerate(layer_sizes)]
    if docker:
        for layer in layers:
            layer["mediaType"] = DOCKER_LAYER
    doc = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
        "config": {
            "mediaType": DOCKER_CONFIG if docker else OCI_CONFIG,
            "digest": config_digest,
            "size": len(config),
        },
        "layers": layers,
    }
    return put_manifest(state, repo, tag, doc)


def put_index(
    state: RegistryState,
    repo: str,
    tag: str,
    *,
    platforms: tuple[str, ...] = ("linux/amd64", "linux/arm64"),
    layer_sizes: tuple[int, ...] = (2048, 4096),
    docker: bool = False,
) -> Pushed:
    """A multi-arch index over one image per platform (children pushed untagged first)."""
    children = []
    for platform in platforms:
        child = put_image(
            state,
            repo,
            "",
            layer_sizes=layer_sizes,
            seed=f"{repo}:{tag}:{platform}",
            platform=platform,
            docker=docker,
        )
        os_, arch = platform.split("/")
        children.append(child.descriptor(platform={"os": os_, "architecture": arch}))
    doc = {"schemaVersion": 2, "mediaType": DOCKER_LIST if docker else OCI_INDEX, "manifests": children}
    return put_manifest(state, repo, tag, doc)


def put_cosign_signature(state: RegistryState, repo: str, subject: str, *, suffix: str = ".sig") -> Pushed:
    """What ``cosign sign`` pushes: a manifest tagged ``sha256-<hex>.sig`` whose layer is the payload."""
    payload = json.dumps({"critical": {"image": {"docker-manifest-digest": subject}}}).encode()
    layer = state.put_blob_bytes(repo, payload)
    config = state.put_blob_bytes(repo, b"{}")
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config, "size": 2},
        "layers": [
            {
                "mediaType": COSIGN_SIG,
                "digest": layer,
                "size": len(payload),
                "annotations": {"dev.cosignproject.cosign/signature": "MEUCIQ-standin"},
            }
        ],
    }
    return put_manifest(state, repo, subject.replace(":", "-") + suffix, doc)


def put_referrer(
    state: RegistryState, repo: str, subject: Pushed, *, artifact_type: str = SBOM_TYPE
) -> Pushed:
    """An OCI 1.1 artifact (e.g. an SBOM) whose ``subject`` is the image: no tag, found via referrers."""
    blob = json.dumps({"spdxVersion": "SPDX-2.3", "for": subject.digest}).encode()
    layer = state.put_blob_bytes(repo, blob)
    empty = state.put_blob_bytes(repo, b"{}")
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": artifact_type, "digest": layer, "size": len(blob)}],
        "subject": subject.descriptor(),
    }
    return put_manifest(state, repo, "", doc)
