"""Pure OCI values: challenges, Link headers, registry targets, companion tags, manifest references."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acrsync.domain.oci import (
    DOCKER_LIST,
    OCI_MANIFEST,
    Manifest,
    ManifestError,
    companion_subject,
    companion_tags,
    is_loopback,
    next_link,
    parse_challenge,
    parse_registry_target,
    references,
)

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def test_given_a_bearer_challenge_when_parsed_then_realm_service_and_scope_are_read() -> None:
    c = parse_challenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/alpine:pull,push"'
    )
    assert c.scheme == "bearer"
    assert c.params == {
        "realm": "https://auth.docker.io/token",
        "service": "registry.docker.io",
        "scope": "repository:library/alpine:pull,push",
    }
    assert parse_challenge('Basic realm="Harbor"').scheme == "basic"


def test_given_a_link_header_when_read_then_the_next_page_is_found() -> None:
    assert next_link('</v2/a/tags/list?n=2&last=b>; rel="next"') == "/v2/a/tags/list?n=2&last=b"
    assert next_link('</x>; rel="prev"') == ""
    assert next_link("") == ""


@pytest.mark.parametrize(
    ("text", "scheme", "host", "namespace"),
    [
        ("harbor.example.com/dr", "https", "harbor.example.com", "dr"),
        ("registry-1.docker.io", "https", "registry-1.docker.io", ""),
        ("http://127.0.0.1:5000/a/b", "http", "127.0.0.1:5000", "a/b"),
        ("https://reg.example.com:8443/x", "https", "reg.example.com:8443", "x"),
    ],
)
def test_given_a_registry_value_when_parsed_then_scheme_host_and_namespace_are_split(
    text: str, scheme: str, host: str, namespace: str
) -> None:
    target = parse_registry_target(text)
    assert (target.scheme, target.host, target.namespace) == (scheme, host, namespace)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("http://harbor.example.com/dr", "only for loopback"),
        ("ftp://x/y", "scheme"),
        ("harbor.example.com/Dr", "not a repository path"),
        ("/dr", "HOST"),
    ],
)
def test_given_a_bad_registry_value_when_parsed_then_the_message_says_what_is_wrong(
    text: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        parse_registry_target(text)


def test_given_hosts_when_checked_then_only_loopback_ones_are_loopback() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1:5000", "localhost", "[::1]:80", "::1", "127.1.2.3"))
    assert not any(is_loopback(h) for h in ("10.0.0.1", "harbor.example.com", "localhost.evil.com:80"))


@given(st.text(alphabet="0123456789abcdef", min_size=64, max_size=64))
def test_companion_tags_point_back_at_their_subject(hexpart: str) -> None:
    digest = f"sha256:{hexpart}"
    tags = companion_tags(digest)
    assert [t.rsplit(".", 1)[1] for t in tags] == ["sig", "att", "sbom"]
    assert all(companion_subject(t) == digest for t in tags)
    assert companion_subject("v1.2.3") == ""


def test_given_an_index_when_read_then_children_are_manifests_not_blobs() -> None:
    body = json.dumps({"mediaType": DOCKER_LIST, "manifests": [{"digest": D1, "size": 5}]}).encode()
    refs = references(Manifest(DOCKER_LIST, body, ""))
    assert [d.digest for d in refs.manifests] == [D1]
    assert refs.blobs == ()


def test_given_an_image_with_a_subject_when_read_then_config_layers_and_subject_are_found() -> None:
    doc = {
        "config": {"digest": D1, "size": 2},
        "layers": [{"digest": D2, "size": 9}],
        "subject": {"digest": D2, "size": 9, "mediaType": OCI_MANIFEST},
    }
    refs = references(Manifest(OCI_MANIFEST, json.dumps(doc).encode(), ""))
    assert [d.digest for d in refs.blobs] == [D1, D2]
    assert refs.subject is not None
    assert refs.subject.digest == D2


@pytest.mark.parametrize(
    "doc",
    [{"config": {"digest": "md5:x", "size": 1}}, {"config": {"digest": D1, "size": -1}}, {"config": "x"}],
)
def test_given_a_malformed_manifest_when_read_then_manifest_error_names_the_field(doc: object) -> None:
    with pytest.raises(ManifestError, match="config"):
        references(Manifest(OCI_MANIFEST, json.dumps(doc).encode(), ""))


@given(st.text(max_size=200))
def test_parsers_never_crash_on_arbitrary_headers_and_values(text: str) -> None:
    challenge = parse_challenge(text)  # a header from a stranger's registry: never an exception
    assert challenge.scheme == challenge.scheme.lower()
    assert isinstance(next_link(text), str)
    problem = ""
    try:
        target = parse_registry_target(text)
    except ValueError as exc:
        problem = str(exc)
        assert problem  # a refusal always says why
    else:
        assert target.scheme in ("http", "https")
        assert target.scheme == "https" or is_loopback(target.host)


@given(st.binary(max_size=300))
def test_manifest_reading_refuses_garbage_with_manifest_error_only(body: bytes) -> None:
    try:
        refs = references(Manifest(OCI_MANIFEST, body, ""))
    except ManifestError as exc:
        assert str(exc)  # noqa: PT017 - says what is wrong
    else:
        assert all(d.digest.startswith("sha256:") and d.size >= 0 for d in (*refs.blobs, *refs.manifests))
