"""A ``RegistryClient`` for unit tests that answers nothing: a fake overrides only what its test expects to be
asked, so any other call fails the test, naming the call."""

from __future__ import annotations

from collections.abc import Iterator

from acrsync.domain.oci import Descriptor, Manifest
from acrsync.ports import BlobReader, RegistryClient


class UnusedRegistry(RegistryClient):
    """Every call is a test error unless a subclass answers it."""

    host = "registry.invalid"

    def _unexpected(self, call: str) -> AssertionError:
        return AssertionError(f"{type(self).__name__}: {call} was not expected")

    def get_manifest(self, repo: str, reference: str) -> Manifest | None:
        raise self._unexpected(f"get_manifest {repo}:{reference}")

    def head_manifest(self, repo: str, reference: str) -> str | None:
        raise self._unexpected(f"head_manifest {repo}:{reference}")

    def put_manifest(self, repo: str, reference: str, manifest: Manifest) -> str:
        raise self._unexpected(f"put_manifest {repo}:{reference}")

    def delete_manifest(self, repo: str, digest: str) -> bool:
        raise self._unexpected(f"delete_manifest {repo}@{digest}")

    def blob_size(self, repo: str, digest: str) -> int | None:
        raise self._unexpected(f"blob_size {repo}@{digest}")

    def open_blob(self, repo: str, digest: str) -> BlobReader:
        raise self._unexpected(f"open_blob {repo}@{digest}")

    def upload_blob(self, repo: str, digest: str, size: int, chunks: Iterator[bytes]) -> None:
        raise self._unexpected(f"upload_blob {repo}@{digest}")

    def mount_blob(self, repo: str, digest: str, from_repo: str) -> bool:
        raise self._unexpected(f"mount_blob {repo}@{digest} from {from_repo}")

    def list_tags(self, repo: str, *, page_size: int = 100) -> Iterator[str]:
        raise self._unexpected(f"list_tags {repo}")

    def referrers(self, repo: str, digest: str) -> list[Descriptor]:
        raise self._unexpected(f"referrers {repo}@{digest}")
