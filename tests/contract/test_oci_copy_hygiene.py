"""A copy that stops early (the source has no such manifest) leaves no connection open behind it."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Iterator

import pytest

from acrsync.adapters.oci_http import RegistryCredentials
from acrsync.adapters.oci_registry import HttpRegistryClient
from acrsync.errors import UpstreamRejected
from acrsync.local.oci_registry import OciRegistry
from acrsync.service.copy import Place, copy_image

pytestmark = pytest.mark.loopback


@pytest.fixture
def registries() -> Iterator[tuple[OciRegistry, OciRegistry]]:
    with (
        OciRegistry(users={"puller": "src-Planted-pw-5"}) as source,
        OciRegistry(users={"robot$dr": "dst-Planted-pw-6"}, projects={"dr"}) as harbor,
    ):
        yield source, harbor


def test_given_a_missing_source_tag_when_the_copy_is_refused_then_no_socket_is_left_unclosed(
    registries: tuple[OciRegistry, OciRegistry],
) -> None:
    source, harbor = registries
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)  # CPython warns when it collects an open socket
        src = HttpRegistryClient(source.url, credentials=RegistryCredentials("puller", "src-Planted-pw-5"))
        dst = HttpRegistryClient(harbor.url, credentials=RegistryCredentials("robot$dr", "dst-Planted-pw-6"))
        # WHEN the source has no such tag: refused, before anything is sent to the destination
        with pytest.raises(UpstreamRejected, match="not found at the source"):
            copy_image(Place(src, "team-a/web"), "v404", Place(dst, "dr/web"), "v404")
        assert not [e for e in harbor.state.log if e.method != "GET"]
        # THEN closing the clients closes every connection they opened: none is left for the collector
        src.close()
        dst.close()
        del src, dst
        gc.collect()
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaks == []
