"""OCI distribution values: media types, digests, descriptors, challenges, registry targets. Pure.

References (cited where used):
- distribution-spec v1.1 (https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md)
- image-spec v1.1 manifest/index (https://github.com/opencontainers/image-spec/blob/v1.1.0/manifest.md)
- Docker token auth (https://distribution.github.io/distribution/spec/auth/token/) and RFC 6750 §3
- cosign's tag scheme ``sha256-<hex>.sig/.att/.sbom`` (sigstore/cosign pkg/oci/remote ``SignatureTag``)
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from typing import Any

from acrsync.domain.images import DIGEST_RE

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
IMAGE_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
MANIFEST_TYPES = INDEX_TYPES | IMAGE_TYPES
# What a client sends in Accept when it fetches a manifest (spec "Pulling manifests").
ACCEPT_MANIFESTS = ", ".join(sorted(MANIFEST_TYPES))
# Cosign's companion tags for an image digest: signature, attestation, SBOM.
COMPANION_SUFFIXES = (".sig", ".att", ".sbom")
_COMPANION_RE = re.compile(r"^sha256-([0-9a-f]{64})\.(sig|att|sbom)\Z")
# Repository names per the spec's <name> grammar ("Pulling manifests": [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
# separated by '/').
REPO_NAME_RE = re.compile(
    r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*\Z"
)
# Tags per the spec's <reference> grammar.
OCI_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}\Z")
_MAX_HOST_CHARS = 253 + 6  # a DNS name (RFC 1035) and ":PORT"
_HOST_RE = re.compile(r"^(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::[0-9]{1,5})?\Z")


class ManifestError(ValueError):
    """A manifest that cannot be read as an image manifest or index."""


@dataclass(frozen=True, slots=True)
class Descriptor:
    """A content descriptor (image-spec descriptor.md): what is referenced, how big, which digest."""

    media_type: str
    digest: str
    size: int
    artifact_type: str = ""
    urls: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Manifest:
    """A manifest as fetched: its bytes are what the digest covers, so they are kept verbatim."""

    media_type: str
    body: bytes
    digest: str

    @property
    def is_index(self) -> bool:
        """An image index / manifest list: its children are manifests, not blobs."""
        return self.media_type in INDEX_TYPES


@dataclass(frozen=True, slots=True)
class ManifestRefs:
    """What one manifest references: child manifests (index) or blobs (config + layers), and its subject."""

    manifests: tuple[Descriptor, ...] = ()
    blobs: tuple[Descriptor, ...] = ()
    subject: Descriptor | None = None


def is_digest(text: str) -> bool:
    """True for ``sha256:<64 hex>`` (the only algorithm acr-sync copies)."""
    return bool(DIGEST_RE.match(text))


def _descriptor(raw: object, where: str) -> Descriptor:
    if not isinstance(raw, dict):
        raise ManifestError(f"{where}: a descriptor must be an object")
    digest, size, media = raw.get("digest"), raw.get("size"), raw.get("mediaType", "")
    if not isinstance(digest, str) or not is_digest(digest):
        raise ManifestError(f"{where}.digest: {digest!r} is not a sha256 digest")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestError(f"{where}.size: {size!r} is not a size")
    urls = raw.get("urls") or ()
    return Descriptor(
        media_type=str(media),
        digest=digest,
        size=size,
        artifact_type=str(raw.get("artifactType", "")),
        urls=tuple(str(u) for u in urls) if isinstance(urls, list) else (),
    )


def media_type_of(body: bytes, declared: str = "") -> str:
    """The manifest's media type: the ``mediaType`` field, else the declared Content-Type.

    OCI manifests may omit ``mediaType`` (image-spec manifest.md: SHOULD be used), so fall back to the
    header and finally to the shape (``manifests`` means an index).
    """
    doc = _json(body)
    mt = doc.get("mediaType")
    if isinstance(mt, str) and mt in MANIFEST_TYPES:
        return mt
    if declared.split(";", maxsplit=1)[0].strip() in MANIFEST_TYPES:
        return declared.split(";", maxsplit=1)[0].strip()
    return OCI_INDEX if "manifests" in doc else OCI_MANIFEST


def _json(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(f"manifest is not JSON: {exc}") from None
    except RecursionError:  # a registry's answer is untrusted bytes: nesting is refused like bad JSON
        raise ManifestError("manifest is not JSON: nested too deep") from None
    if not isinstance(doc, dict):
        raise ManifestError("manifest is not a JSON object")
    return doc


def references(manifest: Manifest) -> ManifestRefs:
    """The children of an index, or the config and layers of an image manifest, plus any ``subject``."""
    doc = _json(manifest.body)
    subject = _descriptor(doc["subject"], "subject") if isinstance(doc.get("subject"), dict) else None
    if manifest.is_index:
        raw = doc.get("manifests")
        if not isinstance(raw, list):
            raise ManifestError("index.manifests must be a list")
        children = tuple(_descriptor(d, f"manifests[{i}]") for i, d in enumerate(raw))
        return ManifestRefs(manifests=children, subject=subject)
    config = _descriptor(doc.get("config"), "config")
    layers = doc.get("layers", [])
    if not isinstance(layers, list):
        raise ManifestError("manifest.layers must be a list")
    blobs = (config, *(_descriptor(d, f"layers[{i}]") for i, d in enumerate(layers)))
    return ManifestRefs(blobs=blobs, subject=subject)


def companion_tags(digest: str) -> tuple[str, ...]:
    """Cosign's tags for an image digest: ``sha256-<hex>.sig``, ``.att``, ``.sbom``."""
    algo, _, hexpart = digest.partition(":")
    return tuple(f"{algo}-{hexpart}{suffix}" for suffix in COMPANION_SUFFIXES)


def companion_subject(tag: str) -> str:
    """The subject digest a cosign companion tag points at (``sha256:<hex>``), or "" for other tags."""
    m = _COMPANION_RE.match(tag)
    return f"sha256:{m.group(1)}" if m else ""


@dataclass(frozen=True, slots=True)
class Challenge:
    """A parsed ``WWW-Authenticate`` challenge (RFC 7235 §4.1; Bearer params per RFC 6750 §3)."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)


_PARAM_RE = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')


def parse_challenge(header: str) -> Challenge:
    """``Bearer realm="https://auth/token",service="reg",scope="repository:a/b:pull"`` -> Challenge."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    for m in _PARAM_RE.finditer(rest):
        value = m.group(2) if m.group(2) is not None else m.group(3)
        params[m.group(1).lower()] = re.sub(r"\\(.)", r"\1", value)
    return Challenge(scheme=scheme.lower(), params=params)


def next_link(header: str) -> str:
    """The target of ``Link: <url>; rel="next"`` (RFC 5988, spec "Listing Tags"), or ""."""
    for part in header.split(","):
        m = re.match(r'\s*<([^>]*)>\s*;\s*rel="?next"?', part)
        if m:
            return m.group(1)
    return ""


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (with or without a port): the only plain-http hosts."""
    if host.startswith("["):
        name = host[1 : host.find("]")]
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class RegistryTarget:
    """``[http://]HOST[:PORT][/NAMESPACE]`` from a rules file: where copies go, with which scheme."""

    scheme: str
    host: str
    namespace: str = ""

    @property
    def base_url(self) -> str:
        """``https://host[:port]`` (``http://`` only for loopback)."""
        return f"{self.scheme}://{self.host}"

    def repository(self, repo_path: str) -> str:
        """The repository under this target's namespace."""
        return f"{self.namespace}/{repo_path}" if self.namespace else repo_path


def parse_registry_target(text: str) -> RegistryTarget:
    """Parse a ``registry:`` value; ``ValueError`` saying what is wrong and what is expected."""
    scheme, rest = "https", text.strip()
    if "://" in rest:
        scheme, _, rest = rest.partition("://")
        if scheme not in ("http", "https"):
            raise ValueError(f"{text[:80]!r}: the scheme must be https:// (or http:// for a loopback host)")
    host, _, namespace = rest.partition("/")
    namespace = namespace.strip("/")
    if "@" in host:  # never echoed: it is USER:PASSWORD@HOST
        raise ValueError(
            "credentials do not belong in registry: (HOST[:PORT][/NAMESPACE]); "
            "put USERNAME:PASSWORD in an ACRSYNC_REGISTRY_* variable and name it in credentials_env"
        )
    port = host.rsplit("]", 1)[-1].partition(":")[2]
    if port.isdigit() and not 0 < int(port) < 65536:
        raise ValueError(f"{text[:80]!r}: the port must be 1-65535")
    if len(host) > _MAX_HOST_CHARS or not _HOST_RE.match(host):
        raise ValueError(f"{text[:80]!r}: expected HOST[:PORT][/NAMESPACE], e.g. harbor.example.com/dr")
    if namespace and not REPO_NAME_RE.match(namespace):
        raise ValueError(
            f"{text[:80]!r}: {namespace[:80]!r} is not a repository path (lowercase, '/'-separated)"
        )
    if scheme == "http" and not is_loopback(host):
        raise ValueError(f"{text[:80]!r}: plain http:// is allowed only for loopback hosts; use https://")
    return RegistryTarget(scheme=scheme, host=host, namespace=namespace)
