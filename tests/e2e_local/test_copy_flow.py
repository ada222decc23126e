"""Copy destinations end to end: push event -> replicator handler -> copier -> "Harbor" stand-in -> watcher.

The source instance's registry is an OCI stand-in reached the way the cloud does it: the real ACR SDK asks
the emulator ``ListInstanceEndpoint`` and ``GetAuthorizationToken``; the destination's password comes from
the variable ``credentials_env`` names.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from acrsync import bootstrap
from acrsync.domain.ledger import State
from acrsync.domain.oci import OCI_INDEX
from acrsync.domain.rules_schema import validate_document
from acrsync.local import fc
from acrsync.local.acr_model import AcrModel
from acrsync.local.acr_registry_actions import attach_registry
from acrsync.local.oci_images import put_cosign_signature, put_index, put_referrer
from acrsync.local.oci_registry import OciRegistry
from acrsync.local.oci_store import Fault
from acrsync.local.stack import ACCOUNT_ID, SOURCE, LocalCloud
from acrsync.service import rules_admin
from acrsync.service.clock import ManualClock
from tests.fixtures import load_event

pytestmark = pytest.mark.loopback
HARBOR_USER, HARBOR_PW = "robot$dr", "harbor-Planted-Secret-77"
CRED_ENV = "ACRSYNC_REGISTRY_HARBOR"


class World:
    def __init__(
        self, cloud: LocalCloud, source: OciRegistry, harbor: OciRegistry, clock: ManualClock
    ) -> None:
        self.cloud, self.source, self.harbor, self.clock = cloud, source, harbor, clock
        self.env = {**cloud.env, CRED_ENV: f"{HARBOR_USER}:{HARBOR_PW}"}

    def push(self, tag: str, *, signed: bool = True) -> tuple[bytes, str]:
        """An index in the source registry (and its tag in the ACR model), and its push event."""
        index = put_index(self.source.state, "team-a/web", tag, layer_sizes=(5000, 1_200_000))
        if signed:
            put_cosign_signature(self.source.state, "team-a/web", index.digest)
            put_referrer(self.source.state, "team-a/web", index)
        self.cloud.model.push(SOURCE[0], "team-a", "web", tag, index.digest)
        doc = json.loads(load_event("acs.cr/push_completed.json"))
        doc["data"].update(Tag=tag, Digest=index.digest, RepoId="")
        doc["id"] = f"evt-{tag}"
        return json.dumps(doc).encode(), index.digest

    def rows(self) -> list[Any]:
        return list(bootstrap.stores().ledger.scan())

    def tick(self) -> dict[str, Any]:
        return fc.invoke("watcher", load_event("timer/sweep.json"), self.env)


def _rules(harbor: OciRegistry, credentials_env: str = CRED_ENV) -> dict[str, Any]:
    return {
        "version": 1,
        "channels": {
            "ops": {
                "dingtalk": {
                    "webhook_env": "ACRSYNC_DINGTALK_WEBHOOK",
                    "secret_env": "ACRSYNC_DINGTALK_SECRET",
                }
            }
        },
        "rules": [
            {
                "name": "dr-to-harbor",
                "alert": "ops",
                "source": {"instance": SOURCE[0], "repositories": ["team-a/*"]},
                "destinations": [{"registry": f"{harbor.url}/dr", "credentials_env": credentials_env}],
            }
        ],
    }


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = ManualClock(start=time.time())
    model = AcrModel(account_id=ACCOUNT_ID, clock=clock.now)
    with (
        LocalCloud(tmp_path, model=model) as cloud,
        OciRegistry(users={}) as source,
        OciRegistry(users={HARBOR_USER: HARBOR_PW}, projects={"dr"}) as harbor,
    ):
        attach_registry(cloud.model, SOURCE[0], source)
        w = World(cloud, source, harbor, clock)
        bootstrap.reset(w.env)
        bootstrap.use(clock=clock)
        doc = validate_document(_rules(harbor))
        rules_admin.apply(bootstrap.stores().rules, doc, prune=True, dry_run=False, now=clock.now())
        yield w
        bootstrap.reset()


def test_given_a_signed_multi_arch_push_when_replicated_then_it_is_copied_verified_with_companions(
    world: World,
) -> None:
    event, digest = world.push("v1.0.0")
    response = fc.invoke("replicator", event, world.env)
    assert [r["outcome"] for r in response["results"]] == ["submitted"]
    (row,) = world.rows()
    assert row.state is State.VERIFIED
    assert row.extra["verified_digest"] == digest
    tags = world.harbor.state.tags["dr/team-a/web"]
    assert tags["v1.0.0"] == digest
    assert tags[digest.replace(":", "-") + ".sig"]
    # the tagless SBOM referrer arrived too (OCI 1.1 referrers API at the destination)
    referrers = json.loads(world.harbor.state.referrers("dr/team-a/web", digest))["manifests"]
    assert len(referrers) == 1
    # the source was reached the cloud's way: endpoint and temporary password from the ACR API
    actions = [r.action for r in world.cloud.model.requests]
    assert "ListInstanceEndpoint" in actions
    assert "GetAuthorizationToken" in actions
    assert "CreateRepoSyncTask" not in actions


def test_given_twenty_concurrent_deliveries_when_handled_then_one_copy_runs(world: World) -> None:
    event, _digest = world.push("v2.0.0", signed=False)
    outcomes: list[str] = []

    def deliver() -> None:
        outcomes.extend(r["outcome"] for r in fc.invoke("replicator", event, world.env)["results"])

    threads = [threading.Thread(target=deliver) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(outcomes)) == ["duplicate", "submitted"]
    assert outcomes.count("submitted") == 1
    tag_puts = [
        e for e in world.harbor.state.log if e.method == "PUT" and e.path.endswith("/manifests/v2.0.0")
    ]
    assert len([e for e in tag_puts if e.status == 201]) == 1


def test_given_a_wrong_password_when_copied_then_the_row_fails_and_one_alert_names_it(world: World) -> None:
    world.env[CRED_ENV] = f"{HARBOR_USER}:wrong-Password-Planted-13"
    bootstrap.reset(world.env)
    bootstrap.use(clock=world.clock)
    event, _ = world.push("v3.0.0", signed=False)
    fc.invoke("replicator", event, world.env)
    (row,) = world.rows()
    assert row.state is State.FAILED
    assert row.error_class == "copy_rejected"
    assert "credentials_env" in row.last_error
    world.clock.advance(61)  # the alert window closes
    world.tick()
    messages = world.cloud.sink.messages
    assert len(messages) == 1
    text = json.dumps(messages[0].body, ensure_ascii=False)
    assert "dr-to-harbor" in text
    assert "wrong-Password-Planted-13" not in text
    assert HARBOR_PW not in text


def test_given_a_429_storm_when_copied_then_retried_with_backoff_then_failed_and_alerted(
    world: World,
) -> None:
    # Retry-After: 0 keeps the test fast; the client still retries each request 4 times before giving up.
    world.harbor.state.faults.append(Fault("*", "/v2/dr/", 429, times=10_000, retry_after=0))
    event, _ = world.push("v4.0.0", signed=False)
    fc.invoke("replicator", event, world.env)
    (row,) = world.rows()
    assert row.state is State.RETRYING
    assert row.error_class == "copy_transient"
    for _ in range(3):  # the watcher re-launches each due retry until the attempts run out
        world.clock.advance(901)
        world.tick()
    (row,) = world.rows()
    assert row.state is State.FAILED
    assert row.error_class == "copy_unavailable"
    assert row.attempts == row.max_attempts
    world.clock.advance(61)  # the alert window closes
    world.tick()
    assert len(world.cloud.sink.messages) == 1


def test_given_a_missing_destination_project_when_copied_then_failed_with_the_registry_reason(
    world: World,
) -> None:
    doc = _rules(world.harbor)
    doc["rules"][0]["destinations"][0]["registry"] = f"{world.harbor.url}/nope"
    rules_admin.apply(
        bootstrap.stores().rules, validate_document(doc), prune=True, dry_run=False, now=world.clock.now()
    )
    bootstrap.reset(world.env)
    bootstrap.use(clock=world.clock)
    event, _ = world.push("v5.0.0", signed=False)
    fc.invoke("replicator", event, world.env)
    (row,) = world.rows()
    assert row.state is State.FAILED
    assert "NAME_UNKNOWN" in row.last_error


def test_rules_file_yaml_with_a_registry_destination_validates(world: World) -> None:
    text = yaml.safe_dump(_rules(world.harbor))
    assert validate_document(yaml.safe_load(text)).rules[0]["destinations"][0]["companions"] is True


def _companion_event(world: World, subject: str) -> tuple[bytes, str]:
    """cosign signs after the push: the signature tag is pushed to the source, and its event arrives."""
    sig = put_cosign_signature(world.source.state, "team-a/web", subject)
    tag = subject.replace(":", "-") + ".sig"
    world.cloud.model.push(SOURCE[0], "team-a", "web", tag, sig.digest)
    doc = json.loads(load_event("acs.cr/push_completed.json"))
    doc["data"].update(Tag=tag, Digest=sig.digest, RepoId="")
    doc["id"] = f"evt-{tag}"
    return json.dumps(doc).encode(), tag


def test_given_a_signature_pushed_after_its_image_was_copied_when_its_event_arrives_then_it_follows(
    world: World,
) -> None:
    event, digest = world.push("v6.0.0", signed=False)
    fc.invoke("replicator", event, world.env)
    sig_event, sig_tag = _companion_event(world, digest)
    response = fc.invoke("replicator", sig_event, world.env)
    assert [r["outcome"] for r in response["results"]] == ["submitted"]
    assert sig_tag in world.harbor.state.tags["dr/team-a/web"]
    assert {r.state for r in world.rows()} == {State.VERIFIED}


def test_given_a_signature_whose_image_went_nowhere_when_its_event_arrives_then_it_is_ignored(
    world: World,
) -> None:
    index = put_index(world.source.state, "team-a/web", "", layer_sizes=(100,))  # never pushed as a tag
    sig_event, _ = _companion_event(world, index.digest)
    response = fc.invoke("replicator", sig_event, world.env)
    assert response["results"] == []
    assert world.rows() == []
    assert "dr/team-a/web" not in world.harbor.state.tags


def test_given_an_image_pushed_before_the_rule_when_backfilled_then_it_is_copied(world: World) -> None:
    from acrsync.service import backfill

    _event, digest = world.push("v7.0.0", signed=False)  # no event: it predates the rule
    report = backfill.run(bootstrap.backfill_deps(), repository="team-a/*")
    assert report.actions.get("submitted") == 1
    assert world.harbor.state.tags["dr/team-a/web"]["v7.0.0"] == digest
    again = backfill.run(bootstrap.backfill_deps(), repository="team-a/*")
    assert again.actions.get("duplicate") == 1


def test_given_registry_passwords_when_copies_run_and_fail_then_no_log_line_carries_them(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    bootstrap.reset({**world.env, "ACRSYNC_LOG_LEVEL": "DEBUG"})
    event, _ = world.push("v8.0.0")
    fc.invoke("replicator", event, world.env)
    world.harbor.users[HARBOR_USER] = "rotated"  # the next copy is refused: error paths log too
    issued = list(world.harbor.tokens)
    world.harbor.tokens.clear()  # tokens issued before the rotation are revoked
    event, _ = world.push("v8.0.1", signed=False)
    fc.invoke("replicator", event, world.env)
    temp_password = world.source.users["cr_temp_user"]  # GetAuthorizationToken's, for the source registry
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "copy_failed" in text  # the failure was logged...
    assert HARBOR_PW not in text  # ...without the destination password
    assert temp_password not in text  # nor the source's temporary one
    tokens = issued + list(world.source.tokens)
    assert tokens
    assert not any(t in text for t in tokens)  # nor any bearer token


def test_given_copy_destinations_when_doctor_runs_then_it_checks_each_registrys_credentials(
    world: World,
) -> None:
    from acrsync.service.doctor import run_checks

    checks = {c.name: c for c in run_checks(bootstrap.doctor_deps())}
    check = checks[f"registry {world.harbor.url}/dr"]
    assert check.status == "PASS"
    assert not any(name.startswith("destination region") for name in checks)  # a registry has no region
    bootstrap.reset({**world.env, CRED_ENV: f"{HARBOR_USER}:wrong-Planted-5"})
    check = {c.name: c for c in run_checks(bootstrap.doctor_deps())}[f"registry {world.harbor.url}/dr"]
    assert check.status == "FAIL"
    assert CRED_ENV in check.fix
    assert "wrong-Planted-5" not in check.detail + check.fix


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deep"),
        (b"not json", "not JSON"),
        (
            b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"digest":"x"}]}',
            "is not a sha256 digest",
        ),
    ],
    ids=["nested past the recursion limit", "not JSON", "a bad descriptor"],
)
def test_given_a_source_manifest_that_cannot_be_read_when_copied_then_the_row_fails_with_why(
    world: World, body: bytes, needle: str
) -> None:
    # GIVEN the source registry serves, for a pushed tag, a manifest nested 100,000 deep, not JSON, or
    # with a descriptor that is not one
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    world.source.state.manifests.setdefault("team-a/web", {})[digest] = (OCI_INDEX, body)
    world.source.state.tags.setdefault("team-a/web", {})["v9.9.9"] = digest
    world.cloud.model.push(SOURCE[0], "team-a", "web", "v9.9.9", digest)
    doc = json.loads(load_event("acs.cr/push_completed.json"))
    doc["data"].update(Tag="v9.9.9", Digest=digest, RepoId="")
    doc["id"] = "evt-unreadable"
    # WHEN the push is replicated (the copier runs in-process here) THEN nothing raises out of a handler
    response = fc.invoke("replicator", json.dumps(doc).encode(), world.env)
    assert response["status"] == "ok"
    # AND the row failed for good, saying why (the same bytes would fail every attempt), to be alerted
    (row,) = world.rows()
    assert row.state is State.FAILED
    assert row.error_class == "copy_rejected"
    assert "unreadable manifest" in row.last_error
    assert needle in row.last_error


def test_given_a_companion_whose_image_went_nowhere_then_the_readme_log_line_says_so(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    # README "Companions": "ignored with the log line companion_subject_not_replicated" (the review's check)
    bootstrap.reset({**world.env, "ACRSYNC_LOG_LEVEL": "DEBUG"})  # the stack logs at WARNING
    bootstrap.use(clock=world.clock)
    index = put_index(world.source.state, "team-a/web", "", layer_sizes=(100,))
    sig_event, _tag = _companion_event(world, index.digest)
    assert fc.invoke("replicator", sig_event, world.env)["results"] == []
    text = "".join(capsys.readouterr())
    line = next(ln for ln in text.splitlines() if "companion_subject_not_replicated" in ln)
    assert index.digest in line
